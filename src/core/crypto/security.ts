/** What an endpoint needs to run the authenticated handshake (docs/protocol.md, "Handshake"). */
import type { CipherName } from "./ciphers.js";
import type { StaticKeyPair } from "./keys.js";

export interface Refusal {
  /** a Connection `lastError` code: NOT_AUTHORIZED, … */
  code: string;
  message: string;
}

export interface InitiatorSecurity {
  /** this server's long-term X25519 key pair */
  keyPair: StaticKeyPair;
  /** the responder's key (IK): it must prove it, else KEY_MISMATCH. Absent: learned (IX, trust on first use) */
  peerPublicKey?: Uint8Array | null;
  /** weakest cipher this end accepts (default chacha20-poly1305) */
  minCipher?: CipherName;
  /** offered first (default aes-256-gcm); the other ciphers minCipher allows follow, strongest first */
  cipher?: CipherName;
  /** the exact offers instead, most preferred first (those below minCipher are left out) */
  ciphers?: CipherName[];
  /** packets per key epoch in each direction (default 2^23); the smaller of both ends applies */
  keyRotationPackets?: number;
}

export interface ResponderSecurity {
  keyPair: StaticKeyPair;
  minCipher?: CipherName;
  keyRotationPackets?: number;
  /**
   * Decides on the initiator's static key (its identity, proven by the handshake): null admits,
   * a refusal is sent back authenticated and the session is not created.
   */
  authorize?(initiatorPublicKey: Uint8Array): Refusal | null;
}
