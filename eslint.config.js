import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "**/*.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: [
                "node:dgram",
                "node:fs",
                "node:fs/*",
                "node:net",
                "node:timers",
                "node:timers/*",
                "node:child_process",
                "node:http",
                "node:https",
              ],
              message: "src/core is sans-IO: no sockets, timers or files.",
            },
            {
              group: ["../io/*", "../../io/*", "../server/*", "../../server/*", "../sim/*", "../../sim/*"],
              message: "src/core depends on nothing above it.",
            },
          ],
        },
      ],
      "no-restricted-globals": ["error", "setTimeout", "setInterval", "setImmediate", "Date"],
    },
  },
);
