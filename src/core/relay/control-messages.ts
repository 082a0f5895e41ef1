/**
 * Messages on the relay's TCP control connection: u32 big-endian length, then one JSON object
 * with a `t` field naming it, or (first byte 0xE1, never "{") a data envelope carried over the
 * connection because no UDP path works ("tunnelled"). Every field is validated; a malformed message is dropped and
 * counted, an oversized frame ends the connection (its framing cannot be trusted any more).
 */
export const MAX_CONTROL_FRAME = 64 * 1024;

export type ControlMessage =
  /** relay → server on connect */
  | { t: "hello"; v: number; relayKey: string; ephemeral: string; nonce: string }
  /** server → relay */
  | { t: "auth"; serverKey: string; nonce: string; mac: string }
  /** relay → server: attached; `token` goes in every envelope, `udpPort` is where they go */
  | { t: "welcome"; mac: string; token: string; udpPort: number; publicHost: string }
  | { t: "refused"; code: string; message: string }
  /** server → relay: open public port `port` (0 = any) for datagrams to this server */
  | { t: "openPort"; req: number; port: number }
  | { t: "portOpened"; req: number; channel: number; port: number }
  /** server → relay: open an outgoing socket to host:port (sender-side relay) */
  | { t: "openChannel"; req: number; host: string; port: number }
  | { t: "channelOpened"; req: number; channel: number; localHost: string; localPort: number }
  | { t: "openFailed"; req: number; code: string; message: string }
  | { t: "close"; channel: number }
  /** server → relay: send my datagrams over UDP (true) or over this connection (false, "tunnelled") */
  | { t: "path"; udp: boolean }
  /** relay → server: a message was malformed or not allowed now */
  | { t: "error"; code: string; message: string };

export type ControlType = ControlMessage["t"];

type FieldKind = "string" | "int" | "port" | "bool";
const FIELDS: Record<ControlType, Record<string, FieldKind>> = {
  hello: { v: "int", relayKey: "string", ephemeral: "string", nonce: "string" },
  auth: { serverKey: "string", nonce: "string", mac: "string" },
  welcome: { mac: "string", token: "string", udpPort: "port", publicHost: "string" },
  refused: { code: "string", message: "string" },
  openPort: { req: "int", port: "port" },
  portOpened: { req: "int", channel: "int", port: "port" },
  openChannel: { req: "int", host: "string", port: "port" },
  channelOpened: { req: "int", channel: "int", localHost: "string", localPort: "port" },
  openFailed: { req: "int", code: "string", message: "string" },
  close: { channel: "int" },
  path: { udp: "bool" },
  error: { code: "string", message: "string" },
};

function valid(kind: FieldKind, value: unknown): boolean {
  if (kind === "string") return typeof value === "string" && value.length <= 1024;
  if (kind === "bool") return typeof value === "boolean";
  if (!Number.isSafeInteger(value) || (value as number) < 0) return false;
  return kind === "int" || (value as number) <= 65_535;
}

/** Parses one frame's JSON; null when it is not a known, well-formed message. */
export function parseControlMessage(bytes: Uint8Array): ControlMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const type = record.t;
  if (typeof type !== "string" || !Object.hasOwn(FIELDS, type)) return null;
  const fields = FIELDS[type as ControlType];
  for (const [name, kind] of Object.entries(fields)) if (!valid(kind, record[name])) return null;
  const message: Record<string, unknown> = { t: type };
  for (const name of Object.keys(fields)) message[name] = record[name];
  return message as ControlMessage;
}

/** A message as a frame body (JSON), before any sealing or length prefix. */
export function encodeControlBody(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify(message), "utf8");
}

/** A frame body with its u32 big-endian length prefix, as written to the control connection. */
export function lengthPrefixed(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.byteLength);
  out.writeUInt32BE(body.byteLength, 0);
  out.set(body, 4);
  return out;
}

/** Cuts a TCP byte stream into frames; holds at most one partial frame (≤ MAX_CONTROL_FRAME). */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);
  /** set once a frame announced more than MAX_CONTROL_FRAME bytes; nothing more is read */
  oversized = false;

  push(chunk: Uint8Array): Buffer[] {
    if (this.oversized) return [];
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (length > MAX_CONTROL_FRAME) {
        this.oversized = true;
        this.pending = Buffer.alloc(0);
        return frames;
      }
      if (this.pending.length < 4 + length) break;
      frames.push(this.pending.subarray(4, 4 + length));
      this.pending = this.pending.subarray(4 + length);
    }
    return frames;
  }
}
