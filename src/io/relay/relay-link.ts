/**
 * The inner server's side of a relay: dials the relay's control port, proves its X25519 key,
 * keeps an outbound UDP path to the relay alive (pings every keepalive interval, so a NAT or
 * stateful firewall in front of the server lets the relayed datagrams back), and redials with
 * backoff 1 s → 60 s whenever the control connection is lost, re-opening every port and channel.
 */
import net from "node:net";
import { randomBytes } from "node:crypto";
import {
  encodeControlBody,
  FrameReader,
  lengthPrefixed,
  parseControlMessage,
  type ControlMessage,
} from "../../core/relay/control-messages.js";
import {
  encodeSignal,
  ENVELOPE_DATA,
  ENVELOPE_PONG,
  peekData,
  TOKEN_BYTES,
} from "../../core/relay/envelope.js";
import { reconnectDelay } from "../../core/relay/port-ranges.js";
import { answerHello, checkWelcome } from "../../core/relay/attach-auth.js";
import { CONTROL_SEALED, ControlSeal } from "../../core/relay/control-seal.js";
import { EnvelopeArena } from "./envelope-arena.js";
import { NONCE_BYTES, rawPublicKey, type X25519KeyPair } from "../../core/relay/x25519.js";
import { UdpSocket, type UdpEndpoint } from "../udp-socket.js";
import { RelayedTransport, type RelayLinkPort } from "./relayed-transport.js";

const MAX_TUNNEL_BACKLOG = 4 * 1024 * 1024;

export type RelayLinkState = "connecting" | "connected" | "tunnelled" | "disconnected";

export interface RelayLinkOptions {
  relayHost: string;
  /** the relay's control port (TCP) and UDP port; default 8887 */
  relayPort?: number;
  /** this server's X25519 key pair (KeyObjects or raw 32-byte keys) */
  keyPair: X25519KeyPair;
  /** base64url key the relay must have; absent = accept the first seen (see `relayKey` to pin it) */
  relayPublicKey?: string;
  /** ping interval on the UDP path; default 5000 */
  keepaliveMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** without a pong within this long after attaching, datagrams go over the control connection; default 5000 */
  udpFallbackMs?: number;
  /** carry datagrams over the control connection from the start (UDP to the relay known blocked) */
  forceTunnel?: boolean;
  /** local bind address of the UDP socket toward the relay; default matches the relay's family */
  localHost?: string;
  recvBufferSize?: number;
  sendBufferSize?: number;
  onStateChange?: (state: RelayLinkState, error: RelayError | null) => void;
}

export class RelayError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "RelayError";
  }
}

interface Request {
  transport: RelayedTransport;
  resolve: () => void;
  reject: (error: RelayError) => void;
}

export class RelayLink implements RelayLinkPort {
  udp: UdpSocket | null = null;
  token: Buffer | null = null;
  publicHost: string | null = null;
  /** the key the relay proved it holds (pin it after the first attach) */
  relayKey: string | null = null;
  lastError: RelayError | null = null;
  /** times the link attached (1 after the first welcome; more after reconnects) */
  attachCount = 0;
  private currentState: RelayLinkState = "connecting";
  private socket: net.Socket | null = null;
  private reader = new FrameReader();
  private readonly transports = new Set<RelayedTransport>();
  private readonly byChannel = new Map<number, RelayedTransport>();
  private readonly requests = new Map<number, Request>();
  private nextReq = 1;
  private failures = 0;
  private redialTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private fallbackTimer: NodeJS.Timeout | null = null;
  private tunnelled = false;
  private stateWaiters: Array<() => void> = [];
  private closed = false;
  private readonly serverKey: Buffer;

  private constructor(private readonly options: RelayLinkOptions) {
    this.serverKey = rawPublicKey(options.keyPair.publicKey);
  }

  /** Starts dialling; see `waitConnected` to wait for the attachment. */
  static open(options: RelayLinkOptions): RelayLink {
    const link = new RelayLink(options);
    link.dial();
    return link;
  }

  get state(): RelayLinkState {
    return this.currentState;
  }

  /** The relay's UDP address as this server reaches it (Connection relayIP/relayPort). */
  get relayAddress(): UdpEndpoint | null {
    return this.udp?.remoteAddress ?? null;
  }

  /** Resolves once attached with a working path (UDP, or tunnelled); rejects on refusal (e.g. NOT_AUTHORIZED) or timeout. */
  waitConnected(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        finish();
        reject(
          this.lastError ??
            new RelayError("RELAY_UNAVAILABLE", `no attachment to ${this.target()} within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const check = (): void => {
        if (this.currentState === "connected" || this.currentState === "tunnelled") {
          finish();
          resolve();
        } else if (this.lastError && this.lastError.code !== "RELAY_UNAVAILABLE") {
          finish();
          reject(this.lastError);
        }
      };
      const finish = (): void => {
        clearTimeout(timer);
        this.stateWaiters = this.stateWaiters.filter((w) => w !== check);
      };
      this.stateWaiters.push(check);
      check();
    });
  }

  /**
   * Receiver-side: asks the relay to open public UDP port `port` (0 = any) for datagrams to this
   * server; resolves with a transport for UdpReceiver once open. The port is re-opened (with the
   * number it got) after every reattach.
   */
  async openPublicPort(port: number): Promise<RelayedTransport> {
    const transport = this.publicPort(port);
    await transport.opened;
    return transport;
  }

  /** Sender-side: asks the relay for an outgoing socket to host:port; the transport is for UdpSender. */
  async openChannel(host: string, port: number): Promise<RelayedTransport> {
    const transport = this.channel(host, port);
    await transport.opened;
    return transport;
  }

  /**
   * As openPublicPort, without waiting: the transport drops sends until the relay has opened the
   * port (`opened` settles then; its `localAddress` port is 0 until then). For a server that must
   * start while the relay is unreachable.
   */
  publicPort(port: number): RelayedTransport {
    const transport = new RelayedTransport(this, "public", port, null);
    transport.opened = this.register(transport);
    transport.opened.catch(() => undefined);
    return transport;
  }

  /** As openChannel, without waiting. */
  channel(host: string, port: number): RelayedTransport {
    const transport = new RelayedTransport(this, "outgoing", port, { host, port });
    transport.opened = this.register(transport);
    transport.opened.catch(() => undefined);
    return transport;
  }

  release(transport: RelayedTransport): void {
    if (!this.transports.delete(transport)) return;
    if (this.byChannel.get(transport.channel) === transport) this.byChannel.delete(transport.channel);
    if (transport.channel !== 0) this.sendControl({ t: "close", channel: transport.channel });
    transport.channel = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of [this.redialTimer, this.probeTimer, this.fallbackTimer])
      if (timer) clearTimeout(timer);
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.socket?.destroy();
    this.socket = null;
    for (const r of this.requests.values()) r.reject(new RelayError("CLOSED", "the relay link was closed"));
    this.requests.clear();
    this.token = null;
    this.setState("disconnected");
    await this.udp?.close();
  }

  private register(transport: RelayedTransport): Promise<void> {
    if (this.closed) return Promise.reject(new RelayError("CLOSED", "the relay link was closed"));
    this.transports.add(transport);
    return new Promise((resolve, reject) => {
      const req = this.nextReq++;
      this.requests.set(req, { transport, resolve, reject });
      if (this.token) this.requestOpen(req, transport);
    });
  }

  private requestOpen(req: number, t: RelayedTransport): void {
    if (t.kind === "public") this.sendControl({ t: "openPort", req, port: t.relayPort || t.requestedPort });
    else this.sendControl({ t: "openChannel", req, host: t.destination!.host, port: t.destination!.port });
  }

  private target(): string {
    return `${this.options.relayHost}:${this.options.relayPort ?? 8887}`;
  }

  private dial(): void {
    if (this.closed) return;
    this.setState("connecting");
    this.reader = new FrameReader();
    this.seal = null;
    const socket = net.connect({
      host: this.options.relayHost,
      port: this.options.relayPort ?? 8887,
      noDelay: true,
    });
    this.socket = socket;
    socket.setKeepAlive(true, 10_000);
    socket.on("data", (chunk: Buffer) => {
      for (const received of this.reader.push(chunk)) {
        const frame = this.openFrame(received);
        if (!frame)
          return this.fail(new RelayError("PROTOCOL", "a control frame from the relay did not authenticate"));
        if (frame[0] === ENVELOPE_DATA) {
          this.onDatagram(frame, true);
          continue;
        }
        const message = parseControlMessage(frame);
        if (message) this.onMessage(message);
        if (this.socket !== socket) return;
      }
      if (this.reader.oversized)
        this.fail(new RelayError("PROTOCOL", "oversized control frame from the relay"));
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (this.socket === socket && !this.token) {
        this.lastError ??= new RelayError(
          "RELAY_UNAVAILABLE",
          `${this.target()}: ${error.code ?? error.message}`,
        );
      }
    });
    socket.on("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.detach();
      this.scheduleRedial();
    });
  }

  private onMessage(m: ControlMessage): void {
    switch (m.t) {
      case "hello":
        return this.onHello(m);
      case "welcome":
        return this.onWelcome(m);
      case "refused":
        return this.fail(new RelayError(m.code, m.message));
      case "portOpened":
      case "channelOpened": {
        const r = this.requests.get(m.req);
        if (!r) return;
        this.requests.delete(m.req);
        r.transport.channel = m.channel;
        if (m.t === "portOpened") r.transport.relayPort = m.port;
        else {
          r.transport.relayPort = m.localPort;
          r.transport.relayLocalHost = m.localHost;
        }
        if (this.transports.has(r.transport)) this.byChannel.set(m.channel, r.transport);
        else this.sendControl({ t: "close", channel: m.channel });
        r.resolve();
        return;
      }
      case "openFailed": {
        const r = this.requests.get(m.req);
        if (!r) return;
        this.requests.delete(m.req);
        this.transports.delete(r.transport);
        r.reject(new RelayError(m.code, m.message));
        return;
      }
      default:
        return;
    }
  }

  private pendingRelayMac: Buffer | null = null;
  private pendingRelayKey: string | null = null;
  /** from the auth on: seals what this end sends after it and opens the relay's welcome and everything after */
  private seal: ControlSeal | null = null;

  /**
   * A frame as it was sent: before our auth only plain frames (hello, refused, error), after it only
   * sealed ones; null for anything else (the connection is then given up).
   */
  private openFrame(frame: Buffer): Buffer | null {
    if (!this.seal) return frame[0] === CONTROL_SEALED ? null : frame;
    if (frame[0] !== CONTROL_SEALED) {
      // a refusal may still come in the clear: the relay refuses before it attaches us
      if (this.token !== null) return null;
      const t = parseControlMessage(frame)?.t;
      return t === "refused" || t === "error" ? frame : null;
    }
    return this.seal.open(frame);
  }

  private onHello(m: Extract<ControlMessage, { t: "hello" }>): void {
    const answer = answerHello(
      m,
      this.options.keyPair.privateKey,
      this.serverKey,
      randomBytes(NONCE_BYTES),
      this.options.relayPublicKey,
    );
    if (!answer.ok) return this.fail(new RelayError(answer.code, answer.message));
    this.pendingRelayMac = answer.relayMac;
    this.pendingRelayKey = m.relayKey;
    this.sendControl(answer.auth);
    this.seal = ControlSeal.fromAttachKey(answer.key, "inner");
  }

  private onWelcome(m: Extract<ControlMessage, { t: "welcome" }>): void {
    const welcome = checkWelcome(this.pendingRelayMac, m);
    if (!welcome.ok) return this.fail(new RelayError(welcome.code, welcome.message));
    this.relayKey = this.pendingRelayKey;
    this.publicHost = m.publicHost;
    void this.attachUdp(m.udpPort, welcome.token);
  }

  private async attachUdp(udpPort: number, token: Buffer): Promise<void> {
    const socket = this.socket;
    const relayIp = socket?.remoteAddress?.replace(/^::ffff:/, "") ?? this.options.relayHost;
    const current = this.udp?.remoteAddress;
    if (!this.udp || current?.address !== relayIp || current.port !== udpPort) {
      const previous = this.udp;
      this.udp = null;
      await previous?.close();
      try {
        this.udp = await UdpSocket.open({
          host: this.options.localHost ?? (relayIp.includes(":") ? "::" : "0.0.0.0"),
          port: 0,
          connectTo: { host: relayIp, port: udpPort },
          recvBufferSize: this.options.recvBufferSize ?? 8 * 1024 * 1024,
          sendBufferSize: this.options.sendBufferSize ?? 4 * 1024 * 1024,
        });
      } catch (error) {
        return this.fail(
          new RelayError("RELAY_UNAVAILABLE", `UDP to ${relayIp}:${udpPort}: ${(error as Error).message}`),
        );
      }
      this.udp.onDatagram((data) => this.onDatagram(data));
    }
    if (this.closed || this.socket !== socket) return;
    this.token = token;
    this.attachCount++;
    this.failures = 0;
    this.lastError = null;
    for (const [req, r] of this.requests) this.requestOpen(req, r.transport);
    for (const t of this.transports) {
      if ([...this.requests.values()].some((r) => r.transport === t)) continue;
      const req = this.nextReq++;
      t.channel = 0;
      this.requests.set(req, { transport: t, resolve: () => undefined, reject: (e) => (this.lastError = e) });
      this.requestOpen(req, t);
    }
    this.startKeepalive();
    if (this.options.forceTunnel) return this.enterTunnel();
    this.fallbackTimer = setTimeout(() => {
      this.fallbackTimer = null;
      if (this.token && this.currentState === "connecting") this.enterTunnel();
    }, this.options.udpFallbackMs ?? 5000);
  }

  /** No UDP path works: carry datagrams over the control connection (loss there stalls like TCP). */
  private enterTunnel(): void {
    this.tunnelled = true;
    this.sendControl({ t: "path", udp: false });
    this.setState("tunnelled");
  }

  /** Envelopes are carved from one reused buffer; before it wraps, the UDP socket sends what it holds. */
  private readonly arena = new EnvelopeArena(() => this.udp?.flushSends());
  readonly allocateEnvelope = (size: number): Buffer => this.arena.allocate(size);

  sendEnvelope(envelope: Buffer): boolean {
    if (!this.tunnelled) return this.udp?.sendTransient(envelope) ?? false;
    const socket = this.socket;
    if (!socket || !this.seal || socket.writableLength > MAX_TUNNEL_BACKLOG) return false;
    socket.write(this.frame(envelope));
    return true;
  }

  private startKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    const ping = (): void => {
      if (this.token) this.udp?.send(encodeSignal("ping", this.token));
    };
    // Probe quickly until the first pong proves the path, then every keepalive interval.
    let probes = 0;
    const probe = (): void => {
      this.probeTimer = null;
      if (!this.token || this.currentState === "connected" || this.closed) return;
      ping();
      if (++probes < 50) this.probeTimer = setTimeout(probe, 100);
    };
    probe();
    this.keepaliveTimer = setInterval(ping, this.options.keepaliveMs ?? 5000);
    this.keepaliveTimer.unref();
  }

  private onDatagram(data: Buffer, viaTunnel = false): void {
    const token = this.token;
    if (!token || data.length < 1 + TOKEN_BYTES || token.compare(data, 1, 1 + TOKEN_BYTES) !== 0) return;
    if (data[0] === ENVELOPE_PONG) {
      if (this.tunnelled && this.options.forceTunnel) return;
      if (this.tunnelled) {
        // UDP works (again): back to it
        this.tunnelled = false;
        this.sendControl({ t: "path", udp: true });
      }
      if (this.currentState !== "connected") this.setState("connected");
      return;
    }
    if (data[0] !== ENVELOPE_DATA) return;
    const d = peekData(data);
    if (!d) return;
    const transport = this.byChannel.get(d.channel);
    if (!transport) return;
    // Datagrams prove the path as well as pongs do.
    if (!viaTunnel && this.currentState === "connecting") this.setState("connected");
    transport.deliver(data, d.peerStart, d.payloadStart);
  }

  private detach(): void {
    this.token = null;
    this.tunnelled = false;
    if (this.fallbackTimer) clearTimeout(this.fallbackTimer);
    this.fallbackTimer = null;
    this.pendingRelayMac = null;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = null;
    for (const t of this.transports) t.channel = 0;
    this.byChannel.clear();
  }

  private fail(error: RelayError): void {
    this.lastError = error;
    this.notify();
    this.socket?.destroy();
  }

  private scheduleRedial(): void {
    if (this.closed) return;
    this.setState("disconnected");
    const delayMs =
      reconnectDelay(
        this.failures++,
        (this.options.reconnectInitialMs ?? 1000) * 1000,
        (this.options.reconnectMaxMs ?? 60_000) * 1000,
      ) / 1000;
    this.redialTimer = setTimeout(() => {
      this.redialTimer = null;
      this.dial();
    }, delayMs);
  }

  private sendControl(message: ControlMessage): void {
    this.socket?.write(this.frame(encodeControlBody(message)));
  }

  /** A frame to write: sealed after the auth message. */
  private frame(body: Uint8Array): Buffer {
    return lengthPrefixed(this.seal ? this.seal.seal(body) : body);
  }

  private setState(state: RelayLinkState): void {
    const changed = state !== this.currentState;
    this.currentState = state;
    if (changed) this.options.onStateChange?.(state, this.lastError);
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.stateWaiters]) waiter();
  }
}
