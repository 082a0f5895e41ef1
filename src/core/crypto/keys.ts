/**
 * X25519 keys as raw 32-byte values, converted to node:crypto KeyObjects where a DH needs them,
 * and their text form: unpadded base64url (43 characters), as in `getServerInfo.publicKey`.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";

export const KEY_SIZE = 32;

export interface StaticKeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

export class KeyFormatError extends Error {}

export function publicKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_SIZE)
    throw new KeyFormatError(`an X25519 public key has ${KEY_SIZE} bytes, not ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

export function privateKeyObject(raw: Uint8Array): KeyObject {
  if (raw.length !== KEY_SIZE)
    throw new KeyFormatError(`an X25519 private key has ${KEY_SIZE} bytes, not ${raw.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: "der", type: "pkcs8" });
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length));
}

export function rawPrivateKey(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_PREFIX.length));
}

/** A fresh key pair (the long-term one of a server, or a handshake's ephemeral one). */
export function generateKeyPair(): StaticKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  return { publicKey: rawPublicKey(publicKey), privateKey: rawPrivateKey(privateKey) };
}

/** The public key of a private key (to check a loaded key file is consistent). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return rawPublicKey(createPublicKey(privateKeyObject(privateKey)));
}

/**
 * X25519 shared secret; null when the peer's key is malformed or of low order (all-zero result),
 * which only an attacker sends.
 */
export function dh(privateKey: KeyObject, peerPublic: Uint8Array): Uint8Array | null {
  try {
    const out = diffieHellman({ privateKey, publicKey: publicKeyObject(peerPublic) });
    return out.every((b) => b === 0) ? null : new Uint8Array(out);
  } catch {
    return null;
  }
}

/** Throws KeyFormatError unless `raw` is an X25519 public key a DH can use (not of low order). */
export function assertUsablePublicKey(raw: Uint8Array): void {
  if (raw.length !== KEY_SIZE)
    throw new KeyFormatError(`an X25519 public key has ${KEY_SIZE} bytes, not ${raw.length}`);
  if (dh(generateKeyPairSync("x25519").privateKey, raw) === null) {
    throw new KeyFormatError("not a usable X25519 public key (a low-order point)");
  }
}

/** Throws KeyFormatError unless the public key is the one of the private key. */
export function assertKeyPair(pair: StaticKeyPair): void {
  if (!keysEqual(publicKeyOf(pair.privateKey), pair.publicKey)) {
    throw new KeyFormatError("the key pair's public key does not belong to its private key");
  }
}

export function encodePublicKey(raw: Uint8Array): string {
  return Buffer.from(raw).toString("base64url");
}

/** Parses base64url text (43 characters, no padding) into a 32-byte public key; throws KeyFormatError. */
export function decodePublicKey(text: string): Uint8Array {
  const t = text.trim();
  if (!/^[A-Za-z0-9_-]*$/.test(t)) {
    throw new KeyFormatError("a public key is base64url text (A-Z a-z 0-9 - _), without padding");
  }
  if (t.length !== 43) throw new KeyFormatError(`a public key is 43 base64url characters, not ${t.length}`);
  const raw = Buffer.from(t, "base64url");
  if (raw.length !== KEY_SIZE || raw.toString("base64url") !== t) {
    throw new KeyFormatError("not a canonical base64url encoding of 32 bytes");
  }
  assertUsablePublicKey(raw);
  return new Uint8Array(raw);
}

export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
