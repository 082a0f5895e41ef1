/**
 * The relay's own X25519 key pair in its state dir: `relay.key` holds the private key as one
 * line of base64url (mode 0600), created on first start.
 */
import { generateKeyPairSync } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  fromBase64Url,
  privateKeyObject,
  rawPublicKey,
  toBase64Url,
  X25519_KEY_BYTES,
} from "../../core/relay/x25519.js";

export interface RelayKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  /** base64url of the public key */
  publicKeyText: string;
}

export async function loadOrCreateRelayKey(stateDir: string): Promise<RelayKeyPair> {
  const file = join(stateDir, "relay.key");
  let text: string | null = null;
  try {
    text = (await readFile(file, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text !== null) {
    const privateKey = fromBase64Url(text, X25519_KEY_BYTES);
    if (!privateKey) throw new Error(`${file} does not hold a base64url X25519 private key`);
    return pairOf(privateKey);
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const generated = generateKeyPairSync("x25519").privateKey;
  const privateKey = generated.export({ format: "der", type: "pkcs8" }).subarray(-X25519_KEY_BYTES);
  await writeFile(file, toBase64Url(privateKey) + "\n", { mode: 0o600, flag: "wx" });
  await chmod(file, 0o600);
  return pairOf(privateKey);
}

function pairOf(privateKey: Uint8Array): RelayKeyPair {
  const publicKey = rawPublicKey(privateKeyObject(privateKey));
  return { privateKey, publicKey, publicKeyText: toBase64Url(publicKey) };
}
