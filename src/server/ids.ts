import { randomBytes } from "node:crypto";

/** A new opaque id: 32 lowercase hex characters (128 random bits), api.md §1.7. */
export function newId(): string {
  return randomBytes(16).toString("hex");
}

/** A new secret of `bytes` random bytes as lowercase hex (session keys: 32 bytes = 64 hex). */
export function newSecretHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

export const ID_PATTERN = /^[0-9a-f]{32}$/;

export function isId(value: string): boolean {
  return ID_PATTERN.test(value);
}
