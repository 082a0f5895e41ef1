/**
 * The envelope between an attached server and the relay's UDP port. Every datagram carries the
 * attachment token (from the control connection's welcome), so the relay knows which server it
 * belongs to and learns that server's UDP path (and NAT mapping) from it.
 *
 *   0   1    kind: 0xE1 data, 0xE2 ping (server → relay), 0xE3 pong (relay → server)
 *   1   8    attachment token
 *   data only:
 *   9   2    channel (a public port or an outgoing channel of this attachment)
 *   11  1    address family: 4 or 6
 *   12  4|16 far end's IP address (the outside peer the payload comes from or goes to)
 *   …   2    far end's UDP port
 *   …   …    payload: the Slipstream datagram, untouched
 */
export const ENVELOPE_DATA = 0xe1;
export const ENVELOPE_PING = 0xe2;
export const ENVELOPE_PONG = 0xe3;
export const TOKEN_BYTES = 8;
const CHANNEL_AT = 1 + TOKEN_BYTES;
const FAMILY_AT = CHANNEL_AT + 2;
export const MAX_ENVELOPE_OVERHEAD = FAMILY_AT + 1 + 16 + 2;

export interface PeerAddress {
  address: string;
  port: number;
}

export type Envelope =
  | { kind: "data"; token: string; channel: number; peer: PeerAddress; payload: Uint8Array }
  | { kind: "ping" | "pong"; token: string };

/** The token as a map key. */
export function tokenKey(token: Uint8Array): string {
  return Buffer.from(token.buffer, token.byteOffset, token.byteLength).toString("hex");
}

/** Raw address bytes of an IP literal; null if it is not one. */
export function addressBytes(address: string): Uint8Array | null {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : null;
  }
  if (!address.includes(":")) return null;
  const zoneless = address.split("%")[0]!;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(zoneless);
  let text = zoneless;
  const words: number[] = [];
  if (tail) {
    const four = addressBytes(tail[1]!);
    if (!four) return null;
    text =
      zoneless.slice(0, -tail[1]!.length) +
      `${((four[0]! << 8) | four[1]!).toString(16)}:${((four[2]! << 8) | four[3]!).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    for (const w of s.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
      out.push(parseInt(w, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return null;
  const fill = 8 - head.length - rest.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  words.push(...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest);
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.subarray(12).join(".")}`; // as Node reports IPv4 peers of dual-stack sockets
  }
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Node reports IPv6 peers compressed; compress the longest zero run the same way.
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best < 0) return words.join(":");
  return `${words.slice(0, best).join(":")}::${words.slice(best + bestLength).join(":")}`;
}

/** Pre-encodes the peer part of a data envelope (family, address, port). */
export function encodePeer(peer: PeerAddress): Uint8Array {
  const address = addressBytes(peer.address);
  if (!address) throw new Error(`not an IP address: ${peer.address}`);
  const out = new Uint8Array(1 + address.length + 2);
  out[0] = address.length === 4 ? 4 : 6;
  out.set(address, 1);
  out[out.length - 2] = peer.port >> 8;
  out[out.length - 1] = peer.port & 0xff;
  return out;
}

/** A data envelope around `payload`; `peer` as returned by encodePeer. */
export function encodeData(
  token: Uint8Array,
  channel: number,
  peer: Uint8Array,
  payload: Uint8Array,
  allocate: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  const out = allocate(FAMILY_AT + peer.length + payload.byteLength);
  out[0] = ENVELOPE_DATA;
  out.set(token, 1);
  out.writeUInt16BE(channel, CHANNEL_AT);
  out.set(peer, FAMILY_AT);
  out.set(payload, FAMILY_AT + peer.length);
  return out;
}

export function encodeSignal(kind: "ping" | "pong", token: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + TOKEN_BYTES);
  out[0] = kind === "ping" ? ENVELOPE_PING : ENVELOPE_PONG;
  out.set(token, 1);
  return out;
}

/** Reads the fixed part of a data envelope without decoding the address; null when malformed. */
export function peekData(
  datagram: Uint8Array,
): { channel: number; peerStart: number; payloadStart: number } | null {
  if (datagram.byteLength < FAMILY_AT + 1 || datagram[0] !== ENVELOPE_DATA) return null;
  const family = datagram[FAMILY_AT];
  const length = family === 4 ? 4 : family === 6 ? 16 : -1;
  if (length < 0) return null;
  const payloadStart = FAMILY_AT + 1 + length + 2;
  if (datagram.byteLength <= payloadStart) return null;
  const channel = (datagram[CHANNEL_AT]! << 8) | datagram[CHANNEL_AT + 1]!;
  return { channel, peerStart: FAMILY_AT, payloadStart };
}

/** Decodes the peer at `start` (family byte first). */
export function decodePeer(datagram: Uint8Array, start: number): PeerAddress {
  const length = datagram[start] === 4 ? 4 : 16;
  const address = formatAddress(datagram.subarray(start + 1, start + 1 + length));
  const port = (datagram[start + 1 + length]! << 8) | datagram[start + 2 + length]!;
  return { address, port };
}

/** Decodes any envelope; null when malformed. */
export function decodeEnvelope(datagram: Uint8Array): Envelope | null {
  if (datagram.byteLength < 1 + TOKEN_BYTES) return null;
  const token = tokenKey(datagram.subarray(1, 1 + TOKEN_BYTES));
  const kind = datagram[0];
  if (kind === ENVELOPE_PING || kind === ENVELOPE_PONG) {
    return datagram.byteLength === 1 + TOKEN_BYTES
      ? { kind: kind === ENVELOPE_PING ? "ping" : "pong", token }
      : null;
  }
  const data = peekData(datagram);
  if (!data) return null;
  return {
    kind: "data",
    token,
    channel: data.channel,
    peer: decodePeer(datagram, data.peerStart),
    payload: datagram.subarray(data.payloadStart),
  };
}
