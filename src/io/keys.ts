/**
 * The server's long-term X25519 key pair on disk (`server.key` in the state dir): PKCS#8 PEM,
 * readable by OpenSSL (`openssl pkey -in server.key -pubout`), created with mode 0600 and refused
 * when group or others may read it. Public keys travel as base64url text (43 characters).
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  decodePublicKey,
  encodePublicKey,
  generateKeyPair,
  KeyFormatError,
  privateKeyObject,
  publicKeyOf,
  rawPrivateKey,
  type StaticKeyPair,
} from "../core/crypto/keys.js";

export { KeyFormatError, type StaticKeyPair };

export class KeyFileError extends Error {}

/** base64url text of a public key, as shown by getServerInfo.publicKey and --print-public-key */
export function formatPublicKey(publicKey: Uint8Array): string {
  return encodePublicKey(publicKey);
}

/**
 * Parses a public key given by a person or an API call; throws KeyFormatError naming what is wrong
 * (`what` prefixes the message, e.g. "destinationPublicKey").
 */
export function parsePublicKey(text: string, what = "public key"): Uint8Array {
  try {
    return decodePublicKey(text);
  } catch (e) {
    if (e instanceof KeyFormatError) throw new KeyFormatError(`${what}: ${e.message}`);
    throw e;
  }
}

function toPem(keyPair: StaticKeyPair): string {
  return privateKeyObject(keyPair.privateKey).export({ format: "pem", type: "pkcs8" }).toString();
}

function fromPem(pem: string, path: string): StaticKeyPair {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new KeyFileError(`${path}: not a PEM private key`);
  }
  if (key.asymmetricKeyType !== "x25519") {
    throw new KeyFileError(`${path}: an X25519 key is required, found ${key.asymmetricKeyType ?? "unknown"}`);
  }
  const privateKey = rawPrivateKey(key);
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

export async function loadKeyPair(path: string): Promise<StaticKeyPair> {
  const st = await stat(path);
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    throw new KeyFileError(
      `${path}: permissions ${(st.mode & 0o777).toString(8)} are too open; the key file must be readable by its owner only (chmod 600)`,
    );
  }
  return fromPem(await readFile(path, "utf8"), path);
}

/** Writes a new key file with mode 0600; fails if the file exists. */
export async function writeKeyPair(path: string, keyPair: StaticKeyPair): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, toPem(keyPair), { mode: 0o600, flag: "wx" });
  await chmod(path, 0o600);
}

/** The key pair in `path`, made on first use. */
export async function loadOrCreateKeyPair(
  path: string,
): Promise<{ keyPair: StaticKeyPair; created: boolean }> {
  try {
    return { keyPair: await loadKeyPair(path), created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const keyPair = generateKeyPair();
  try {
    await writeKeyPair(path, keyPair);
  } catch (e) {
    // Another process made it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === "EEXIST")
      return { keyPair: await loadKeyPair(path), created: false };
    throw e;
  }
  return { keyPair, created: true };
}
