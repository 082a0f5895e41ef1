import dgram from "node:dgram";
import dns from "node:dns";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { nativeUdp, nativeUdpReceive } from "../native/addon.js";
import { NativeReceiver } from "./native-receiver.js";
import { SendBatcher, socketFd } from "./send-batcher.js";

/** An IP address and UDP port. `dgram`'s RemoteInfo satisfies it. */
export interface UdpEndpoint {
  address: string;
  port: number;
}

export interface UdpSocketOptions {
  /** local address to bind, e.g. "127.0.0.1", "::1", "0.0.0.0" */
  host: string;
  /** local port; 0 picks a free one */
  port: number;
  /** fixed peer: the socket is connected, so sends need no address and only this peer is heard */
  connectTo?: { host: string; port: number };
  /** requested SO_RCVBUF in bytes (the OS may grant less) */
  recvBufferSize?: number;
  /** requested SO_SNDBUF in bytes (the OS may grant less) */
  sendBufferSize?: number;
  /**
   * Datagrams libuv may hold when the kernel send buffer is full (it queues instead of
   * returning EAGAIN); beyond this, sends are dropped and counted. Default 1024.
   */
  maxQueuedSends?: number;
  /**
   * Receive without allocating: every batch of datagrams reuses one buffer, so a datagram's bytes
   * are valid only until the handler given to onBatchEnd returns (where a relay flushes what it
   * forwarded with sendTransient). Only for consumers that keep nothing.
   */
  transientReceive?: boolean;
}

export interface UdpSocketCounters {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  /** sends the kernel refused (ENOBUFS, EMSGSIZE, ECONNREFUSED, ...) */
  sendErrors: number;
  /** sends dropped because libuv's send queue was full (the EAGAIN case) */
  sendDrops: number;
  /** socket errors reported on the receive path (e.g. ICMP port unreachable on a connected socket) */
  receiveErrors: number;
  /** code of the most recent send/receive error, e.g. "ENOBUFS"; null if none */
  lastErrorCode: string | null;
  /** system calls that sent a batch (sendmmsg, or one UDP GSO send); 0 without the native path */
  batchSyscalls: number;
  /** datagrams sent as part of a UDP GSO send */
  gsoDatagrams: number;
}

export type DatagramHandler = (data: Buffer, from: UdpEndpoint) => void;

/** What the drivers need of a socket; a relay attachment (src/io/relay) provides the same shape. */
export type DatagramTransport = Pick<
  UdpSocket,
  | "counters"
  | "grantedRecvBufferSize"
  | "grantedSendBufferSize"
  | "localAddress"
  | "warnings"
  | "sendQueue"
  | "send"
  | "onDatagram"
  | "close"
>;

/**
 * A UDP socket for the data path. On Linux with the native addon it batches the datagrams of one
 * event-loop turn (UDP GSO for runs of equal size to one destination, else sendmmsg: see
 * SendBatcher); otherwise each datagram goes to `dgram.send` at once (Node has no sendmmsg, and a
 * list of buffers in one `dgram.send` becomes ONE datagram). Sends never wait for their callbacks;
 * failures are counted and the datagram is dropped (the protocol retransmits).
 */
export class UdpSocket {
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
  /** SO_RCVBUF / SO_SNDBUF as the OS reports them after our request (Linux reports double the usable size) */
  readonly grantedRecvBufferSize: number;
  readonly grantedSendBufferSize: number;
  readonly localAddress: UdpEndpoint;
  readonly remoteAddress: UdpEndpoint | null;
  /** human-readable warnings, e.g. a buffer smaller than requested and the sysctl to raise */
  readonly warnings: string[];

  private handler: DatagramHandler | null = null;
  private batchEndHandler: (() => void) | null = null;
  private readonly batcher: SendBatcher | null;
  private readonly nativeReceiver: NativeReceiver | null;
  private readonly family: 4 | 6;
  private closed = false;
  private readonly maxQueuedSends: number;
  private readonly afterSend = (error: Error | null): void => {
    if (error) this.countError(error, "send");
  };

  private constructor(
    private readonly socket: dgram.Socket,
    options: UdpSocketOptions,
  ) {
    this.maxQueuedSends = options.maxQueuedSends ?? 1024;
    this.grantedRecvBufferSize = socket.getRecvBufferSize();
    this.grantedSendBufferSize = socket.getSendBufferSize();
    const local = socket.address();
    this.localAddress = { address: local.address, port: local.port };
    if (options.connectTo) {
      const remote = socket.remoteAddress();
      this.remoteAddress = { address: remote.address, port: remote.port };
    } else {
      this.remoteAddress = null;
    }
    this.family = local.family === "IPv6" ? 6 : 4;
    const fd = nativeUdp ? socketFd(socket) : null;
    this.batcher =
      fd === null || !nativeUdp
        ? null
        : new SendBatcher(
            nativeUdp,
            fd,
            socket,
            this.counters,
            (datagram, to) => {
              // counted as sent when batched; a datagram the queue refuses was not
              if (this.dgramSend(datagram, to ?? undefined)) return;
              this.counters.datagramsSent--;
              this.counters.bytesSent -= datagram.byteLength;
            },
            (code) => {
              this.counters.sendErrors++;
              this.counters.lastErrorCode = code;
            },
          );
    this.warnings = [
      bufferWarning("receive", options.recvBufferSize, this.grantedRecvBufferSize, "net.core.rmem_max"),
      bufferWarning("send", options.sendBufferSize, this.grantedSendBufferSize, "net.core.wmem_max"),
    ].filter((w): w is string => w !== null);
    const deliver = (data: Buffer, from: UdpEndpoint): void => {
      this.counters.datagramsReceived++;
      this.counters.bytesReceived += data.length;
      this.handler?.(data, from);
    };
    socket.on("message", deliver);
    socket.on("error", (error) => this.countError(error, "receive"));
    this.nativeReceiver = NativeReceiver.start(
      nativeUdpReceive,
      socket,
      fd,
      this.remoteAddress,
      deliver,
      (code) => {
        this.counters.receiveErrors++;
        this.counters.lastErrorCode = code;
      },
      options.transientReceive ? { onBatchEnd: () => this.batchEndHandler?.() } : null,
    );
  }

  /** whether datagrams arrive through the addon's batched receive or dgram's events */
  get receivePath(): "dgram" | "recvmmsg" {
    return this.nativeReceiver ? "recvmmsg" : "dgram";
  }

  static async open(options: UdpSocketOptions): Promise<UdpSocket> {
    const bindAddress = await resolveAddress(options.host);
    const type = isIP(bindAddress) === 6 ? "udp6" : "udp4";
    const socket = dgram.createSocket({
      type,
      recvBufferSize: options.recvBufferSize,
      sendBufferSize: options.sendBufferSize,
      lookup: lookupLiteralSynchronously,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(options.port, bindAddress, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      if (options.connectTo) {
        const peer = await resolveAddress(options.connectTo.host);
        const port = options.connectTo.port;
        await new Promise<void>((resolve, reject) => {
          socket.connect(port, peer, (error?: Error) => (error ? reject(error) : resolve()));
        });
      }
    } catch (error) {
      socket.close();
      throw error;
    }
    return new UdpSocket(socket, options);
  }

  /**
   * Sends one datagram (to the connected peer when `to` is omitted). Returns false when it was
   * dropped at once (socket closed or send queue full); later kernel errors only show in counters.
   */
  send(datagram: Uint8Array, to?: UdpEndpoint): boolean {
    if (this.closed) return false;
    if (this.batcher && this.socket.getSendQueueCount() === 0 && this.batchable(to)) {
      this.batcher.add(datagram, to ?? null);
    } else if (!this.dgramSend(datagram, to)) {
      return false;
    }
    this.counters.datagramsSent++;
    this.counters.bytesSent += datagram.byteLength;
    return true;
  }

  /**
   * send() for a datagram whose memory the caller reuses after its next flushSends(): one that
   * has to wait in dgram's queue (the kernel buffer is full) is copied first.
   */
  sendTransient(datagram: Uint8Array, to?: UdpEndpoint): boolean {
    if (this.batcher && this.socket.getSendQueueCount() === 0 && this.batchable(to) && !this.closed) {
      this.batcher.add(datagram, to ?? null, true);
      this.counters.datagramsSent++;
      this.counters.bytesSent += datagram.byteLength;
      return true;
    }
    return this.send(Uint8Array.prototype.slice.call(datagram), to);
  }

  /** Hands every batched datagram to the kernel now (a transient one that must wait: a copy to dgram's queue). */
  flushSends(): void {
    this.batcher?.flush();
  }

  /** Called after each batch of a transientReceive socket, before its buffer is reused. */
  onBatchEnd(handler: () => void): void {
    this.batchEndHandler = handler;
  }

  /** a connected socket's own peer, or (unconnected) an IP literal of the socket's family */
  private batchable(to: UdpEndpoint | undefined): boolean {
    if (!to) return this.remoteAddress !== null;
    return this.remoteAddress === null && isIP(to.address) === this.family && !to.address.includes("%");
  }

  /** whether sends on this socket are batched natively, and whether with UDP GSO */
  get sendPath(): "dgram" | "sendmmsg" | "gso" {
    if (!this.batcher) return "dgram";
    return this.batcher.gsoEnabled ? "gso" : "sendmmsg";
  }

  private dgramSend(datagram: Uint8Array, to?: UdpEndpoint): boolean {
    if (this.socket.getSendQueueCount() >= this.maxQueuedSends) {
      this.counters.sendDrops++;
      this.counters.lastErrorCode = "EAGAIN";
      return false;
    }
    try {
      if (to) this.socket.send(datagram, to.port, to.address, this.afterSend);
      else this.socket.send(datagram, this.afterSend);
    } catch (error) {
      // synchronous throws: bad arguments, or a connected socket given an address
      this.countError(error as Error, "send");
      return false;
    }
    return true;
  }

  /** Sets the one handler for incoming datagrams (replacing any previous one). */
  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  /** Datagrams and bytes waiting in libuv because the kernel buffer was full. */
  get sendQueue(): { datagrams: number; bytes: number } {
    if (this.closed) return { datagrams: 0, bytes: 0 };
    return { datagrams: this.socket.getSendQueueCount(), bytes: this.socket.getSendQueueSize() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.batcher?.flush();
    this.closed = true;
    this.handler = null;
    this.nativeReceiver?.stop();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private countError(error: Error, path: "send" | "receive"): void {
    if (path === "send") this.counters.sendErrors++;
    else this.counters.receiveErrors++;
    this.counters.lastErrorCode = (error as NodeJS.ErrnoException).code ?? error.message;
  }
}

async function resolveAddress(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  return (await lookup(host)).address;
}

/**
 * dgram resolves the address of every unconnected send through dns.lookup, which defers the send
 * to a later tick even for an IP literal; answering literals at once measured ~10 % faster.
 */
function lookupLiteralSynchronously(
  hostname: string,
  options: dns.LookupOneOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dns.lookup(hostname, options, callback);
}

/**
 * Linux stores double the requested size (half is bookkeeping) and caps the request at the
 * sysctl, so the usable size is half of what getsockopt reports.
 */
export function usableBufferSize(reported: number): number {
  return process.platform === "linux" ? Math.floor(reported / 2) : reported;
}

function bufferWarning(
  direction: "receive" | "send",
  requested: number | undefined,
  reported: number,
  sysctl: string,
): string | null {
  if (requested === undefined || usableBufferSize(reported) >= requested) return null;
  const fix =
    process.platform === "linux"
      ? `; raise the cap with \`sysctl -w ${sysctl}=${requested}\``
      : process.platform === "darwin" || process.platform === "freebsd"
        ? "; raise kern.ipc.maxsockbuf"
        : "";
  return (
    `UDP ${direction} buffer: requested ${requested} bytes, the OS granted ${usableBufferSize(reported)}` +
    (process.platform === "linux" ? ` (Linux caps it at ${sysctl})` : "") +
    fix
  );
}
