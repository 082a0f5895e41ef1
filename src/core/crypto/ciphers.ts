/**
 * Data ciphers and their policy order (server.md §10): none < chacha20-poly1305 < aes-256-gcm.
 * The initiator offers its preferred cipher first, then every other cipher its minCipher allows,
 * strongest first; the responder takes the first offer at or above its own minCipher.
 */
export const CIPHERS = ["none", "chacha20-poly1305", "aes-256-gcm"] as const;
export type CipherName = (typeof CIPHERS)[number];
export type AeadCipherName = Exclude<CipherName, "none">;

export const DEFAULT_MIN_CIPHER: CipherName = "chacha20-poly1305";
export const DEFAULT_CIPHER: CipherName = "aes-256-gcm";

export function isCipherName(x: unknown): x is CipherName {
  return typeof x === "string" && (CIPHERS as readonly string[]).includes(x);
}

export function cipherRank(c: CipherName): number {
  return CIPHERS.indexOf(c);
}

export function allowedBy(min: CipherName, c: CipherName): boolean {
  return cipherRank(c) >= cipherRank(min);
}

export function cipherOffers(preferred: CipherName, min: CipherName): CipherName[] {
  const rest = [...CIPHERS].reverse().filter((c) => c !== preferred && allowedBy(min, c));
  return allowedBy(min, preferred) ? [preferred, ...rest] : rest;
}

/** What an initiator offers: `ciphers` exactly (minus those below minCipher), else cipherOffers. */
export function offersFor(policy: {
  cipher?: CipherName;
  ciphers?: CipherName[];
  minCipher?: CipherName;
}): CipherName[] {
  const min = policy.minCipher ?? DEFAULT_MIN_CIPHER;
  if (policy.ciphers) return policy.ciphers.filter((c) => allowedBy(min, c));
  return cipherOffers(policy.cipher ?? DEFAULT_CIPHER, min);
}

export function chooseCipher(offers: readonly CipherName[], min: CipherName): CipherName | null {
  return offers.find((c) => allowedBy(min, c)) ?? null;
}
