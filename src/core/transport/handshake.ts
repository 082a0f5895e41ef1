/**
 * The handshake is pluggable: the transport carries opaque HANDSHAKE frames and asks a handshake
 * implementation what to say and what protection to use afterwards. PlainHandshake exchanges
 * identities and parameters in the clear (cipher "none"); the encryption layer provides a
 * Noise-style implementation of the same two interfaces.
 */
import { ChecksumProtection, type PacketProtection } from "../wire/protection.js";
import { SUPPORTED_VERSIONS } from "../wire/packet.js";

export interface PeerInfo {
  serverId: string | null;
  serverUid: string | null;
  protocolVersion: number;
  /** the peer's long-term public key, when the handshake authenticated one */
  publicKey: string | null;
  cipher: string;
  /** initiator: publicKey was learned in this handshake (trust on first use), not pinned beforehand */
  keyLearned?: boolean;
}

export interface HandshakeOutcome {
  peer: PeerInfo;
  protection: PacketProtection;
  /** datagram size both ends accept: the smaller of the two */
  datagramSize: number;
}

export interface HandshakeFailure {
  /** a Connection `lastError` code (api.md §6.4), e.g. VERSION_MISMATCH, NOT_AUTHORIZED */
  error: string;
  message: string;
  /**
   * The message did not authenticate or parse (corrupted, forged, random): count it as invalid,
   * answer nothing and keep waiting; the genuine message may still arrive.
   */
  drop?: boolean;
  /** responder: an authenticated refusal for the initiator, sent in a HANDSHAKE frame before the CLOSE */
  reply?: Uint8Array;
}

export interface HandshakeInitiator {
  /** the first flight; called again for each retransmission */
  hello(): Uint8Array;
  onReply(data: Uint8Array): HandshakeOutcome | HandshakeFailure;
}

export interface HandshakeResponder {
  onHello(data: Uint8Array): { reply: Uint8Array; outcome: HandshakeOutcome } | HandshakeFailure;
}

export interface LocalIdentity {
  serverId: string | null;
  serverUid: string | null;
}

interface PlainHello {
  versions: number[];
  serverId: string | null;
  serverUid: string | null;
  datagramSize: number;
}

/** first byte of a Noise hello (src/core/crypto/noise-handshake.ts); a plain hello starts with "{" */
const NOISE_IK = 0x01;
const NOISE_IX = 0x02;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function parseHello(data: Uint8Array): PlainHello | null {
  try {
    const v: unknown = JSON.parse(decoder.decode(data));
    if (typeof v !== "object" || v === null) return null;
    const o = v as Record<string, unknown>;
    const id = (x: unknown): x is string | null => x === null || (typeof x === "string" && x.length <= 64);
    if (!Array.isArray(o.versions) || !o.versions.every((x) => Number.isInteger(x))) return null;
    if (!id(o.serverId) || !id(o.serverUid)) return null;
    if (!Number.isInteger(o.datagramSize) || (o.datagramSize as number) < 576) return null;
    return {
      versions: o.versions as number[],
      serverId: o.serverId,
      serverUid: o.serverUid,
      datagramSize: o.datagramSize as number,
    };
  } catch {
    return null;
  }
}

function outcomeFrom(h: PlainHello, version: number, datagramSize: number): HandshakeOutcome {
  return {
    peer: {
      serverId: h.serverId,
      serverUid: h.serverUid,
      protocolVersion: version,
      publicKey: null,
      cipher: "none",
    },
    protection: new ChecksumProtection(),
    datagramSize: Math.min(datagramSize, h.datagramSize),
  };
}

export class PlainHandshakeInitiator implements HandshakeInitiator {
  constructor(
    private readonly local: LocalIdentity,
    private readonly datagramSize: number,
  ) {}

  hello(): Uint8Array {
    const h: PlainHello = {
      versions: [...SUPPORTED_VERSIONS],
      ...this.local,
      datagramSize: this.datagramSize,
    };
    return encoder.encode(JSON.stringify(h));
  }

  onReply(data: Uint8Array): HandshakeOutcome | HandshakeFailure {
    const h = parseHello(data);
    if (h === null || h.versions.length !== 1)
      return { error: "PROTOCOL", message: "malformed handshake reply", drop: true };
    if (!SUPPORTED_VERSIONS.includes(h.versions[0]!)) {
      return { error: "VERSION_MISMATCH", message: `receiver chose unsupported version ${h.versions[0]}` };
    }
    return outcomeFrom(h, h.versions[0]!, this.datagramSize);
  }
}

export class PlainHandshakeResponder implements HandshakeResponder {
  constructor(
    private readonly local: LocalIdentity,
    private readonly datagramSize: number,
  ) {}

  onHello(data: Uint8Array): { reply: Uint8Array; outcome: HandshakeOutcome } | HandshakeFailure {
    if (data[0] === NOISE_IK || data[0] === NOISE_IX) {
      return {
        error: "CIPHER_REJECTED",
        message: "this receiver has no key pair and accepts only unencrypted (none) sessions",
      };
    }
    const h = parseHello(data);
    if (h === null) return { error: "PROTOCOL", message: "malformed handshake" };
    const version = Math.max(...h.versions.filter((v) => SUPPORTED_VERSIONS.includes(v)), -1);
    if (version < 0) {
      return {
        error: "VERSION_MISMATCH",
        message: `no common protocol version (receiver: ${SUPPORTED_VERSIONS.join(",")}; sender: ${h.versions.join(",")})`,
      };
    }
    const reply: PlainHello = { versions: [version], ...this.local, datagramSize: this.datagramSize };
    return {
      reply: encoder.encode(JSON.stringify(reply)),
      outcome: outcomeFrom(h, version, this.datagramSize),
    };
  }
}

export function isFailure(
  x: HandshakeOutcome | HandshakeFailure | { reply: Uint8Array },
): x is HandshakeFailure {
  return "error" in x;
}
