/** Keys, the authenticated handshake and per-packet AEAD (docs/protocol.md, "Encryption"). */
export {
  assertKeyPair,
  assertUsablePublicKey,
  decodePublicKey,
  encodePublicKey,
  generateKeyPair,
  KeyFormatError,
  keysEqual,
  type StaticKeyPair,
} from "./keys.js";
export {
  CIPHERS,
  DEFAULT_CIPHER,
  DEFAULT_MIN_CIPHER,
  isCipherName,
  offersFor,
  type CipherName,
} from "./ciphers.js";
export type { InitiatorSecurity, ResponderSecurity, Refusal } from "./security.js";
export { NoiseInitiator, NoiseResponder } from "./noise-handshake.js";
export {
  AeadProtection,
  DEFAULT_KEY_ROTATION_PACKETS,
  MIN_KEY_ROTATION_PACKETS,
  type ProtectionStats,
} from "./aead-protection.js";
