/**
 * The relay process's sockets around the sans-IO RelayCore: the TCP control port, the UDP port of
 * the same number (envelopes from and to attached servers), one UDP socket per public port an
 * attached receiver asked for, and one connected UDP socket per outgoing channel of an attached
 * sender. Forwarding happens in the socket callbacks, one datagram at a time, without queueing
 * and without allocating: the sockets receive into reused buffers (transientReceive), envelopes
 * are carved from a reused arena, and what a batch forwarded is handed to the kernel when the
 * batch ends, before that memory is reused (docs/benchmarks.md, "Relay").
 */
import net from "node:net";
import {
  RelayCore,
  type InnerForward,
  type RelayAction,
  type RelayChannel,
  type RelayCounters,
} from "../../core/relay/relay-core.js";
import type { PortRange } from "../../core/relay/port-ranges.js";
import type { X25519Key } from "../../core/relay/x25519.js";
import { randomBytes } from "node:crypto";
import { monotonicMicros } from "../drivers/clock.js";
import { UdpSocket, type UdpEndpoint } from "../udp-socket.js";
import { EnvelopeArena } from "./envelope-arena.js";

export const DEFAULT_RELAY_PORT = 8887;

export interface RelayServerOptions {
  privateKey: X25519Key;
  /** base64url public keys of servers allowed to attach */
  allowedKeys: readonly string[];
  allowAnyServer?: boolean;
  /** bind address of the control port (TCP and UDP); default all interfaces */
  controlHost?: string;
  /** default 8887; 0 picks a free port (the same number for TCP and UDP) */
  controlPort?: number;
  /** bind address of public and outgoing UDP sockets; default all interfaces */
  publicHost?: string;
  publicPorts?: readonly PortRange[];
  externalHost?: string | null;
  maxServers?: number;
  /** bytes per second per source; 0 = unlimited */
  sourceRate?: number;
  maxSources?: number;
  recvBufferSize?: number;
  sendBufferSize?: number;
  onLog?: (level: "info" | "warn", message: string) => void;
}

export interface RelayChannelStatus {
  channel: number;
  kind: "public" | "outgoing";
  /** public port, or the outgoing socket's local port */
  port: number;
  destination: UdpEndpoint | null;
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
}

export interface RelayServerStatus {
  control: UdpEndpoint;
  publicKey: string;
  servers: Array<{
    serverKey: string;
    remote: string;
    udpPath: UdpEndpoint | null;
    tunnelled: boolean;
    attachedSeconds: number;
    channels: RelayChannelStatus[];
  }>;
  pendingControl: number;
  trackedSources: number;
  counters: RelayCounters;
  socketSendDrops: number;
  socketSendErrors: number;
  /** datagrams for tunnelled servers dropped because their control connection was backed up */
  tunnelDrops: number;
}

const MAX_CONTROL_BACKLOG = 1024 * 1024;
/** tunnelled datagrams waiting in a control connection's buffer beyond this are dropped */
const MAX_TUNNEL_BACKLOG = 4 * 1024 * 1024;

export class RelayServer {
  readonly core: RelayCore;
  private readonly connections = new Map<number, net.Socket>();
  private readonly sockets = new Map<RelayChannel, UdpSocket>();
  private readonly closedSocketCounters = { sendDrops: 0, sendErrors: 0 };
  private readonly timer: NodeJS.Timeout;
  private readonly arena: EnvelopeArena;
  /** public and outgoing sockets given datagrams of the current receive batch */
  private readonly pendingOut = new Set<UdpSocket>();
  private nextConn = 1;
  private tunnelDrops = 0;
  private closed = false;

  private constructor(
    private readonly options: RelayServerOptions,
    private readonly tcp: net.Server,
    private readonly udp: UdpSocket,
  ) {
    this.arena = new EnvelopeArena(() => this.udp.flushSends());
    this.core = new RelayCore({
      relayPrivateKey: options.privateKey,
      allowedKeys: options.allowedKeys,
      allowAnyServer: options.allowAnyServer,
      udpPort: udp.localAddress.port,
      externalHost: options.externalHost,
      maxServers: options.maxServers,
      publicPorts: options.publicPorts,
      sourceRate: options.sourceRate,
      maxSources: options.maxSources,
      randomBytes: (n) => randomBytes(n),
      allocateEnvelope: this.arena.allocate,
    });
    tcp.on("connection", (socket) => this.onConnection(socket));
    udp.onDatagram((data, from) => {
      const forward = this.core.fromServer(monotonicMicros(), data, from);
      if (forward) this.sendOut(forward, true);
    });
    // the payloads just forwarded lie in the batch buffer the next batch overwrites
    udp.onBatchEnd(() => {
      for (const socket of this.pendingOut) socket.flushSends();
      this.pendingOut.clear();
    });
    this.timer = setInterval(() => {
      this.core.handleTimeout(monotonicMicros());
      this.drain();
    }, 1000);
    this.timer.unref();
  }

  static async start(options: RelayServerOptions): Promise<RelayServer> {
    const host = options.controlHost ?? "0.0.0.0";
    const wanted = options.controlPort ?? DEFAULT_RELAY_PORT;
    // Port 0: the OS picks the TCP port, the UDP socket then needs the same number (rarely taken).
    for (let attempt = 0; ; attempt++) {
      const tcp = net.createServer({ noDelay: true });
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ host, port: wanted }, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      const port = (tcp.address() as net.AddressInfo).port;
      try {
        const udp = await UdpSocket.open({
          host,
          port,
          recvBufferSize: options.recvBufferSize ?? 8 * 1024 * 1024,
          sendBufferSize: options.sendBufferSize ?? 8 * 1024 * 1024,
          transientReceive: true,
        });
        return new RelayServer(options, tcp, udp);
      } catch (error) {
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        if (wanted !== 0 || attempt >= 8) throw error;
      }
    }
  }

  /** The control port's address (TCP and UDP). */
  get controlAddress(): UdpEndpoint {
    return this.udp.localAddress;
  }

  get publicKey(): string {
    return this.core.publicKey;
  }

  /** Socket warnings (buffers smaller than requested). */
  get warnings(): string[] {
    return [...this.udp.warnings];
  }

  status(): RelayServerStatus {
    const now = monotonicMicros();
    let sendDrops = this.closedSocketCounters.sendDrops + this.udp.counters.sendDrops;
    let sendErrors = this.closedSocketCounters.sendErrors + this.udp.counters.sendErrors;
    for (const s of this.sockets.values()) {
      sendDrops += s.counters.sendDrops;
      sendErrors += s.counters.sendErrors;
    }
    return {
      control: this.controlAddress,
      publicKey: this.publicKey,
      servers: this.core.attachments.map((a) => ({
        serverKey: a.serverKey,
        remote: a.remote,
        udpPath: a.udpPath,
        tunnelled: a.tunnelled,
        attachedSeconds: Math.round((now - a.attachedAt) / 1e6),
        channels: [...a.channels.values()].map((c) => ({
          channel: c.number,
          kind: c.kind,
          port: c.localPort,
          destination: c.destination,
          ...c.counters,
        })),
      })),
      pendingControl: this.core.pendingCount,
      trackedSources: this.core.trackedSources,
      counters: { ...this.core.counters },
      socketSendDrops: sendDrops,
      socketSendErrors: sendErrors,
      tunnelDrops: this.tunnelDrops,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const socket of this.connections.values()) socket.destroy();
    this.connections.clear();
    await Promise.all([...this.sockets.values()].map((s) => s.close()));
    this.sockets.clear();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    await this.udp.close();
  }

  /** `transient`: the payload lies in a receive batch's buffer, flushed at the batch's end */
  private sendOut(forward: InnerForward, transient = false): void {
    if (forward.kind === "reply") {
      this.udp.send(forward.datagram, forward.to);
      return;
    }
    const out = this.sockets.get(forward.channel);
    if (!out) return;
    const to = forward.channel.kind === "outgoing" ? undefined : forward.to;
    if (!transient) {
      out.send(forward.payload, to);
      return;
    }
    out.sendTransient(forward.payload, to);
    this.pendingOut.add(out);
  }

  /** A datagram for a tunnelled server, as one sealed frame on its control connection. */
  private sendTunnelled(conn: number, datagram: Buffer): void {
    const socket = this.connections.get(conn);
    if (!socket || socket.writableLength > MAX_TUNNEL_BACKLOG) {
      this.tunnelDrops++;
      return;
    }
    this.core.tunnel(conn, datagram); // sealing copies it out of the arena
    this.drain();
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed) return void socket.destroy();
    const conn = this.nextConn++;
    socket.setKeepAlive(true, 10_000);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const local = (socket.localAddress ?? "").replace(/^::ffff:/, "");
    this.connections.set(conn, socket);
    socket.on("error", () => undefined);
    socket.on("close", () => {
      if (this.connections.get(conn) !== socket) return;
      this.connections.delete(conn);
      this.core.controlClosed(monotonicMicros(), conn);
      this.drain();
    });
    if (!this.core.controlOpened(monotonicMicros(), conn, remote, local)) {
      this.connections.delete(conn);
      socket.destroy();
      return;
    }
    socket.on("data", (chunk: Buffer) => {
      this.core.controlData(monotonicMicros(), conn, chunk);
      this.drain();
    });
    this.drain();
  }

  private drain(): void {
    for (let action = this.core.pollAction(); action; action = this.core.pollAction()) this.run(action);
  }

  private run(action: RelayAction): void {
    switch (action.type) {
      case "send": {
        const socket = this.connections.get(action.conn);
        if (!socket) return;
        if (socket.writableLength > MAX_CONTROL_BACKLOG) socket.destroy();
        else socket.write(action.bytes);
        return;
      }
      case "closeControl": {
        const socket = this.connections.get(action.conn);
        this.connections.delete(action.conn);
        socket?.end();
        socket?.setTimeout(2000, () => socket.destroy());
        return;
      }
      case "openPublic":
        void this.openSocket(action.channel, {
          host: this.options.publicHost ?? "0.0.0.0",
          port: action.port,
        });
        return;
      case "openOutgoing":
        void this.openSocket(action.channel, {
          host: this.options.publicHost ?? (action.host.includes(":") ? "::" : "0.0.0.0"),
          port: 0,
          connectTo: { host: action.host, port: action.port },
        });
        return;
      case "closeChannel": {
        const socket = this.sockets.get(action.channel);
        if (!socket) return;
        this.sockets.delete(action.channel);
        this.closedSocketCounters.sendDrops += socket.counters.sendDrops;
        this.closedSocketCounters.sendErrors += socket.counters.sendErrors;
        void socket.close();
        return;
      }
      case "log":
        this.options.onLog?.(action.level, action.message);
        return;
      case "forward":
        this.sendOut(action.forward);
        return;
    }
  }

  private async openSocket(
    channel: RelayChannel,
    where: { host: string; port: number; connectTo?: { host: string; port: number } },
  ): Promise<void> {
    let socket: UdpSocket;
    try {
      socket = await UdpSocket.open({
        ...where,
        recvBufferSize: this.options.recvBufferSize ?? 8 * 1024 * 1024,
        sendBufferSize: this.options.sendBufferSize ?? 8 * 1024 * 1024,
        transientReceive: true,
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.core.channelResult(channel, {
        code: code === "EADDRINUSE" ? "PORT_IN_USE" : "RELAY_SOCKET",
        message: `${where.connectTo ? `${where.connectTo.host}:${where.connectTo.port}` : `port ${where.port}`}: ${(error as Error).message}`,
      });
      this.drain();
      return;
    }
    if (this.closed) return void socket.close();
    socket.onDatagram((data, from) => {
      const forward = this.core.fromOutside(monotonicMicros(), channel, data, from);
      if (!forward) return;
      if (forward.to) this.udp.sendTransient(forward.datagram, forward.to);
      else this.sendTunnelled(forward.conn, forward.datagram);
    });
    socket.onBatchEnd(() => {
      this.udp.flushSends();
      this.arena.reset();
    });
    this.sockets.set(channel, socket);
    this.core.channelResult(channel, { port: socket.localAddress.port, host: socket.localAddress.address });
    this.drain();
  }
}

/** A few lines for humans: attached servers, their ports, packets and bytes forwarded, drops. */
export function formatRelayStatus(s: RelayServerStatus): string {
  const c = s.counters;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  const lines = [
    `relay ${s.control.address}:${s.control.port}: ${s.servers.length} server(s) attached, ${s.pendingControl} authenticating`,
    `  to servers   ${c.packetsToServers} packets, ${mib(c.bytesToServers)} MiB`,
    `  from servers ${c.packetsFromServers} packets, ${mib(c.bytesFromServers)} MiB`,
    `  drops: rate-limited ${c.dropsRateLimited}, no server path ${c.dropsNoServerPath}, unknown attachment ${c.dropsUnknownAttachment}, ` +
      `unknown channel ${c.dropsUnknownChannel}, malformed ${c.dropsMalformedDatagram}, socket ${s.socketSendDrops + s.socketSendErrors}, tunnel ${s.tunnelDrops}`,
    `  control: malformed ${c.malformedControl}, oversized ${c.oversizedControl}, refused servers ${c.refusedServers}, auth timeouts ${c.authTimeouts}`,
  ];
  for (const server of s.servers) {
    const path = server.tunnelled
      ? "tunnelled over TCP"
      : server.udpPath
        ? `udp ${server.udpPath.address}:${server.udpPath.port}`
        : "no UDP path yet";
    lines.push(`  server ${server.serverKey} from ${server.remote} (${path}), ${server.attachedSeconds} s`);
    for (const ch of server.channels) {
      const what =
        ch.kind === "public"
          ? `public :${ch.port}`
          : `outgoing :${ch.port} → ${ch.destination?.address}:${ch.destination?.port}`;
      lines.push(
        `    ${what}: in ${ch.packetsIn} pkts ${mib(ch.bytesIn)} MiB, out ${ch.packetsOut} pkts ${mib(ch.bytesOut)} MiB`,
      );
    }
  }
  return lines.join("\n");
}
