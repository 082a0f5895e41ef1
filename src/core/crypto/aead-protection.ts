/**
 * Per-packet AEAD (AES-256-GCM or ChaCha20-Poly1305) with the 16-byte header as associated data.
 * Each direction has its own traffic secret from the handshake. Keys rotate by packet number:
 * epoch = floor(pn / rotationPackets), and epoch e uses key and IV
 * HKDF-SHA256(secret, info = "slipstream epoch" || e) so both ends switch at the same packet without
 * a key-phase bit. The nonce is the epoch IV XOR the 48-bit packet number, which is never reused in
 * a direction, so no (key, nonce) pair repeats. Authentic packets pass a replay window.
 * The AEAD itself runs in an AeadBackend (aead-backends.ts): sodium-native where it is installed and
 * has the cipher, else node:crypto; the bytes on the wire are the same either way.
 */
import { hkdfSync } from "node:crypto";
import type { PacketProtection } from "../wire/protection.js";
import type { AeadCipherName } from "./ciphers.js";
import { ReplayWindow } from "./replay-window.js";
import { AEAD_TAG_SIZE, defaultAeadBackend, type AeadBackend, type AeadKey } from "./aead-backends.js";

export { AEAD_TAG_SIZE };
/** RFC 9001 §6.6 confidentiality limit for AES-GCM, used for both ciphers */
export const DEFAULT_KEY_ROTATION_PACKETS = 2 ** 23;
export const MIN_KEY_ROTATION_PACKETS = 16;
/** forged packets tolerated before a receive direction stops accepting anything (RFC 9001 §6.6) */
const INTEGRITY_LIMIT: Record<AeadCipherName, number> = {
  "aes-256-gcm": 2 ** 52,
  "chacha20-poly1305": 2 ** 36,
};
const RECV_KEY_CACHE = 4;

interface EpochKeys {
  epoch: number;
  key: AeadKey;
  iv: Buffer;
}

export interface ProtectionStats {
  /** authentic packets refused because their packet number was seen before */
  replayed: number;
  /** packets older than the replay window */
  tooOld: number;
  /** packets whose tag did not verify (tampered, truncated, forged) */
  unauthentic: number;
  /** send-direction key changes after the first key */
  keyUpdates: number;
}

export class AeadProtection implements PacketProtection {
  readonly overhead = AEAD_TAG_SIZE;
  readonly stats: ProtectionStats = { replayed: 0, tooOld: 0, unauthentic: 0, keyUpdates: 0 };
  private sendKeys: EpochKeys;
  private recvKeys: EpochKeys[] = [];
  private readonly replay: ReplayWindow;
  private readonly nonce = Buffer.alloc(12);

  constructor(
    readonly cipher: AeadCipherName,
    private readonly sendSecret: Uint8Array,
    private readonly recvSecret: Uint8Array,
    readonly rotationPackets = DEFAULT_KEY_ROTATION_PACKETS,
    replayWindow = 2048,
    /** where the AEAD runs; the default is the fastest one installed */
    readonly backend: AeadBackend = defaultAeadBackend(cipher),
  ) {
    if (!Number.isInteger(rotationPackets) || rotationPackets < MIN_KEY_ROTATION_PACKETS)
      throw new Error(`key rotation interval must be an integer >= ${MIN_KEY_ROTATION_PACKETS}`);
    if (!backend.supports(cipher)) throw new Error(`${backend.name} has no ${cipher}`);
    this.sendKeys = this.deriveEpoch(sendSecret, 0);
    this.replay = new ReplayWindow(replayWindow);
  }

  private setNonce(iv: Buffer, pn: number): Buffer {
    const n = this.nonce;
    iv.copy(n);
    const hi = Math.floor(pn / 0x100000000);
    n[6]! ^= (hi >>> 8) & 0xff;
    n[7]! ^= hi & 0xff;
    n[8]! ^= pn >>> 24;
    n[9]! ^= (pn >>> 16) & 0xff;
    n[10]! ^= (pn >>> 8) & 0xff;
    n[11]! ^= pn & 0xff;
    return n;
  }

  seal(buf: Uint8Array, headerSize: number, payloadEnd: number, packetNumber: number): number {
    const epoch = Math.floor(packetNumber / this.rotationPackets);
    if (epoch !== this.sendKeys.epoch) {
      this.sendKeys = this.deriveEpoch(this.sendSecret, epoch);
      this.stats.keyUpdates++;
    }
    this.sendKeys.key.seal(buf, headerSize, payloadEnd, this.setNonce(this.sendKeys.iv, packetNumber));
    return payloadEnd + AEAD_TAG_SIZE;
  }

  /** Decrypts in place: `buf` belongs to the caller's receive path and is not read again. */
  open(buf: Uint8Array, headerSize: number, packetNumber: number): Uint8Array | null {
    const end = buf.length - AEAD_TAG_SIZE;
    if (end < headerSize || this.stats.unauthentic >= INTEGRITY_LIMIT[this.cipher]) {
      this.stats.unauthentic++;
      return null;
    }
    const verdict = this.replay.check(packetNumber);
    if (verdict !== "new") {
      this.stats[verdict === "replay" ? "replayed" : "tooOld"]++;
      return null;
    }
    const keys = this.recvKeysFor(Math.floor(packetNumber / this.rotationPackets));
    const body = keys.key.open(buf, headerSize, this.setNonce(keys.iv, packetNumber));
    if (body === null) {
      this.stats.unauthentic++;
      return null;
    }
    this.keepRecvKeys(keys);
    this.replay.mark(packetNumber);
    return body;
  }

  private recvKeysFor(epoch: number): EpochKeys {
    return this.recvKeys.find((k) => k.epoch === epoch) ?? this.deriveEpoch(this.recvSecret, epoch);
  }

  /** Only keys that opened an authentic packet are cached, so forged packet numbers cost one derivation. */
  private keepRecvKeys(keys: EpochKeys): void {
    if (this.recvKeys.includes(keys)) return;
    this.recvKeys.push(keys);
    this.recvKeys.sort((a, b) => b.epoch - a.epoch);
    if (this.recvKeys.length > RECV_KEY_CACHE) this.recvKeys.length = RECV_KEY_CACHE;
  }

  private deriveEpoch(secret: Uint8Array, epoch: number): EpochKeys {
    const info = Buffer.alloc(16 + 8);
    info.write("slipstream epoch", 0, "latin1");
    info.writeBigUInt64BE(BigInt(epoch), 16);
    const out = Buffer.from(hkdfSync("sha256", secret, new Uint8Array(0), info, 32 + 12));
    return { epoch, key: this.backend.importKey(this.cipher, out.subarray(0, 32)), iv: out.subarray(32) };
  }
}
