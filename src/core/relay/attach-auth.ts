/**
 * Both halves of the attach challenge (see x25519.ts for the derivation): the relay checking an
 * `auth` answer to its `hello`, and the inner server answering a `hello` and checking `welcome`.
 */
import type { KeyObject } from "node:crypto";
import type { ControlMessage } from "./control-messages.js";
import { TOKEN_BYTES } from "./envelope.js";
import {
  attachMac,
  fromBase64Url,
  innerAttachKey,
  macMatches,
  NONCE_BYTES,
  rawPublicKey,
  relayAttachKey,
  toBase64Url,
  X25519_KEY_BYTES,
  type X25519Key,
} from "./x25519.js";

export type Refusal = { ok: false; code: string; message: string };

/** The relay protocol's version in `hello`: 2 since control frames are sealed after the welcome. */
export const RELAY_PROTOCOL_VERSION = 2;

/** What the relay sent in its hello and keeps until the answer. */
export interface RelayChallenge {
  ephemeralPrivate: KeyObject;
  ephemeral: Uint8Array;
  nonce: Uint8Array;
}

/** Relay side: the shared key when the server proved possession of `serverKey`'s private key. */
export function verifyServerAuth(
  relayPrivate: KeyObject,
  challenge: RelayChallenge,
  m: Extract<ControlMessage, { t: "auth" }>,
): { ok: true; key: Buffer } | Refusal {
  const serverKey = fromBase64Url(m.serverKey, X25519_KEY_BYTES);
  const serverNonce = fromBase64Url(m.nonce, NONCE_BYTES);
  const mac = fromBase64Url(m.mac, 32);
  if (!serverKey || !serverNonce || !mac) {
    return { ok: false, code: "PROTOCOL", message: "auth fields are not base64url of the right lengths" };
  }
  let key: Buffer;
  try {
    key = relayAttachKey(challenge.ephemeralPrivate, relayPrivate, {
      relayKey: rawPublicKey(relayPrivate),
      ephemeral: challenge.ephemeral,
      relayNonce: challenge.nonce,
      serverKey,
      serverNonce,
    });
  } catch {
    return { ok: false, code: "AUTH_FAILED", message: "the server key is not a usable X25519 key" };
  }
  if (!macMatches(attachMac(key, "inner"), mac)) {
    return { ok: false, code: "AUTH_FAILED", message: "the server did not prove possession of its key" };
  }
  return { ok: true, key };
}

/** Inner side: the auth answer to a hello, and the MAC the relay's welcome must carry. */
export function answerHello(
  hello: Extract<ControlMessage, { t: "hello" }>,
  serverPrivate: X25519Key,
  serverKey: Uint8Array,
  serverNonce: Uint8Array,
  expectedRelayKey: string | undefined,
): { ok: true; auth: ControlMessage; relayMac: Buffer; key: Buffer } | Refusal {
  const relayKey = fromBase64Url(hello.relayKey, X25519_KEY_BYTES);
  const ephemeral = fromBase64Url(hello.ephemeral, X25519_KEY_BYTES);
  const relayNonce = fromBase64Url(hello.nonce, NONCE_BYTES);
  if (hello.v !== RELAY_PROTOCOL_VERSION) {
    return {
      ok: false,
      code: "PROTOCOL",
      message: `the relay speaks relay protocol ${hello.v}, this server ${RELAY_PROTOCOL_VERSION}`,
    };
  }
  if (!relayKey || !ephemeral || !relayNonce) {
    return { ok: false, code: "PROTOCOL", message: "malformed hello from the relay" };
  }
  if (expectedRelayKey && expectedRelayKey !== hello.relayKey) {
    return {
      ok: false,
      code: "KEY_MISMATCH",
      message: `the relay's key ${hello.relayKey} is not the expected ${expectedRelayKey}`,
    };
  }
  let key: Buffer;
  try {
    key = innerAttachKey(serverPrivate, { relayKey, ephemeral, relayNonce, serverKey, serverNonce });
  } catch {
    return { ok: false, code: "PROTOCOL", message: "the relay's keys are not usable X25519 keys" };
  }
  const auth: ControlMessage = {
    t: "auth",
    serverKey: toBase64Url(serverKey),
    nonce: toBase64Url(serverNonce),
    mac: toBase64Url(attachMac(key, "inner")),
  };
  return { ok: true, auth, relayMac: attachMac(key, "relay"), key };
}

/** Inner side: the attachment token when the welcome proves the relay holds its key. */
export function checkWelcome(
  relayMac: Buffer | null,
  welcome: Extract<ControlMessage, { t: "welcome" }>,
): { ok: true; token: Buffer } | Refusal {
  const mac = fromBase64Url(welcome.mac, 32);
  const token = fromBase64Url(welcome.token, TOKEN_BYTES);
  if (!relayMac || !mac || !token || !macMatches(relayMac, mac)) {
    return { ok: false, code: "AUTH_FAILED", message: "the relay did not prove possession of its key" };
  }
  return { ok: true, token };
}
