/**
 * Control messages on the reliable control stream: JSON objects with a `t` tag. Every incoming
 * message is validated field by field; anything else is a protocol violation.
 */
export interface FileEntry {
  /** target path relative to the transfer's destination path, "/"-separated */
  p: string;
  /** size in bytes */
  s: number;
  /** modification time, microseconds since the epoch */
  m: number;
  /** 1 for a directory entry */
  d?: 1;
  /** SHA-256 of the source (hex), sent with overwrite "differs" so the receiver can skip an identical target */
  h?: string;
}

export type ByteRanges = Array<[number, number]>;

export type ControlMessage =
  | {
      t: "start";
      n: number;
      id: string;
      blockSize: number;
      path: string;
      overwrite: string;
      files: FileEntry[];
      more: boolean;
      /** the sender's receiveToken (api.md §3.4); only ever sent on an encrypted session */
      rt?: string;
      /** that token's password, if any */
      rtp?: string | null;
    }
  | { t: "files"; n: number; files: FileEntry[]; more: boolean }
  | { t: "accept"; n: number; have: Array<{ f: number; r: ByteRanges }>; done: number[] }
  | { t: "refuse"; n: number; code: string; message: string }
  | { t: "fileEnd"; n: number; f: number; sha256: string }
  | { t: "fileOk"; n: number; f: number }
  | { t: "fileRetry"; n: number; f: number; message: string }
  | { t: "fileFailed"; n: number; f: number; code: string; message: string }
  | { t: "cancel"; n: number; reason: CancelReason; message: string };

export type CancelReason = "cancel" | "suspend" | "error";

/** Files announced per control message; larger manifests continue in "files" messages. */
export const FILES_PER_MESSAGE = 512;
export const MAX_PATH_LENGTH = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeControl(m: ControlMessage): Uint8Array {
  return encoder.encode(JSON.stringify(m));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const uint = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const str = (v: unknown, max = 4096): v is string => typeof v === "string" && v.length <= max;
const hex = (v: unknown, len: number): v is string =>
  typeof v === "string" && v.length === len && /^[0-9a-f]+$/.test(v);

function fileEntry(v: unknown): v is FileEntry {
  return (
    isObj(v) &&
    str(v.p, MAX_PATH_LENGTH) &&
    uint(v.s) &&
    typeof v.m === "number" &&
    Number.isFinite(v.m) &&
    (v.d === undefined || v.d === 1) &&
    (v.h === undefined || hex(v.h, 64))
  );
}

function ranges(v: unknown): v is ByteRanges {
  return (
    Array.isArray(v) &&
    v.every(
      (r) =>
        Array.isArray(r) && r.length === 2 && uint(r[0]) && uint(r[1]) && (r[0] as number) < (r[1] as number),
    )
  );
}

/** Parses and validates one message; null when it is not a well-formed control message. */
export function decodeControl(bytes: Uint8Array): ControlMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  if (!isObj(v) || !uint(v.n)) return null;
  switch (v.t) {
    case "start":
      return hex(v.id, 32) &&
        uint(v.blockSize) &&
        (v.blockSize as number) > 0 &&
        str(v.path) &&
        str(v.overwrite, 16) &&
        Array.isArray(v.files) &&
        v.files.length <= FILES_PER_MESSAGE &&
        v.files.every(fileEntry) &&
        typeof v.more === "boolean" &&
        (v.rt === undefined || str(v.rt, 256)) &&
        (v.rtp === undefined || v.rtp === null || str(v.rtp))
        ? (v as ControlMessage)
        : null;
    case "files":
      return Array.isArray(v.files) &&
        v.files.length <= FILES_PER_MESSAGE &&
        v.files.every(fileEntry) &&
        typeof v.more === "boolean"
        ? (v as ControlMessage)
        : null;
    case "accept":
      return Array.isArray(v.have) &&
        v.have.every((h) => isObj(h) && uint(h.f) && ranges(h.r)) &&
        Array.isArray(v.done) &&
        v.done.every(uint)
        ? (v as ControlMessage)
        : null;
    case "refuse":
      return str(v.code, 64) && str(v.message) ? (v as ControlMessage) : null;
    case "fileEnd":
      return uint(v.f) && hex(v.sha256, 64) ? (v as ControlMessage) : null;
    case "fileOk":
      return uint(v.f) ? (v as ControlMessage) : null;
    case "fileRetry":
      return uint(v.f) && str(v.message) ? (v as ControlMessage) : null;
    case "fileFailed":
      return uint(v.f) && str(v.code, 64) && str(v.message) ? (v as ControlMessage) : null;
    case "cancel":
      return (v.reason === "cancel" || v.reason === "suspend" || v.reason === "error") && str(v.message)
        ? (v as ControlMessage)
        : null;
    default:
      return null;
  }
}
