/**
 * The Slipstream variants the WAN bench runs: `plain` (cipher none) and `encrypted` (the drivers'
 * authenticated handshake with their default cipher, aes-256-gcm; each side a fresh X25519 key pair,
 * the sender learning the receiver's key on first use).
 */
import { generateKeyPair } from "../../src/core/crypto/keys.js";
import type { UdpReceiverOptions } from "../../src/io/drivers/udp-receiver.js";
import type { UdpSenderOptions } from "../../src/io/drivers/udp-sender.js";

export const SLIPSTREAM_VARIANTS = ["plain", "encrypted"] as const;
export type SlipstreamVariant = (typeof SLIPSTREAM_VARIANTS)[number];

/** Whether this build of the drivers can run the variant (the bench skips it otherwise). */
export function slipstreamVariantAvailable(variant: SlipstreamVariant): boolean {
  return SLIPSTREAM_VARIANTS.includes(variant);
}

export function slipstreamSenderSecurity(variant: SlipstreamVariant): Pick<UdpSenderOptions, "security"> {
  return variant === "encrypted" ? { security: { keyPair: generateKeyPair() } } : {};
}

export function slipstreamReceiverSecurity(variant: SlipstreamVariant): Pick<UdpReceiverOptions, "security"> {
  return variant === "encrypted" ? { security: { keyPair: generateKeyPair() } } : {};
}
