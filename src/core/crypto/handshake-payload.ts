/** The JSON payloads carried (encrypted where the pattern allows) inside the Noise messages. */
import { isCipherName, type CipherName } from "./ciphers.js";

export interface HelloPayload {
  /** protocol versions the initiator speaks */
  v: number[];
  id: string | null;
  uid: string | null;
  /** datagram size */
  d: number;
  /** cipher offers, most preferred first */
  c: CipherName[];
  /** key rotation interval in packets */
  r: number;
}

export type ReplyPayload =
  | { v: number; id: string | null; uid: string | null; d: number; c: CipherName; r: number }
  | { err: string; msg: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodePayload(p: HelloPayload | ReplyPayload): Uint8Array {
  return encoder.encode(JSON.stringify(p));
}

function parseObject(data: Uint8Array): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(decoder.decode(data));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const isId = (x: unknown): x is string | null => x === null || (typeof x === "string" && x.length <= 64);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) > 0;

export function parseHelloPayload(data: Uint8Array): HelloPayload | null {
  const o = parseObject(data);
  if (!o || !Array.isArray(o.v) || o.v.length > 16 || !o.v.every((x) => Number.isInteger(x))) return null;
  if (!isId(o.id) || !isId(o.uid) || !isCount(o.d) || o.d < 576 || !isCount(o.r)) return null;
  if (!Array.isArray(o.c) || o.c.length > 8 || !o.c.every(isCipherName)) return null;
  return { v: o.v as number[], id: o.id, uid: o.uid, d: o.d, c: o.c as CipherName[], r: o.r };
}

export function parseReplyPayload(data: Uint8Array): ReplyPayload | null {
  const o = parseObject(data);
  if (!o) return null;
  if (typeof o.err === "string" && typeof o.msg === "string") {
    if (o.err.length > 64 || o.msg.length > 1000) return null;
    return { err: o.err, msg: o.msg };
  }
  if (!Number.isInteger(o.v) || !isId(o.id) || !isId(o.uid) || !isCount(o.d) || o.d < 576) return null;
  if (!isCipherName(o.c) || !isCount(o.r)) return null;
  return { v: o.v as number, id: o.id, uid: o.uid, d: o.d, c: o.c, r: o.r };
}
