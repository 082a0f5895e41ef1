/**
 * The Noise framework's SymmetricState (noiseprotocol.org, rev. 34 §5.2) for
 * Noise_{IK,IX}_25519_ChaChaPoly_SHA256: chaining key, handshake hash and the current handshake
 * key. It is a value: `clone()` lets a handshake try a message and keep its state unchanged when
 * the message turns out to be forged or corrupted.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from "node:crypto";

const HASH_LEN = 32;
const TAG_LEN = 16;

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** Noise HKDF: HMAC-SHA256 extract with the chaining key as salt, then two expand blocks. */
export function hkdf2(chainingKey: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const prk = hmac(chainingKey, ikm);
  const out1 = hmac(prk, Uint8Array.of(1));
  const out2 = hmac(prk, out1, Uint8Array.of(2));
  return [out1, out2];
}

function nonce(n: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32LE(n >>> 0, 4);
  return iv;
}

function encrypt(key: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv("chacha20-poly1305", key, nonce(n), { authTagLength: TAG_LEN });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  const body = c.update(plaintext);
  c.final();
  return new Uint8Array(Buffer.concat([body, c.getAuthTag()]));
}

function decrypt(key: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
  if (ciphertext.length < TAG_LEN) return null;
  try {
    const d = createDecipheriv("chacha20-poly1305", key, nonce(n), { authTagLength: TAG_LEN });
    d.setAAD(ad, { plaintextLength: ciphertext.length - TAG_LEN });
    d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_LEN));
    const body = d.update(ciphertext.subarray(0, ciphertext.length - TAG_LEN));
    d.final();
    return new Uint8Array(body);
  } catch {
    return null;
  }
}

export class SymmetricState {
  private constructor(
    private ck: Uint8Array,
    private h: Uint8Array,
    private k: Uint8Array | null,
    private n: number,
  ) {}

  static initialize(protocolName: string, prologue: Uint8Array): SymmetricState {
    const name = new TextEncoder().encode(protocolName);
    let h: Uint8Array;
    if (name.length <= HASH_LEN) {
      h = new Uint8Array(HASH_LEN);
      h.set(name);
    } else h = sha256(name);
    const s = new SymmetricState(h, h, null, 0);
    s.mixHash(prologue);
    return s;
  }

  clone(): SymmetricState {
    return new SymmetricState(this.ck, this.h, this.k, this.n);
  }

  mixHash(data: Uint8Array): void {
    this.h = sha256(this.h, data);
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf2(this.ck, ikm);
    this.ck = ck;
    this.k = k;
    this.n = 0;
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const out = this.k ? encrypt(this.k, this.n++, this.h, plaintext) : plaintext;
    this.mixHash(out);
    return out;
  }

  /** null when the ciphertext is not authentic; the state is then unusable (work on a clone). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array | null {
    const out = this.k ? decrypt(this.k, this.n++, this.h, ciphertext) : ciphertext;
    if (out === null) return null;
    this.mixHash(ciphertext);
    return out;
  }

  /** The two transport secrets: initiator→responder, responder→initiator. */
  split(): { initiatorToResponder: Uint8Array; responderToInitiator: Uint8Array } {
    const [a, b] = hkdf2(this.ck, new Uint8Array(0));
    return { initiatorToResponder: a, responderToInitiator: b };
  }
}
