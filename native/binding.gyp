{
  "targets": [
    {
      "target_name": "slipstream_native",
      "sources": ["slipstream_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
