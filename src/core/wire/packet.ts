/**
 * Datagram layout (docs/protocol.md):
 *
 *   0      1      2                10             16
 *   +------+------+----------------+--------------+---------- ... ----------+---------+
 *   | ver  | type | session id (8) | packet # (6) | frames                  | trailer |
 *   +------+------+----------------+--------------+---------- ... ----------+---------+
 *
 * The header is authenticated by the trailer: a CRC-32C for unencrypted sessions, an AEAD tag
 * once a key is negotiated (PacketProtection). Packet numbers count up per direction and are never
 * reused; a retransmission travels in a new packet.
 */
import { DecodeError, Reader } from "./varint.js";

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];
export const HEADER_SIZE = 16;
export const MAX_PACKET_NUMBER = 2 ** 48 - 1;
/** Smallest and largest datagram sizes accepted by configuration (server.md §2.1). */
export const MIN_DATAGRAM_SIZE = 576;
export const MAX_DATAGRAM_SIZE = 9000;

export enum PacketType {
  /** sender → receiver: opens a session; carries a HANDSHAKE frame */
  Initial = 1,
  /** receiver → sender: answers an Initial; carries a HANDSHAKE frame */
  Handshake = 2,
  /** either direction once the session is established */
  Established = 3,
  /** receiver → sender, unprotected: "no such session" (e.g. the receiver restarted) */
  Reset = 4,
}

export interface PacketHeader {
  version: number;
  type: PacketType;
  /** 16 lowercase hex characters */
  sessionId: string;
  packetNumber: number;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function readSessionId(buf: Uint8Array, pos: number): string {
  let s = "";
  for (let i = 0; i < 8; i++) s += HEX[buf[pos + i]!];
  return s;
}

export function writeSessionId(buf: Uint8Array, pos: number, sessionId: string): void {
  for (let i = 0; i < 8; i++) buf[pos + i] = parseInt(sessionId.slice(i * 2, i * 2 + 2), 16);
}

export function sessionIdBytes(sessionId: string): Uint8Array {
  const out = new Uint8Array(8);
  writeSessionId(out, 0, sessionId);
  return out;
}

/** Writes the header; `idBytes` may carry the session id pre-encoded (hot path). */
export function writeHeader(buf: Uint8Array, h: PacketHeader, idBytes?: Uint8Array): number {
  buf[0] = h.version;
  buf[1] = h.type;
  if (idBytes) buf.set(idBytes, 2);
  else writeSessionId(buf, 2, h.sessionId);
  const pn = h.packetNumber;
  const hi = Math.floor(pn / 0x100000000);
  buf[10] = (hi >>> 8) & 0xff;
  buf[11] = hi & 0xff;
  buf[12] = pn >>> 24;
  buf[13] = (pn >>> 16) & 0xff;
  buf[14] = (pn >>> 8) & 0xff;
  buf[15] = pn & 0xff;
  return HEADER_SIZE;
}

export type HeaderResult =
  { ok: true; header: PacketHeader } | { ok: false; reason: "truncated" | "version" | "type" };

/** Parses the cleartext header. It is not yet authenticated: trust nothing until the trailer checks. */
export function parseHeader(buf: Uint8Array): HeaderResult {
  if (buf.length < HEADER_SIZE) return { ok: false, reason: "truncated" };
  const version = buf[0]!;
  if (!SUPPORTED_VERSIONS.includes(version)) return { ok: false, reason: "version" };
  const type = buf[1]!;
  if (type < PacketType.Initial || type > PacketType.Reset) return { ok: false, reason: "type" };
  const lo = ((buf[12]! << 24) | (buf[13]! << 16) | (buf[14]! << 8) | buf[15]!) >>> 0;
  const pn = (buf[10]! * 256 + buf[11]!) * 0x100000000 + lo;
  return { ok: true, header: { version, type, sessionId: readSessionId(buf, 2), packetNumber: pn } };
}

export { DecodeError, Reader };
