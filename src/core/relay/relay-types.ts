/** The relay core's options, forwarding table entries, actions and counters. */
import type { Micros } from "../time.js";
import type { PeerAddress } from "./envelope.js";
import type { PortRange } from "./port-ranges.js";
import type { X25519Key } from "./x25519.js";
import type { ControlSeal } from "./control-seal.js";

export interface RelayCoreOptions {
  relayPrivateKey: X25519Key;
  /** base64url public keys of servers allowed to attach */
  allowedKeys: readonly string[];
  allowAnyServer?: boolean;
  /** UDP port attached servers send envelopes to (the control port number) */
  udpPort: number;
  /** host reported to servers for their public address; default the address they dialled */
  externalHost?: string | null;
  maxServers?: number;
  /** ports servers may open publicly; default 1024–65535 */
  publicPorts?: readonly PortRange[];
  maxChannelsPerServer?: number;
  /** control connections not yet attached, at once */
  maxPendingControl?: number;
  authTimeout?: Micros;
  /** bytes per second per source (outside IP, or attached server); 0 = unlimited */
  sourceRate?: number;
  sourceBurst?: number;
  maxSources?: number;
  randomBytes: (n: number) => Uint8Array;
  /**
   * Memory for the data envelopes fromOutside returns (exactly `size` bytes); default a new buffer
   * each. The relay server carves them from a reused arena.
   */
  allocateEnvelope?: (size: number) => Buffer;
}

export interface ChannelCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
}

export interface RelayChannel {
  readonly attachment: RelayAttachment;
  readonly number: number;
  readonly kind: "public" | "outgoing";
  readonly req: number;
  /** requested public port (0 = any) or the outgoing destination */
  readonly requestedPort: number;
  readonly destination: PeerAddress | null;
  open: boolean;
  /** bound public port, or the outgoing socket's local port, once open */
  localPort: number;
  readonly counters: ChannelCounters;
  lastPeer: PeerAddress | null;
  lastPeerBytes: Uint8Array | null;
}

export interface RelayAttachment {
  readonly conn: number;
  readonly serverKey: string;
  readonly token: Buffer;
  readonly remote: string;
  readonly attachedAt: Micros;
  udpPath: PeerAddress | null;
  /** the server asked for its datagrams over the control connection (no UDP path works) */
  tunnelled: boolean;
  readonly channels: Map<number, RelayChannel>;
  nextChannel: number;
  /** this server's key in the per-source rate limiter */
  readonly limiterKey: string;
  /** seals and opens every control frame after the welcome */
  readonly seal: ControlSeal;
}

export type RelayAction =
  | { type: "send"; conn: number; bytes: Buffer }
  | { type: "closeControl"; conn: number; reason: string }
  | { type: "openPublic"; channel: RelayChannel; port: number }
  | { type: "openOutgoing"; channel: RelayChannel; host: string; port: number }
  | { type: "closeChannel"; channel: RelayChannel }
  /** a data envelope the server sent over its control connection, to send out */
  | { type: "forward"; forward: InnerForward }
  | { type: "log"; level: "info" | "warn"; message: string };

export type InnerForward =
  | { kind: "outside"; channel: RelayChannel; to: PeerAddress; payload: Uint8Array }
  | { kind: "reply"; to: PeerAddress; datagram: Buffer };

export interface RelayCounters {
  packetsToServers: number;
  bytesToServers: number;
  packetsFromServers: number;
  bytesFromServers: number;
  dropsRateLimited: number;
  dropsNoServerPath: number;
  dropsUnknownAttachment: number;
  dropsUnknownChannel: number;
  dropsMalformedDatagram: number;
  malformedControl: number;
  oversizedControl: number;
  refusedServers: number;
  authTimeouts: number;
}
