/*
 * Two per-datagram hot spots of the data path, as one small N-API addon:
 *
 *  - AEAD seal/open on a reusable OpenSSL context. node:crypto must build a new Cipheriv per
 *    packet (it cannot be given a new IV), which costs several µs of a 1400-byte datagram's
 *    budget; here the key schedule is set up once per key and each packet only sets its nonce.
 *    The OpenSSL used is Node's own (its symbols are exported by the node binary), so the bytes
 *    are those node:crypto produces.
 *  - sendmmsg(2) and UDP GSO on a connected UDP socket: one system call for a batch of
 *    datagrams, where dgram.send makes one call (and one JavaScript request object) per datagram.
 *  - CRC-32C of unencrypted datagrams with the SSE4.2 instruction where the CPU has it.
 *
 * Every entry point validates its arguments and reports failure by return value; nothing here
 * keeps a pointer into a JavaScript buffer beyond the call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define TAG_SIZE 16
#define NONCE_SIZE 12
#define KEY_SIZE 32
#define MAX_BATCH 256

typedef struct {
  EVP_CIPHER_CTX* enc;
  EVP_CIPHER_CTX* dec;
} aead_key;

static napi_value throw_type(napi_env env, const char* message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static int get_bytes(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  size_t count;
  void* base;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, &count, &base, &buffer, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = base;
  *length = count;
  return 1;
}

static int get_u32(napi_env env, napi_value value, uint32_t* out) {
  return napi_get_value_uint32(env, value, out) == napi_ok;
}

static void aead_free(aead_key* key) {
  if (key->enc) EVP_CIPHER_CTX_free(key->enc);
  if (key->dec) EVP_CIPHER_CTX_free(key->dec);
  free(key);
}

static void aead_finalize(napi_env env, void* data, void* hint) { aead_free(data); }

static aead_key* get_key(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  void* data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return data;
}

/* aeadCreate(cipher: 0 = aes-256-gcm | 1 = chacha20-poly1305, key: Uint8Array(32)) -> external */
static napi_value aead_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t cipher_id;
  uint8_t* raw;
  size_t raw_length;
  if (argc < 2 || !get_u32(env, argv[0], &cipher_id) || cipher_id > 1) return throw_type(env, "cipher must be 0 or 1");
  if (!get_bytes(env, argv[1], &raw, &raw_length) || raw_length != KEY_SIZE)
    return throw_type(env, "key must be a 32-byte Uint8Array");
  const EVP_CIPHER* cipher = cipher_id == 0 ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
  aead_key* key = calloc(1, sizeof(aead_key));
  if (!key) return throw_type(env, "out of memory");
  key->enc = EVP_CIPHER_CTX_new();
  key->dec = EVP_CIPHER_CTX_new();
  if (!key->enc || !key->dec || EVP_EncryptInit_ex(key->enc, cipher, NULL, raw, NULL) != 1 ||
      EVP_DecryptInit_ex(key->dec, cipher, NULL, raw, NULL) != 1) {
    aead_free(key);
    napi_throw_error(env, NULL, "OpenSSL refused the cipher");
    return NULL;
  }
  napi_value result;
  if (napi_create_external(env, key, aead_finalize, NULL, &result) != napi_ok) {
    aead_free(key);
    return NULL;
  }
  return result;
}

/* aeadSeal(key, buf, headerSize, payloadEnd, nonce) -> boolean; in place, tag at payloadEnd */
static napi_value aead_seal(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  aead_key* key = argc == 5 ? get_key(env, argv[0]) : NULL;
  uint8_t *buf, *nonce;
  size_t length, nonce_length;
  uint32_t header_size, payload_end;
  if (!key || !get_bytes(env, argv[1], &buf, &length) || !get_u32(env, argv[2], &header_size) ||
      !get_u32(env, argv[3], &payload_end) || !get_bytes(env, argv[4], &nonce, &nonce_length))
    return throw_type(env, "aeadSeal(key, buf, headerSize, payloadEnd, nonce)");
  if (nonce_length != NONCE_SIZE || header_size > payload_end || (size_t)payload_end + TAG_SIZE > length)
    return throw_type(env, "aeadSeal: bad lengths");
  EVP_CIPHER_CTX* ctx = key->enc;
  int out = 0;
  int ok = EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
           EVP_EncryptUpdate(ctx, NULL, &out, buf, (int)header_size) == 1 &&
           EVP_EncryptUpdate(ctx, buf + header_size, &out, buf + header_size, (int)(payload_end - header_size)) == 1 &&
           EVP_EncryptFinal_ex(ctx, buf + payload_end, &out) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_SIZE, buf + payload_end) == 1;
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

/* aeadOpen(key, buf, headerSize, nonce, out) -> boolean; plaintext of buf[headerSize, len-16) into out */
static napi_value aead_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  aead_key* key = argc == 5 ? get_key(env, argv[0]) : NULL;
  uint8_t *buf, *nonce, *plain;
  size_t length, nonce_length, plain_length;
  uint32_t header_size;
  if (!key || !get_bytes(env, argv[1], &buf, &length) || !get_u32(env, argv[2], &header_size) ||
      !get_bytes(env, argv[3], &nonce, &nonce_length) || !get_bytes(env, argv[4], &plain, &plain_length))
    return throw_type(env, "aeadOpen(key, buf, headerSize, nonce, out)");
  napi_value result;
  if (nonce_length != NONCE_SIZE || (size_t)header_size + TAG_SIZE > length ||
      plain_length < length - TAG_SIZE - header_size) {
    napi_get_boolean(env, false, &result);
    return result;
  }
  size_t body = length - TAG_SIZE - header_size;
  uint8_t tag[TAG_SIZE];
  memcpy(tag, buf + length - TAG_SIZE, TAG_SIZE);
  EVP_CIPHER_CTX* ctx = key->dec;
  int out = 0;
  int ok = EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
           EVP_DecryptUpdate(ctx, NULL, &out, buf, (int)header_size) == 1 &&
           EVP_DecryptUpdate(ctx, plain, &out, buf + header_size, (int)body) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_SIZE, tag) == 1 &&
           EVP_DecryptFinal_ex(ctx, plain + body, &out) == 1;
  if (!ok) memset(plain, 0, body); /* never hand out unauthenticated plaintext */
  napi_get_boolean(env, ok, &result);
  return result;
}

/*
 * Optional destination of a batch: (address string, port) as the two arguments at `index`; fills
 * `storage` and returns its length, 0 when the arguments are absent (connected socket), -1 when bad.
 */
static socklen_t get_destination(napi_env env, napi_value* argv, size_t argc, size_t index,
                                 struct sockaddr_storage* storage) {
  if (argc <= index) return 0;
  napi_valuetype type;
  if (napi_typeof(env, argv[index], &type) != napi_ok) return (socklen_t)-1;
  if (type == napi_undefined || type == napi_null) return 0;
  if (type != napi_string || argc <= index + 1) return (socklen_t)-1;
  char text[64];
  size_t length = 0;
  uint32_t port;
  if (napi_get_value_string_utf8(env, argv[index], text, sizeof(text), &length) != napi_ok ||
      length >= sizeof(text) - 1 || !get_u32(env, argv[index + 1], &port) || port > 65535)
    return (socklen_t)-1;
  memset(storage, 0, sizeof(*storage));
  struct sockaddr_in* v4 = (struct sockaddr_in*)storage;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    return sizeof(struct sockaddr_in);
  }
  struct sockaddr_in6* v6 = (struct sockaddr_in6*)storage;
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    return sizeof(struct sockaddr_in6);
  }
  return (socklen_t)-1;
}

/* The arguments both batch sends take: fd, datagrams[start, start+count), optional address, port. */
typedef struct {
  int fd;
  uint32_t count;
  struct iovec vectors[MAX_BATCH];
  struct sockaddr_storage destination;
  socklen_t destination_length;
} batch;

/* Fills `b` (at most `max` datagrams); throws and returns 0 on a bad argument. */
static int read_batch(napi_env env, napi_callback_info info, uint32_t max, const char* usage, batch* b) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t fd, start;
  bool is_array = false;
  if (argc < 4 || !get_u32(env, argv[0], &fd) || napi_is_array(env, argv[1], &is_array) != napi_ok ||
      !is_array || !get_u32(env, argv[2], &start) || !get_u32(env, argv[3], &b->count) || b->count == 0 ||
      (b->destination_length = get_destination(env, argv, argc, 4, &b->destination)) == (socklen_t)-1) {
    throw_type(env, usage);
    return 0;
  }
  b->fd = (int)fd;
  if (b->count > max) b->count = max;
  for (uint32_t i = 0; i < b->count; i++) {
    napi_value element;
    uint8_t* data;
    size_t length;
    if (napi_get_element(env, argv[1], start + i, &element) != napi_ok || !get_bytes(env, element, &data, &length)) {
      throw_type(env, "datagrams must be Uint8Arrays");
      return 0;
    }
    b->vectors[i].iov_base = data;
    b->vectors[i].iov_len = length;
  }
  return 1;
}

static napi_value send_result(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

/* 0 for a full socket buffer (EAGAIN), else -errno */
static int failure_code(void) { return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno; }

/*
 * sendBatch(fd, datagrams: Uint8Array[], start, count[, address, port]) -> number
 * Sends datagrams[start, start+count) on a non-blocking socket: to its connected peer, or all to
 * address:port. Returns how many the kernel took (may be fewer, 0 when the buffer is full), or
 * -errno when the first one failed.
 */
static napi_value send_batch(napi_env env, napi_callback_info info) {
  batch b;
  if (!read_batch(env, info, MAX_BATCH, "sendBatch(fd, datagrams, start, count[, address, port])", &b)) return NULL;
  struct mmsghdr messages[MAX_BATCH];
  memset(messages, 0, sizeof(struct mmsghdr) * b.count);
  for (uint32_t i = 0; i < b.count; i++) {
    messages[i].msg_hdr.msg_iov = &b.vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
    if (b.destination_length > 0) {
      messages[i].msg_hdr.msg_name = &b.destination;
      messages[i].msg_hdr.msg_namelen = b.destination_length;
    }
  }
  int sent;
  do {
    sent = sendmmsg(b.fd, messages, b.count, MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  return send_result(env, sent >= 0 ? sent : failure_code());
}

/*
 * sendSegments(fd, datagrams: Uint8Array[], start, count[, address, port]) -> number
 * UDP generic segmentation offload: datagrams[start, start+count), all of the size of the first
 * except a shorter last one, in ONE sendmsg; the kernel cuts them apart (as late as the device
 * allows). Returns count when sent, 0 when the buffer is full, -errno on failure (EIO/EINVAL: the
 * kernel or device has no UDP GSO; the caller then stops using it).
 */
static napi_value send_segments(napi_env env, napi_callback_info info) {
  batch b;
  if (!read_batch(env, info, 64, "sendSegments(fd, datagrams, start, count[, address, port])", &b)) return NULL;
  size_t segment = b.vectors[0].iov_len, total = 0;
  for (uint32_t i = 0; i < b.count; i++) {
    size_t length = b.vectors[i].iov_len;
    if (length > segment || (length < segment && i != b.count - 1) || length == 0)
      return throw_type(env, "sendSegments: datagrams must have the first one's size (the last may be shorter)");
    total += length;
  }
  if (total > 65000) return throw_type(env, "sendSegments: more than 65000 bytes");
  char control[CMSG_SPACE(sizeof(uint16_t))];
  memset(control, 0, sizeof(control));
  struct msghdr message;
  memset(&message, 0, sizeof(message));
  message.msg_iov = b.vectors;
  message.msg_iovlen = b.count;
  if (b.destination_length > 0) {
    message.msg_name = &b.destination;
    message.msg_namelen = b.destination_length;
  }
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&message);
  cmsg->cmsg_level = SOL_UDP;
  cmsg->cmsg_type = UDP_SEGMENT;
  cmsg->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t gso_size = (uint16_t)segment;
  memcpy(CMSG_DATA(cmsg), &gso_size, sizeof(gso_size));
  ssize_t sent;
  do {
    sent = sendmsg(b.fd, &message, MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  return send_result(env, sent >= 0 ? (int)b.count : failure_code());
}

/* ---- CRC-32C (Castagnoli) ---- */

static uint32_t crc_table[256];

static void crc_table_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32c_soft(uint32_t crc, const uint8_t* p, size_t n) {
  while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t word;
    memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
static int has_sse42(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#else
static uint32_t crc32c_hw(uint32_t crc, const uint8_t* p, size_t n) { return crc32c_soft(crc, p, n); }
static int has_sse42(void) { return 0; }
#endif

static int use_hw_crc = 0;

/* crc32c(buf, start, end) -> number (unsigned) */
static napi_value crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t* buf;
  size_t length;
  uint32_t start, end;
  if (argc < 3 || !get_bytes(env, argv[0], &buf, &length) || !get_u32(env, argv[1], &start) ||
      !get_u32(env, argv[2], &end) || start > end || end > length)
    return throw_type(env, "crc32c(buf, start, end) with 0 <= start <= end <= buf.length");
  uint32_t crc = 0xffffffffu;
  crc = use_hw_crc ? crc32c_hw(crc, buf + start, end - start) : crc32c_soft(crc, buf + start, end - start);
  napi_value result;
  napi_create_uint32(env, crc ^ 0xffffffffu, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  crc_table_init();
  use_hw_crc = has_sse42();
  napi_property_descriptor properties[] = {
      {"aeadCreate", NULL, aead_create, NULL, NULL, NULL, napi_default, NULL},
      {"aeadSeal", NULL, aead_seal, NULL, NULL, NULL, napi_default, NULL},
      {"aeadOpen", NULL, aead_open, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL},
      {"sendSegments", NULL, send_segments, NULL, NULL, NULL, napi_default, NULL},
      {"crc32c", NULL, crc32c, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
