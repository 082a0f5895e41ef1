import { generateKeyPair, type StaticKeyPair } from "../../../src/core/crypto/keys.js";
import { NoiseInitiator, NoiseResponder } from "../../../src/core/crypto/noise-handshake.js";
import type { InitiatorSecurity, ResponderSecurity } from "../../../src/core/crypto/security.js";
import {
  isFailure,
  type HandshakeFailure,
  type HandshakeOutcome,
} from "../../../src/core/transport/handshake.js";

export const SESSION = "0011223344556677";
export const SENDER = { serverId: "s".repeat(32), serverUid: "t".repeat(32) };
export const RECEIVER = { serverId: "r".repeat(32), serverUid: "u".repeat(32) };

export const senderKeys: StaticKeyPair = generateKeyPair();
export const receiverKeys: StaticKeyPair = generateKeyPair();

export function initiator(security: Partial<InitiatorSecurity> = {}): NoiseInitiator {
  return new NoiseInitiator(
    { keyPair: senderKeys, peerPublicKey: receiverKeys.publicKey, ...security },
    SENDER,
    1400,
    SESSION,
  );
}

export function responder(security: Partial<ResponderSecurity> = {}): NoiseResponder {
  return new NoiseResponder({ keyPair: receiverKeys, ...security }, RECEIVER, 1400, SESSION);
}

export type ResponderResult = ReturnType<NoiseResponder["onHello"]>;

export function outcomeOf(r: ResponderResult): { reply: Uint8Array; outcome: HandshakeOutcome } {
  if (isFailure(r)) throw new Error(`responder failed: ${r.error} ${r.message}`);
  return r;
}

export function failureOf(r: HandshakeOutcome | HandshakeFailure | ResponderResult): HandshakeFailure {
  if (!isFailure(r)) throw new Error("expected a failure");
  return r;
}

export function successOf(r: HandshakeOutcome | HandshakeFailure): HandshakeOutcome {
  if (isFailure(r)) throw new Error(`initiator failed: ${r.error} ${r.message}`);
  return r;
}
