/**
 * A datagram transport carried through a relay attachment. It has the shape of a UdpSocket (the
 * drivers take either): a public port of the relay (receiver-side) or an outgoing channel of the
 * relay towards one destination (sender-side).
 */
import { decodePeer, encodeData, encodePeer, type PeerAddress } from "../../core/relay/envelope.js";
import type { DatagramHandler, UdpEndpoint, UdpSocket, UdpSocketCounters } from "../udp-socket.js";

/** What a RelayedTransport needs of the link it belongs to. */
export interface RelayLinkPort {
  /** the attachment's UDP socket toward the relay, null before the first welcome */
  readonly udp: UdpSocket | null;
  /** the attachment token, null while detached */
  readonly token: Uint8Array | null;
  readonly publicHost: string | null;
  /**
   * Sends one envelope to the relay: over UDP, or over the control connection when tunnelled. The
   * envelope may lie in memory from allocateEnvelope, which the link reuses only after a flush.
   */
  sendEnvelope(envelope: Buffer): boolean;
  /** memory for one envelope (exactly `size` bytes), carved from the link's reused arena */
  allocateEnvelope(size: number): Buffer;
  release(transport: RelayedTransport): void;
}

export class RelayedTransport {
  readonly counters: UdpSocketCounters = {
    datagramsSent: 0,
    bytesSent: 0,
    datagramsReceived: 0,
    bytesReceived: 0,
    sendErrors: 0,
    sendDrops: 0,
    receiveErrors: 0,
    lastErrorCode: null,
    batchSyscalls: 0,
    gsoDatagrams: 0,
  };
  /** the relay's channel number while attached; 0 while not open */
  channel = 0;
  /** the port the relay opened publicly (public), or its outgoing socket's port (outgoing) */
  relayPort = 0;
  /** the relay's outgoing socket address (outgoing channels), as the relay reports it */
  relayLocalHost: string | null = null;
  private handler: DatagramHandler | null = null;
  private lastTo: UdpEndpoint | null = null;
  private lastToBytes: Uint8Array | null = null;
  private lastFromBytes: Uint8Array | null = null;
  private lastFrom: PeerAddress | null = null;
  private readonly destinationBytes: Uint8Array | null;
  /** settles when the relay first opened this port or channel (rejects with its RelayError) */
  opened: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly link: RelayLinkPort,
    readonly kind: "public" | "outgoing",
    /** public: the port asked for (0 = any); outgoing: the destination port */
    readonly requestedPort: number,
    /** outgoing only: where the relay sends */
    readonly destination: { host: string; port: number } | null,
  ) {
    this.destinationBytes = destination
      ? encodePeer({
          address: /^[\d.]+$|:/.test(destination.host) ? destination.host : "0.0.0.0",
          port: destination.port,
        })
      : null;
  }

  get isOpen(): boolean {
    return this.channel !== 0 && this.link.token !== null;
  }

  /**
   * Public ports: the relay's public address (what senders must send to). Outgoing channels: the
   * local socket toward the relay.
   */
  get localAddress(): UdpEndpoint {
    if (this.kind === "public") return { address: this.link.publicHost ?? "0.0.0.0", port: this.relayPort };
    return this.link.udp?.localAddress ?? { address: "0.0.0.0", port: 0 };
  }

  get remoteAddress(): UdpEndpoint | null {
    return this.link.udp?.remoteAddress ?? null;
  }

  get grantedRecvBufferSize(): number {
    return this.link.udp?.grantedRecvBufferSize ?? 0;
  }

  get grantedSendBufferSize(): number {
    return this.link.udp?.grantedSendBufferSize ?? 0;
  }

  get warnings(): string[] {
    return this.link.udp?.warnings ?? [];
  }

  get sendQueue(): { datagrams: number; bytes: number } {
    return this.link.udp?.sendQueue ?? { datagrams: 0, bytes: 0 };
  }

  /** Sends through the relay: to `to` (public ports) or to the channel's destination. */
  send(datagram: Uint8Array, to?: UdpEndpoint): boolean {
    const token = this.link.token;
    if (this.closed || !token || this.channel === 0) {
      this.counters.sendDrops++;
      this.counters.lastErrorCode = "RELAY_DETACHED";
      return false;
    }
    let peer = this.destinationBytes;
    if (this.kind === "public") {
      if (!to) return false;
      if (to !== this.lastTo || !this.lastToBytes) {
        try {
          this.lastToBytes = encodePeer(to);
        } catch {
          this.counters.sendErrors++;
          return false;
        }
        this.lastTo = to;
      }
      peer = this.lastToBytes;
    }
    const ok = this.link.sendEnvelope(
      encodeData(token, this.channel, peer!, datagram, this.link.allocateEnvelope),
    );
    if (ok) {
      this.counters.datagramsSent++;
      this.counters.bytesSent += datagram.byteLength;
    } else {
      this.counters.sendDrops++;
    }
    return ok;
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  /** Called by the link with an envelope's payload and the far end's address bytes at `peerStart`. */
  deliver(envelope: Uint8Array, peerStart: number, payloadStart: number): void {
    const payload = envelope.subarray(payloadStart);
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += payload.byteLength;
    const peerBytes = envelope.subarray(peerStart, payloadStart);
    let from = this.lastFrom;
    if (!from || !this.lastFromBytes || Buffer.compare(this.lastFromBytes, peerBytes) !== 0) {
      from = decodePeer(envelope, peerStart);
      this.lastFrom = from;
      this.lastFromBytes = Uint8Array.from(peerBytes);
    }
    this.handler?.(payload as Buffer, from);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    this.link.release(this);
  }
}
