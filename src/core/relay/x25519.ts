/**
 * X25519 keys as raw 32-byte strings or node:crypto KeyObjects, and the challenge that proves an
 * inner server holds the private key of the public key it attaches with (and the relay its own).
 *
 *   relay → inner  hello {relayKey R, ephemeral E, nonce Nr}
 *   inner → relay  auth  {serverKey S, nonce Ni, mac = HMAC(K, "inner")}
 *   relay → inner  welcome {mac = HMAC(K, "relay"), …}
 *   K = HKDF-SHA256(ikm = DH(s, E) ‖ DH(s, R), salt = Nr ‖ Ni, info = label ‖ R ‖ E ‖ S)
 *
 * DH(s, E) with a fresh E proves the inner server holds s now; DH(s, R) lets only the holder of
 * the relay's private key compute the welcome MAC, so a pinned relay key is verified too.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from "node:crypto";

const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const LABEL = Buffer.from("slipstream relay attach v1");
export const X25519_KEY_BYTES = 32;
export const NONCE_BYTES = 16;

/** A key given as a KeyObject or its raw 32 bytes. */
export type X25519Key = KeyObject | Uint8Array;

export interface X25519KeyPair {
  privateKey: X25519Key;
  publicKey: X25519Key;
}

export function privateKeyObject(key: X25519Key): KeyObject {
  if (!(key instanceof Uint8Array)) return key;
  if (key.byteLength !== X25519_KEY_BYTES) throw new Error("an X25519 private key is 32 bytes");
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, key]), format: "der", type: "pkcs8" });
}

export function publicKeyObject(key: X25519Key): KeyObject {
  if (!(key instanceof Uint8Array)) return key;
  if (key.byteLength !== X25519_KEY_BYTES) throw new Error("an X25519 public key is 32 bytes");
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key]), format: "der", type: "spki" });
}

/** The raw 32 bytes of a public key (KeyObject, raw bytes, or a private key's public half). */
export function rawPublicKey(key: X25519Key): Buffer {
  if (key instanceof Uint8Array) return Buffer.from(key);
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return pub.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
}

/** A private key from 32 random bytes (X25519 clamps any 32 bytes into a valid scalar). */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  return privateKeyObject(seed);
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** Decodes a base64url key or nonce of exactly `length` bytes; null when it is not one. */
export function fromBase64Url(text: string, length: number): Buffer | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  const bytes = Buffer.from(text, "base64url");
  return bytes.length === length && toBase64Url(bytes) === text ? bytes : null;
}

export interface AttachTranscript {
  relayKey: Uint8Array;
  ephemeral: Uint8Array;
  relayNonce: Uint8Array;
  serverKey: Uint8Array;
  serverNonce: Uint8Array;
}

function deriveKey(shared1: Buffer, shared2: Buffer, t: AttachTranscript): Buffer {
  const salt = Buffer.concat([t.relayNonce, t.serverNonce]);
  const info = Buffer.concat([LABEL, t.relayKey, t.ephemeral, t.serverKey]);
  return Buffer.from(hkdfSync("sha256", Buffer.concat([shared1, shared2]), salt, info, 32));
}

/** Inner server side: the key both MACs use, from its static private key. */
export function innerAttachKey(serverPrivate: X25519Key, t: AttachTranscript): Buffer {
  const s = privateKeyObject(serverPrivate);
  const withEphemeral = diffieHellman({ privateKey: s, publicKey: publicKeyObject(t.ephemeral) });
  const withRelay = diffieHellman({ privateKey: s, publicKey: publicKeyObject(t.relayKey) });
  return deriveKey(withEphemeral, withRelay, t);
}

/** Relay side: the same key, from the relay's ephemeral and static private keys. */
export function relayAttachKey(
  ephemeralPrivate: KeyObject,
  relayPrivate: KeyObject,
  t: AttachTranscript,
): Buffer {
  const server = publicKeyObject(t.serverKey);
  const withEphemeral = diffieHellman({ privateKey: ephemeralPrivate, publicKey: server });
  const withRelay = diffieHellman({ privateKey: relayPrivate, publicKey: server });
  return deriveKey(withEphemeral, withRelay, t);
}

export function attachMac(key: Buffer, role: "inner" | "relay"): Buffer {
  return createHmac("sha256", key).update(role).digest();
}

export function macMatches(expected: Buffer, given: Uint8Array): boolean {
  return given.byteLength === expected.length && timingSafeEqual(expected, given);
}
