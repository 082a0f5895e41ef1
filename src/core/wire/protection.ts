/**
 * The seal/open hook every packet passes through. Unencrypted sessions use a CRC-32C trailer;
 * encrypted ones use AeadProtection (src/core/crypto/aead-protection.ts), with the header as
 * associated data, the nonce derived from the packet number and a replay window.
 */
import { crc32c } from "./crc32c.js";

export interface PacketProtection {
  /** `cipher` as reported in statistics: "none", "aes-256-gcm", "chacha20-poly1305" */
  readonly cipher: string;
  /** trailer bytes appended by seal() */
  readonly overhead: number;
  /**
   * Protects buf[0, payloadEnd) in place (header at [0, headerSize) stays cleartext but
   * authenticated) and appends the trailer; returns the datagram length.
   */
  seal(buf: Uint8Array, headerSize: number, payloadEnd: number, packetNumber: number): number;
  /**
   * Checks and unprotects a datagram; returns the cleartext frames, or null if it is not authentic.
   * May overwrite buf's payload (an AEAD decrypts in place): whoever hands a datagram to the core
   * gives it up, and a simulated link copies a packet it duplicates.
   */
  open(buf: Uint8Array, headerSize: number, packetNumber: number): Uint8Array | null;
}

export class ChecksumProtection implements PacketProtection {
  readonly cipher = "none";
  readonly overhead = 4;

  seal(buf: Uint8Array, _headerSize: number, payloadEnd: number, _packetNumber?: number): number {
    const crc = crc32c(buf, 0, payloadEnd);
    buf[payloadEnd] = crc >>> 24;
    buf[payloadEnd + 1] = (crc >>> 16) & 0xff;
    buf[payloadEnd + 2] = (crc >>> 8) & 0xff;
    buf[payloadEnd + 3] = crc & 0xff;
    return payloadEnd + 4;
  }

  open(buf: Uint8Array, headerSize: number, _packetNumber?: number): Uint8Array | null {
    const end = buf.length - 4;
    if (end < headerSize) return null;
    const want = ((buf[end]! << 24) | (buf[end + 1]! << 16) | (buf[end + 2]! << 8) | buf[end + 3]!) >>> 0;
    if (crc32c(buf, 0, end) !== want) return null;
    return buf.subarray(headerSize, end);
  }
}

/**
 * The trailer room every block size reserves: the 16-byte tag of AES-256-GCM and
 * ChaCha20-Poly1305, the largest trailer, so the block size does not depend on the cipher.
 */
export const MAX_PROTECTION_OVERHEAD = 16;
