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
 *  - Batched receives: recvmmsg(2) with UDP GRO on a duplicate of the socket's descriptor,
 *    polled by libuv, handing JavaScript one buffer per batch instead of one allocation and one
 *    callback per datagram (dgram's way).
 *  - CRC-32C of unencrypted datagrams with the SSE4.2 instruction where the CPU has it.
 *
 * Every entry point validates its arguments and reports failure by return value; nothing here
 * keeps a pointer into a JavaScript buffer beyond the call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <unistd.h>
#include <uv.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
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

/* aeadOpen(key, buf, headerSize, nonce, out) -> boolean; plaintext of buf[headerSize, len-16) into out, which may be that body itself (in place) */
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

/* ---- batched receive (recvmmsg + UDP GRO) ---- */

#define RECV_MESSAGES 16
#define RECV_MESSAGE_BYTES 65536
/*
 * One poll callback reads until the socket is empty or this much was handed over: the rest waits
 * for the next loop iteration, so timers and the send batcher's flush (which carries the ACKs)
 * run between batches instead of after megabytes of them.
 */
#define RECV_BUDGET_BYTES (256 * 1024)
/* per datagram in the meta array: offset, length, family (4|6), port, address as 4 words */
#define META_WORDS 8
/* the reused meta array's capacity: 64 GRO segments per message (the kernel's UDP_GRO_CNT_MAX) */
#define REUSE_META_DATAGRAMS (RECV_MESSAGES * 64)

typedef struct {
  napi_env env;
  napi_ref on_batch;
  napi_async_context async;
  uv_poll_t poll;
  int fd;
  int gro;
  int stopped;
  /* the poll handle and the JavaScript external both point here: freed when both are gone */
  int holders;
  uint8_t* scratch;
  /*
   * Reuse mode: the kernel writes straight into one ArrayBuffer (`scratch` is its memory) that
   * every batch hands out again, with one meta array, so receiving allocates nothing. The
   * consumer must be done with a batch's bytes when onBatch returns.
   */
  int reuse;
  napi_ref reuse_buffer;
  napi_ref reuse_meta;
  int32_t* reuse_words;
  struct mmsghdr messages[RECV_MESSAGES];
  struct iovec vectors[RECV_MESSAGES];
  struct sockaddr_storage sources[RECV_MESSAGES];
  char controls[RECV_MESSAGES][CMSG_SPACE(sizeof(int))];
} receiver;

static void receiver_release(receiver* r) {
  if (--r->holders > 0) return;
  if (!r->reuse) free(r->scratch); /* in reuse mode it belongs to the ArrayBuffer */
  free(r);
}

/* a receiver whose set-up failed before anything else held it */
static void receiver_discard(napi_env env, receiver* r) {
  if (r->reuse) {
    napi_delete_reference(env, r->reuse_buffer);
    napi_delete_reference(env, r->reuse_meta);
  } else {
    free(r->scratch);
  }
  free(r);
}

static void receiver_closed(uv_handle_t* handle) { receiver_release(handle->data); }

static void receiver_finalize(napi_env env, void* data, void* hint) { receiver_release(data); }

static void receiver_stop(receiver* r) {
  if (r->stopped) return;
  r->stopped = 1;
  uv_poll_stop(&r->poll); /* also removes the descriptor from the loop's epoll set */
  /* closed now, not in the close callback: the port must be free when the socket's close returns */
  close(r->fd);
  r->fd = -1;
  napi_delete_reference(r->env, r->on_batch);
  if (r->reuse) {
    /* the ArrayBuffer (and so `scratch`) lives on while JavaScript holds it; never read again here */
    napi_delete_reference(r->env, r->reuse_buffer);
    napi_delete_reference(r->env, r->reuse_meta);
  }
  napi_async_destroy(r->env, r->async);
  uv_close((uv_handle_t*)&r->poll, receiver_closed);
}

static void receiver_cleanup_hook(void* data) { receiver_stop(data); }

static int segment_size(struct msghdr* header) {
  for (struct cmsghdr* c = CMSG_FIRSTHDR(header); c != NULL; c = CMSG_NXTHDR(header, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof(size));
      return size;
    }
  }
  return 0;
}

static void write_source(int32_t* meta, const struct sockaddr_storage* source) {
  memset(meta, 0, 6 * sizeof(int32_t));
  if (source->ss_family == AF_INET) {
    const struct sockaddr_in* v4 = (const struct sockaddr_in*)source;
    meta[0] = 4;
    meta[1] = ntohs(v4->sin_port);
    memcpy(&meta[2], &v4->sin_addr, 4);
  } else if (source->ss_family == AF_INET6) {
    const struct sockaddr_in6* v6 = (const struct sockaddr_in6*)source;
    meta[0] = 6;
    meta[1] = ntohs(v6->sin6_port);
    memcpy(&meta[2], &v6->sin6_addr, 16);
  }
}

/* Calls onBatch(buffer, meta, count) or, for a socket error, onBatch(null, null, -errno). */
static void receiver_deliver(receiver* r, napi_value buffer, napi_value meta, int32_t count) {
  napi_env env = r->env;
  napi_value callback, self, argv[3];
  if (napi_get_reference_value(env, r->on_batch, &callback) != napi_ok || callback == NULL) return;
  napi_get_global(env, &self); /* napi_make_callback needs an object as its receiver */
  argv[0] = buffer;
  argv[1] = meta;
  napi_create_int32(env, count, &argv[2]);
  napi_value ignored;
  if (napi_make_callback(env, r->async, self, callback, 3, argv, &ignored) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

static void receiver_readable(uv_poll_t* handle, int status, int events) {
  receiver* r = handle->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(r->env, &scope) != napi_ok) return;
  napi_value null_value;
  napi_get_null(r->env, &null_value);
  if (status < 0 && !r->stopped) {
    /*
     * A pending socket error (e.g. ICMP port unreachable on a connected socket): libuv reports
     * POLLERR this way and has stopped the poll. Report the error (reading SO_ERROR clears it)
     * and poll again, as dgram keeps receiving after an 'error' event.
     */
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0)
      receiver_deliver(r, null_value, null_value, -error);
    if (!r->stopped) uv_poll_start(&r->poll, UV_READABLE, receiver_readable);
  }
  size_t delivered = 0;
  while (delivered < RECV_BUDGET_BYTES && !r->stopped) {
    for (int i = 0; i < RECV_MESSAGES; i++) {
      struct msghdr* h = &r->messages[i].msg_hdr;
      h->msg_namelen = sizeof(struct sockaddr_storage);
      h->msg_controllen = sizeof(r->controls[i]);
      h->msg_flags = 0;
    }
    int n;
    do {
      n = recvmmsg(r->fd, r->messages, RECV_MESSAGES, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      receiver_deliver(r, null_value, null_value, -errno);
      continue;
    }
    if (n == 0) break;
    size_t total = 0, datagrams = 0;
    for (int i = 0; i < n; i++) {
      size_t length = r->messages[i].msg_len;
      int segment = r->gro ? segment_size(&r->messages[i].msg_hdr) : 0;
      total += length;
      datagrams += segment > 0 && length > 0 ? (length + (size_t)segment - 1) / (size_t)segment : 1;
    }
    void* data = NULL;
    void* meta_data = NULL;
    napi_value buffer, meta_buffer, meta;
    int in_place = r->reuse && datagrams <= REUSE_META_DATAGRAMS;
    if (in_place) {
      if (napi_get_reference_value(r->env, r->reuse_buffer, &buffer) != napi_ok ||
          napi_get_reference_value(r->env, r->reuse_meta, &meta) != napi_ok)
        break;
      meta_data = r->reuse_words;
    } else if (napi_create_arraybuffer(r->env, total, &data, &buffer) != napi_ok ||
               napi_create_arraybuffer(r->env, datagrams * META_WORDS * sizeof(int32_t), &meta_data, &meta_buffer) !=
                   napi_ok ||
               napi_create_typedarray(r->env, napi_int32_array, datagrams * META_WORDS, meta_buffer, 0, &meta) !=
                   napi_ok) {
      break;
    }
    int32_t* words = meta_data;
    size_t offset = 0, d = 0;
    for (int i = 0; i < n; i++) {
      size_t length = r->messages[i].msg_len;
      /* in place, message i already lies at its own 64 KiB slot of the reused buffer */
      if (in_place) offset = (size_t)i * RECV_MESSAGE_BYTES;
      else memcpy((uint8_t*)data + offset, r->vectors[i].iov_base, length);
      size_t segment = r->gro ? (size_t)segment_size(&r->messages[i].msg_hdr) : 0;
      if (segment == 0 || segment > length) segment = length;
      size_t position = 0;
      do {
        size_t piece = length - position < segment ? length - position : segment;
        int32_t* m = &words[d * META_WORDS];
        m[0] = (int32_t)(offset + position);
        m[1] = (int32_t)piece;
        write_source(&m[2], &r->sources[i]);
        d++;
        position += piece;
      } while (position < length);
      offset += length;
    }
    receiver_deliver(r, buffer, meta, (int32_t)d);
    delivered += total;
    if (n < RECV_MESSAGES) break;
  }
  napi_close_handle_scope(r->env, scope);
}

/*
 * recvStart(fd, onBatch(buffer: ArrayBuffer | null, meta: Int32Array | null, count), reuse?) -> external
 * Receives on a duplicate of `fd` (the caller stops its own reads of fd) with recvmmsg, 16
 * messages per call, each up to 64 KiB: with UDP GRO one message may hold several datagrams of
 * one size from one source (the last may be shorter), which are split again here. Each batch is
 * ONE new ArrayBuffer holding the datagrams back to back; meta holds 8 words per datagram
 * (offset, length, family, port, address). count < 0 reports a socket error (−errno). With
 * reuse = true every batch is the same ArrayBuffer and meta array, overwritten by the next batch.
 */
static napi_value recv_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t fd;
  napi_valuetype type;
  bool reuse = false;
  if (argc < 2 || !get_u32(env, argv[0], &fd) || napi_typeof(env, argv[1], &type) != napi_ok ||
      type != napi_function || (argc >= 3 && napi_get_value_bool(env, argv[2], &reuse) != napi_ok))
    return throw_type(env, "recvStart(fd, onBatch, reuse?)");
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_type(env, "recvStart: no event loop");
  receiver* r = calloc(1, sizeof(receiver));
  if (!r) return throw_type(env, "out of memory");
  r->reuse = reuse;
  if (reuse) {
    napi_value buffer, meta_buffer, meta;
    void* words = NULL;
    if (napi_create_arraybuffer(env, (size_t)RECV_MESSAGES * RECV_MESSAGE_BYTES, (void**)&r->scratch, &buffer) !=
            napi_ok ||
        napi_create_arraybuffer(env, REUSE_META_DATAGRAMS * META_WORDS * sizeof(int32_t), &words, &meta_buffer) !=
            napi_ok ||
        napi_create_typedarray(env, napi_int32_array, REUSE_META_DATAGRAMS * META_WORDS, meta_buffer, 0, &meta) !=
            napi_ok ||
        napi_create_reference(env, buffer, 1, &r->reuse_buffer) != napi_ok ||
        napi_create_reference(env, meta, 1, &r->reuse_meta) != napi_ok) {
      free(r);
      napi_throw_error(env, NULL, "recvStart: cannot allocate the receive buffer");
      return NULL;
    }
    r->reuse_words = words;
  } else {
    r->scratch = malloc((size_t)RECV_MESSAGES * RECV_MESSAGE_BYTES);
  }
  /* close-on-exec: a child process must not inherit (and keep bound) the socket */
  r->fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (!r->scratch || r->fd < 0) {
    if (r->fd >= 0) close(r->fd);
    receiver_discard(env, r);
    napi_throw_error(env, NULL, "recvStart: cannot set up the receiver");
    return NULL;
  }
  int one = 1;
  r->gro = setsockopt(r->fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  for (int i = 0; i < RECV_MESSAGES; i++) {
    r->vectors[i].iov_base = r->scratch + (size_t)i * RECV_MESSAGE_BYTES;
    r->vectors[i].iov_len = RECV_MESSAGE_BYTES;
    struct msghdr* h = &r->messages[i].msg_hdr;
    h->msg_iov = &r->vectors[i];
    h->msg_iovlen = 1;
    h->msg_name = &r->sources[i];
    h->msg_control = r->controls[i];
  }
  r->env = env;
  napi_value name;
  napi_create_string_utf8(env, "slipstream:udp-receive", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &r->on_batch) != napi_ok ||
      napi_async_init(env, NULL, name, &r->async) != napi_ok || uv_poll_init_socket(loop, &r->poll, r->fd) != 0) {
    close(r->fd);
    receiver_discard(env, r);
    napi_throw_error(env, NULL, "recvStart: cannot poll the socket");
    return NULL;
  }
  r->poll.data = r;
  uv_poll_start(&r->poll, UV_READABLE, receiver_readable);
  napi_add_env_cleanup_hook(env, receiver_cleanup_hook, r);
  napi_value result = NULL;
  r->holders = 1; /* the poll handle, released by its close callback */
  if (napi_create_external(env, r, receiver_finalize, NULL, &result) == napi_ok) r->holders++;
  return result;
}

/* recvStop(handle): stops polling and closes the duplicate descriptor; safe to call twice */
static napi_value recv_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void* data = NULL;
  napi_valuetype type;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL)
    return throw_type(env, "recvStop(handle)");
  receiver* r = data;
  if (!r->stopped) {
    napi_remove_env_cleanup_hook(env, receiver_cleanup_hook, r);
    receiver_stop(r);
  }
  return NULL;
}

/* addressText(meta, index): the source at meta[index..index+6) (family, port, address) as text */
static napi_value address_text(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type type;
  size_t count, offset;
  void* base;
  napi_value arraybuffer;
  uint32_t index;
  if (argc < 2 || napi_get_typedarray_info(env, argv[0], &type, &count, &base, &arraybuffer, &offset) != napi_ok ||
      type != napi_int32_array || !get_u32(env, argv[1], &index) || (size_t)index + 6 > count)
    return throw_type(env, "addressText(meta, index)");
  int32_t* m = (int32_t*)base + index;
  char text[INET6_ADDRSTRLEN];
  const char* ok = m[0] == 4 ? inet_ntop(AF_INET, &m[2], text, sizeof(text))
                   : m[0] == 6 ? inet_ntop(AF_INET6, &m[2], text, sizeof(text))
                               : NULL;
  napi_value result;
  napi_create_string_utf8(env, ok ? text : "", NAPI_AUTO_LENGTH, &result);
  return result;
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
      {"recvStart", NULL, recv_start, NULL, NULL, NULL, napi_default, NULL},
      {"recvStop", NULL, recv_stop, NULL, NULL, NULL, napi_default, NULL},
      {"addressText", NULL, address_text, NULL, NULL, NULL, napi_default, NULL},
      {"crc32c", NULL, crc32c, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
