/**
 * The optional native addon (`native/slipstream_native.c`, built by `npm ci` through node-gyp):
 * AEAD on a reusable OpenSSL context (Node's own OpenSSL), batched UDP sends (sendmmsg, UDP
 * GSO), batched receives (recvmmsg, UDP GRO) and CRC-32C. Everything that uses it has a pure-Node fallback, so a machine without a compiler still
 * works, only slower (docs/benchmarks.md, "Native fast path"). A leaf module: it imports nothing
 * of the project; the core uses only the AEAD and checksum functions, the io layer only the sends.
 *
 * SLIPSTREAM_NATIVE=0 in the environment turns it off (benchmarks compare with and without).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** An OpenSSL cipher context pair for one key; opaque to JavaScript. */
export type NativeAeadKey = { readonly __nativeAeadKey: unique symbol };

export interface NativeAead {
  /** 0 = aes-256-gcm, 1 = chacha20-poly1305; key is 32 bytes */
  aeadCreate(cipher: 0 | 1, key: Uint8Array): NativeAeadKey;
  /** seals buf[headerSize, payloadEnd) in place with buf[0, headerSize) as AAD; tag at payloadEnd */
  aeadSeal(
    key: NativeAeadKey,
    buf: Uint8Array,
    headerSize: number,
    payloadEnd: number,
    nonce: Uint8Array,
  ): boolean;
  /** opens into `out` (which it zeroes when the tag does not verify) */
  aeadOpen(
    key: NativeAeadKey,
    buf: Uint8Array,
    headerSize: number,
    nonce: Uint8Array,
    out: Uint8Array,
  ): boolean;
}

export interface NativeUdp {
  /**
   * sendmmsg of datagrams[start, start+count): to the connected peer, or all to address:port.
   * How many went, 0 = EAGAIN, or −errno.
   */
  sendBatch(
    fd: number,
    datagrams: readonly Uint8Array[],
    start: number,
    count: number,
    address?: string,
    port?: number,
  ): number;
  /** one UDP GSO send of equal-sized datagrams (the last may be shorter): count, 0 = EAGAIN, or −errno */
  sendSegments(
    fd: number,
    datagrams: readonly Uint8Array[],
    start: number,
    count: number,
    address?: string,
    port?: number,
  ): number;
}

/** A native receive loop on a socket; opaque to JavaScript. */
export type NativeReceiveHandle = { readonly __nativeReceiveHandle: unique symbol };

/**
 * One batch: the datagrams back to back in `buffer`, and 8 words each in `meta` (offset, length,
 * family 4|6, port, address as 4 words); or (null, null, −errno) for a socket error.
 */
export type NativeBatchHandler = (buffer: ArrayBuffer | null, meta: Int32Array | null, count: number) => void;

export interface NativeUdpReceive {
  /**
   * recvmmsg with UDP GRO on a duplicate of fd, polled by libuv (the caller stops its own reads).
   * reuse: every batch is the same buffer and meta array, overwritten by the next batch (nothing is
   * allocated per batch; the handler must be done with the bytes when it returns).
   */
  recvStart(fd: number, onBatch: NativeBatchHandler, reuse?: boolean): NativeReceiveHandle;
  /** stops polling and closes the duplicate; safe to call twice */
  recvStop(handle: NativeReceiveHandle): void;
  /** meta[index, index + 6) (family, port, address words) as an address text, as dgram gives it */
  addressText(meta: Int32Array, index: number): string;
}

export interface NativeChecksum {
  /** CRC-32C of buf[start, end), unsigned */
  crc32c(buf: Uint8Array, start: number, end: number): number;
}

type NativeAddon = NativeAead & NativeUdp & NativeChecksum;

const ADDON_PATH = fileURLToPath(
  new URL("../../../native/build/Release/slipstream_native.node", import.meta.url),
);

function load(): NativeAddon | null {
  const setting = process.env.SLIPSTREAM_NATIVE;
  if (setting === "0" || setting === "off" || setting === "false") return null;
  if (!existsSync(ADDON_PATH)) return null;
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as Partial<NativeAddon>;
    const complete =
      typeof addon.aeadCreate === "function" &&
      typeof addon.aeadSeal === "function" &&
      typeof addon.aeadOpen === "function" &&
      typeof addon.sendBatch === "function" &&
      typeof addon.sendSegments === "function" &&
      typeof addon.crc32c === "function";
    return complete ? (addon as NativeAddon) : null;
  } catch {
    return null; // built for another Node ABI or platform: fall back
  }
}

const addon = load();

/** The addon's AEAD functions, or null when it is not built or turned off. */
export const nativeAead: NativeAead | null = addon;

/** The addon's CRC-32C, or null. */
export const nativeChecksum: NativeChecksum | null = addon;

/** The addon's batched sends (Linux only), or null. */
export const nativeUdp: NativeUdp | null = addon && process.platform === "linux" ? addon : null;

/** The addon's batched receives (Linux only), or null (also for an addon built before they existed). */
export const nativeUdpReceive: NativeUdpReceive | null =
  nativeUdp && typeof Reflect.get(nativeUdp, "recvStart") === "function"
    ? (nativeUdp as unknown as NativeUdpReceive)
    : null;
