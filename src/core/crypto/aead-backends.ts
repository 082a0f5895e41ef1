/**
 * Where the AEAD arithmetic runs. node:crypto has no way to reuse a cipher object (a Cipheriv
 * cannot be re-keyed or given a new IV after final()), so it pays one object per packet, 5–9 µs
 * for a 1400-byte datagram. The project's native addon (src/native) keeps one OpenSSL context per
 * key — Node's own OpenSSL — and only sets the nonce per packet: about 1.2 µs for either cipher.
 * libsodium through sodium-native (ChaCha20-Poly1305 only) is the next best, about 2–4 µs
 * (docs/benchmarks.md, "Encryption cost"). All produce the same bytes, so mixed ends interoperate.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from "node:crypto";
import { createRequire } from "node:module";
import { nativeAead, type NativeAead } from "../../native/addon.js";
import type { AeadCipherName } from "./ciphers.js";

export const AEAD_TAG_SIZE = 16;

/** One key of one epoch in one direction. */
export interface AeadKey {
  /** encrypts buf[headerSize, payloadEnd) in place with buf[0, headerSize) as associated data, tag at payloadEnd */
  seal(buf: Uint8Array, headerSize: number, payloadEnd: number, nonce: Uint8Array): void;
  /**
   * Decrypts buf[headerSize, buf.length − tag) in place and returns that view, or null when the tag
   * does not verify (the body is then garbage). In place because the receive path owns each
   * datagram: a new buffer per packet cost a fifth of the open (docs/benchmarks.md, "Opening in place").
   */
  open(buf: Uint8Array, headerSize: number, nonce: Uint8Array): Uint8Array | null;
}

export interface AeadBackend {
  readonly name: "node:crypto" | "sodium-native" | "openssl-native";
  supports(cipher: AeadCipherName): boolean;
  /** `raw` is the 32-byte key; the backend may keep a reference to it */
  importKey(cipher: AeadCipherName, raw: Uint8Array): AeadKey;
}

export const nodeCryptoBackend: AeadBackend = {
  name: "node:crypto",
  supports: () => true,
  importKey(cipher, raw) {
    // A KeyObject: createCipheriv takes it without re-importing the raw bytes each packet.
    const key = createSecretKey(raw);
    // Both AEADs share the GCM-shaped API (setAAD, setAuthTag); the cast only picks that overload.
    const name = cipher as "aes-256-gcm";
    return {
      seal(buf, headerSize, payloadEnd, nonce) {
        const c = createCipheriv(name, key, nonce, { authTagLength: AEAD_TAG_SIZE });
        c.setAAD(buf.subarray(0, headerSize));
        const body = c.update(buf.subarray(headerSize, payloadEnd));
        c.final();
        buf.set(body, headerSize);
        buf.set(c.getAuthTag(), payloadEnd);
      },
      open(buf, headerSize, nonce) {
        const end = buf.length - AEAD_TAG_SIZE;
        try {
          const d = createDecipheriv(name, key, nonce, { authTagLength: AEAD_TAG_SIZE });
          d.setAAD(buf.subarray(0, headerSize));
          d.setAuthTag(buf.subarray(end));
          const body = d.update(buf.subarray(headerSize, end));
          d.final();
          buf.set(body, headerSize);
          return buf.subarray(headerSize, end);
        } catch {
          return null;
        }
      },
    };
  },
};

/** The part of sodium-native used here (it ships no type declarations). */
interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array,
    mac: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  /** throws when the tag does not verify */
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    mac: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): void;
}

function sodiumBackend(sodium: SodiumAead): AeadBackend {
  return {
    name: "sodium-native",
    supports: (cipher) => cipher === "chacha20-poly1305",
    importKey(cipher, raw) {
      if (cipher !== "chacha20-poly1305") throw new Error(`sodium-native backend has no ${cipher}`);
      const key = Uint8Array.from(raw);
      return {
        seal(buf, headerSize, payloadEnd, nonce) {
          // libsodium allows the ciphertext to overwrite the plaintext in place.
          const body = buf.subarray(headerSize, payloadEnd);
          sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            body,
            buf.subarray(payloadEnd, payloadEnd + AEAD_TAG_SIZE),
            body,
            buf.subarray(0, headerSize),
            null,
            nonce,
            key,
          );
        },
        open(buf, headerSize, nonce) {
          const end = buf.length - AEAD_TAG_SIZE;
          // libsodium decrypts in place too (message and ciphertext may be the same bytes).
          const body = buf.subarray(headerSize, end);
          try {
            sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(
              body,
              null,
              body,
              buf.subarray(end),
              buf.subarray(0, headerSize),
              nonce,
              key,
            );
          } catch {
            return null;
          }
          return body;
        },
      };
    },
  };
}

function loadSodium(): AeadBackend | null {
  try {
    const sodium = createRequire(import.meta.url)("sodium-native") as Partial<SodiumAead>;
    if (typeof sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached !== "function") return null;
    return sodiumBackend(sodium as SodiumAead);
  } catch {
    return null; // not installed, or no prebuilt binary for this platform
  }
}

/** sodium-native when it loads, else null; loaded once */
export const sodiumNativeBackend: AeadBackend | null = loadSodium();

function opensslBackend(native: NativeAead): AeadBackend {
  return {
    name: "openssl-native",
    supports: () => true,
    importKey(cipher, raw) {
      const key = native.aeadCreate(cipher === "aes-256-gcm" ? 0 : 1, raw);
      return {
        seal(buf, headerSize, payloadEnd, nonce) {
          if (!native.aeadSeal(key, buf, headerSize, payloadEnd, nonce))
            throw new Error(`${cipher} seal failed`);
        },
        open(buf, headerSize, nonce) {
          if (buf.length < headerSize + AEAD_TAG_SIZE) return null;
          const body = buf.subarray(headerSize, buf.length - AEAD_TAG_SIZE);
          return native.aeadOpen(key, buf, headerSize, nonce, body) ? body : null;
        },
      };
    },
  };
}

/** The project's native addon (OpenSSL contexts reused per key) when it is built, else null */
export const opensslNativeBackend: AeadBackend | null = nativeAead ? opensslBackend(nativeAead) : null;

export type AeadBackendPreference = "auto" | "node:crypto" | "sodium-native";
let preference: AeadBackendPreference = "auto";

/**
 * Sessions created from now on use only this backend where it has the cipher ("auto": the fastest
 * available). Benchmarks compare backends with it.
 */
export function setAeadBackendPreference(p: AeadBackendPreference): void {
  preference = p;
}

/** The fastest backend for a cipher: the native addon, else sodium-native where it has the cipher, else node:crypto. */
export function defaultAeadBackend(cipher: AeadCipherName): AeadBackend {
  if (preference === "node:crypto") return nodeCryptoBackend;
  if (preference === "auto" && opensslNativeBackend) return opensslNativeBackend;
  return sodiumNativeBackend?.supports(cipher) ? sodiumNativeBackend : nodeCryptoBackend;
}
