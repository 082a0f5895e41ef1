/**
 * The relay as a sans-IO state machine: authenticates inner servers on their control connections,
 * keeps the forwarding table (attachment token → server, channel → public port or outgoing
 * socket), and wraps/unwraps datagrams in the envelope. The driver owns the sockets: it hands in
 * control bytes and datagrams, executes the actions it polls, and sends what the forwarding
 * calls return. Payloads are never looked into.
 */
import type { KeyObject } from "node:crypto";
import type { Micros } from "../time.js";
import {
  encodeControlBody,
  FrameReader,
  lengthPrefixed,
  parseControlMessage,
  type ControlMessage,
} from "./control-messages.js";
import {
  decodePeer,
  encodeData,
  encodePeer,
  encodeSignal,
  ENVELOPE_DATA,
  ENVELOPE_PING,
  peekData,
  tokenKey,
  TOKEN_BYTES,
  type PeerAddress,
} from "./envelope.js";
import { portAllowed, type PortRange } from "./port-ranges.js";
import { SourceLimiter } from "./source-limiter.js";
import { RELAY_PROTOCOL_VERSION, verifyServerAuth } from "./attach-auth.js";
import { ControlSeal } from "./control-seal.js";
import type {
  InnerForward,
  RelayAction,
  RelayAttachment,
  RelayChannel,
  RelayCoreOptions,
  RelayCounters,
} from "./relay-types.js";
import {
  attachMac,
  NONCE_BYTES,
  privateKeyFromSeed,
  privateKeyObject,
  rawPublicKey,
  toBase64Url,
  X25519_KEY_BYTES,
} from "./x25519.js";

export type * from "./relay-types.js";

interface Pending {
  conn: number;
  remote: string;
  localHost: string;
  reader: FrameReader;
  ephemeralPrivate: KeyObject;
  ephemeral: Buffer;
  nonce: Buffer;
  deadline: Micros;
}

export class RelayCore {
  readonly counters: RelayCounters = {
    packetsToServers: 0,
    bytesToServers: 0,
    packetsFromServers: 0,
    bytesFromServers: 0,
    dropsRateLimited: 0,
    dropsNoServerPath: 0,
    dropsUnknownAttachment: 0,
    dropsUnknownChannel: 0,
    dropsMalformedDatagram: 0,
    malformedControl: 0,
    oversizedControl: 0,
    refusedServers: 0,
    authTimeouts: 0,
  };
  readonly publicKey: string;
  private readonly relayPrivate: KeyObject;
  private readonly allowed: Set<string>;
  private readonly limiter: SourceLimiter;
  private readonly pending = new Map<number, Pending>();
  private readonly attached = new Map<number, RelayAttachment>();
  private readonly readers = new Map<number, FrameReader>();
  private readonly byToken = new Map<string, RelayAttachment>();
  private readonly byKey = new Map<string, RelayAttachment>();
  private readonly actions: RelayAction[] = [];
  /** the attachment of the last envelope from a server: checked before the token map */
  private lastSender: RelayAttachment | null = null;

  constructor(private readonly options: RelayCoreOptions) {
    this.relayPrivate = privateKeyObject(options.relayPrivateKey);
    this.publicKey = toBase64Url(rawPublicKey(this.relayPrivate));
    this.allowed = new Set(options.allowedKeys);
    this.limiter = new SourceLimiter({
      rate: options.sourceRate ?? 0,
      burst: options.sourceBurst,
      maxSources: options.maxSources,
    });
  }

  get attachments(): readonly RelayAttachment[] {
    return [...this.attached.values()];
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get trackedSources(): number {
    return this.limiter.size;
  }

  pollAction(): RelayAction | null {
    return this.actions.shift() ?? null;
  }

  pollTimeout(): Micros | null {
    let due: Micros | null = null;
    for (const p of this.pending.values()) due = due === null ? p.deadline : Math.min(due, p.deadline);
    return due;
  }

  handleTimeout(now: Micros): void {
    for (const p of [...this.pending.values()]) {
      if (p.deadline > now) continue;
      this.counters.authTimeouts++;
      this.refuse(p.conn, "TIMEOUT", "no valid auth message in time");
    }
  }

  // control connections ------------------------------------------------------------------------

  /** A control connection was accepted; false = too many unauthenticated ones, close it. */
  controlOpened(now: Micros, conn: number, remote: string, localHost: string): boolean {
    if (this.pending.size >= (this.options.maxPendingControl ?? 64)) return false;
    const ephemeralPrivate = privateKeyFromSeed(this.options.randomBytes(X25519_KEY_BYTES));
    const p: Pending = {
      conn,
      remote,
      localHost,
      reader: new FrameReader(),
      ephemeralPrivate,
      ephemeral: rawPublicKey(ephemeralPrivate),
      nonce: Buffer.from(this.options.randomBytes(NONCE_BYTES)),
      deadline: now + (this.options.authTimeout ?? 10_000_000),
    };
    this.pending.set(conn, p);
    this.readers.set(conn, p.reader);
    this.send(conn, {
      t: "hello",
      v: RELAY_PROTOCOL_VERSION,
      relayKey: this.publicKey,
      ephemeral: toBase64Url(p.ephemeral),
      nonce: toBase64Url(p.nonce),
    });
    return true;
  }

  controlData(now: Micros, conn: number, chunk: Uint8Array): void {
    const reader = this.readers.get(conn);
    if (!reader) return;
    for (const received of reader.push(chunk)) {
      if (!this.readers.has(conn)) return;
      const attachment = this.attached.get(conn);
      const frame = attachment ? attachment.seal.open(received) : received;
      if (!frame) {
        // injected, altered, replayed or dropped on the way: the stream cannot be trusted any more
        this.counters.malformedControl++;
        this.closeControl(conn, "a control frame did not authenticate");
        return;
      }
      if (frame[0] === ENVELOPE_DATA) {
        this.fromTunnel(now, conn, frame);
        continue;
      }
      const message = parseControlMessage(frame);
      if (!message) {
        this.counters.malformedControl++;
        this.send(conn, { t: "error", code: "PROTOCOL", message: "malformed control message dropped" });
        continue;
      }
      this.onMessage(now, conn, message);
    }
    if (reader.oversized) {
      this.counters.oversizedControl++;
      this.closeControl(conn, `control frame larger than the limit`);
    }
  }

  controlClosed(_now: Micros, conn: number): void {
    this.readers.delete(conn);
    this.pending.delete(conn);
    const a = this.attached.get(conn);
    if (!a) return;
    this.attached.delete(conn);
    this.byToken.delete(tokenKey(a.token));
    if (this.lastSender === a) this.lastSender = null;
    if (this.byKey.get(a.serverKey) === a) this.byKey.delete(a.serverKey);
    for (const channel of a.channels.values()) this.actions.push({ type: "closeChannel", channel });
    a.channels.clear();
    this.actions.push({ type: "log", level: "info", message: `server ${a.serverKey} detached` });
  }

  /** The driver opened (or failed to open) what an openPublic/openOutgoing action asked for. */
  channelResult(
    channel: RelayChannel,
    result: { port: number; host: string } | { code: string; message: string },
  ): void {
    const a = channel.attachment;
    if (this.attached.get(a.conn) !== a || a.channels.get(channel.number) !== channel) {
      this.actions.push({ type: "closeChannel", channel });
      return;
    }
    if ("code" in result) {
      a.channels.delete(channel.number);
      this.send(a.conn, { t: "openFailed", req: channel.req, code: result.code, message: result.message });
      return;
    }
    if (channel.kind === "public" && !portAllowed(this.publicPorts(), result.port)) {
      a.channels.delete(channel.number);
      this.actions.push({ type: "closeChannel", channel });
      this.send(a.conn, {
        t: "openFailed",
        req: channel.req,
        code: "PORT_NOT_ALLOWED",
        message: `port ${result.port} is outside this relay's public ports`,
      });
      return;
    }
    channel.open = true;
    channel.localPort = result.port;
    if (channel.kind === "public") {
      this.send(a.conn, { t: "portOpened", req: channel.req, channel: channel.number, port: result.port });
    } else {
      this.send(a.conn, {
        t: "channelOpened",
        req: channel.req,
        channel: channel.number,
        localHost: result.host,
        localPort: result.port,
      });
    }
  }

  // datagrams ----------------------------------------------------------------------------------

  /**
   * A datagram from outside arrived on a channel's socket (a public port, or an outgoing socket's
   * reply). Returns the envelope and where to send it: the server's UDP path, or (`to` null) its
   * control connection `conn` when tunnelled. Null when dropped.
   */
  fromOutside(
    now: Micros,
    channel: RelayChannel,
    payload: Uint8Array,
    from: PeerAddress,
  ): { to: PeerAddress | null; conn: number; datagram: Buffer } | null {
    const a = channel.attachment;
    if (!channel.open || this.attached.get(a.conn) !== a) {
      this.counters.dropsUnknownChannel++;
      return null;
    }
    if (!a.udpPath && !a.tunnelled) {
      this.counters.dropsNoServerPath++;
      return null;
    }
    if (!this.limiter.allow(now, from.address, payload.byteLength)) {
      this.counters.dropsRateLimited++;
      return null;
    }
    let peer = channel.lastPeerBytes;
    if (!peer || channel.lastPeer?.port !== from.port || channel.lastPeer.address !== from.address) {
      try {
        peer = encodePeer(from);
      } catch {
        this.counters.dropsMalformedDatagram++;
        return null;
      }
      channel.lastPeer = { address: from.address, port: from.port };
      channel.lastPeerBytes = peer;
    }
    channel.counters.packetsIn++;
    channel.counters.bytesIn += payload.byteLength;
    this.counters.packetsToServers++;
    this.counters.bytesToServers += payload.byteLength;
    const datagram = encodeData(a.token, channel.number, peer, payload, this.options.allocateEnvelope);
    return { to: a.tunnelled ? null : a.udpPath, conn: a.conn, datagram };
  }

  /** An envelope arrived on the relay's UDP port from an attached server. */
  fromServer(now: Micros, datagram: Uint8Array, from: PeerAddress): InnerForward | null {
    if (datagram.byteLength < 1 + TOKEN_BYTES) {
      this.counters.dropsMalformedDatagram++;
      return null;
    }
    const last = this.lastSender;
    const a =
      last && sameBytes(last.token, datagram, 1)
        ? last
        : this.byToken.get(tokenKey(datagram.subarray(1, 1 + TOKEN_BYTES)));
    if (!a) {
      this.counters.dropsUnknownAttachment++;
      return null;
    }
    this.lastSender = a;
    if (!a.udpPath || a.udpPath.port !== from.port || a.udpPath.address !== from.address) {
      // first envelope, or the server's NAT mapping changed: replies go to where it sends from
      a.udpPath = { address: from.address, port: from.port };
    }
    if (datagram[0] === ENVELOPE_PING && datagram.byteLength === 1 + TOKEN_BYTES) {
      return { kind: "reply", to: a.udpPath, datagram: encodeSignal("pong", a.token) };
    }
    return this.forwardFromServer(now, a, datagram);
  }

  private forwardFromServer(now: Micros, a: RelayAttachment, datagram: Uint8Array): InnerForward | null {
    const data = datagram[0] === ENVELOPE_DATA ? peekData(datagram) : null;
    if (!data) {
      this.counters.dropsMalformedDatagram++;
      return null;
    }
    const channel = a.channels.get(data.channel);
    if (!channel?.open) {
      this.counters.dropsUnknownChannel++;
      return null;
    }
    const payload = datagram.subarray(data.payloadStart);
    if (!this.limiter.allow(now, a.limiterKey, payload.byteLength)) {
      this.counters.dropsRateLimited++;
      return null;
    }
    let to: PeerAddress;
    if (channel.kind === "outgoing") {
      to = channel.destination!;
    } else {
      const last = channel.lastPeerBytes;
      to =
        last && sameBytes(last, datagram, data.peerStart)
          ? channel.lastPeer!
          : decodePeer(datagram, data.peerStart);
    }
    channel.counters.packetsOut++;
    channel.counters.bytesOut += payload.byteLength;
    this.counters.packetsFromServers++;
    this.counters.bytesFromServers += payload.byteLength;
    return { kind: "outside", channel, to, payload };
  }

  // internals ----------------------------------------------------------------------------------

  private fromTunnel(now: Micros, conn: number, frame: Uint8Array): void {
    const a = this.attached.get(conn);
    if (!a || frame.byteLength < 1 + TOKEN_BYTES || !sameBytes(a.token, frame, 1)) {
      this.counters.dropsUnknownAttachment++;
      return;
    }
    const forward = this.forwardFromServer(now, a, frame);
    if (forward) this.actions.push({ type: "forward", forward });
  }

  private onMessage(now: Micros, conn: number, message: ControlMessage): void {
    const p = this.pending.get(conn);
    if (p) {
      if (message.t === "auth") this.onAuth(now, p, message);
      else this.refuse(conn, "PROTOCOL", `expected auth, got ${message.t}`);
      return;
    }
    const a = this.attached.get(conn);
    if (!a) return;
    switch (message.t) {
      case "openPort":
        this.openChannel(a, "public", message.req, message.port, null);
        break;
      case "openChannel":
        if (message.port === 0) {
          this.send(conn, {
            t: "openFailed",
            req: message.req,
            code: "PROTOCOL",
            message: "destination port 0",
          });
          break;
        }
        this.openChannel(a, "outgoing", message.req, message.port, {
          address: message.host,
          port: message.port,
        });
        break;
      case "path":
        a.tunnelled = !message.udp;
        this.actions.push({
          type: "log",
          level: a.tunnelled ? "warn" : "info",
          message: `server ${a.serverKey}: datagrams ${a.tunnelled ? "tunnelled over its control connection" : "over UDP again"}`,
        });
        break;
      case "close": {
        const channel = a.channels.get(message.channel);
        if (!channel) break;
        a.channels.delete(channel.number);
        this.actions.push({ type: "closeChannel", channel });
        break;
      }
      default:
        this.counters.malformedControl++;
        this.send(conn, { t: "error", code: "PROTOCOL", message: `unexpected ${message.t} dropped` });
    }
  }

  private onAuth(now: Micros, p: Pending, m: Extract<ControlMessage, { t: "auth" }>): void {
    const verdict = verifyServerAuth(this.relayPrivate, p, m);
    if (!verdict.ok) {
      if (verdict.code === "PROTOCOL") this.counters.malformedControl++;
      return this.refuse(p.conn, verdict.code, verdict.message);
    }
    const key = verdict.key;
    if (!this.options.allowAnyServer && !this.allowed.has(m.serverKey)) {
      return this.refuse(p.conn, "NOT_AUTHORIZED", `key ${m.serverKey} is not allowed on this relay`);
    }
    const previous = this.byKey.get(m.serverKey);
    if (previous) this.closeControl(previous.conn, "the same server attached again");
    if (this.attached.size >= (this.options.maxServers ?? 16)) {
      return this.refuse(
        p.conn,
        "RELAY_FULL",
        `this relay serves at most ${this.options.maxServers ?? 16} servers`,
      );
    }
    this.pending.delete(p.conn);
    const a: RelayAttachment = {
      conn: p.conn,
      serverKey: m.serverKey,
      token: Buffer.from(this.options.randomBytes(TOKEN_BYTES)),
      remote: p.remote,
      attachedAt: now,
      udpPath: null,
      tunnelled: false,
      channels: new Map(),
      nextChannel: 1,
      limiterKey: `server:${p.conn}`,
      seal: ControlSeal.fromAttachKey(key, "relay"),
    };
    this.attached.set(a.conn, a);
    this.byToken.set(tokenKey(a.token), a);
    this.byKey.set(a.serverKey, a);
    this.send(a.conn, {
      t: "welcome",
      mac: toBase64Url(attachMac(key, "relay")),
      token: toBase64Url(a.token),
      udpPort: this.options.udpPort,
      publicHost: this.options.externalHost ?? p.localHost,
    });
    this.actions.push({
      type: "log",
      level: "info",
      message: `server ${a.serverKey} attached from ${a.remote}`,
    });
  }

  private openChannel(
    a: RelayAttachment,
    kind: "public" | "outgoing",
    req: number,
    port: number,
    destination: PeerAddress | null,
  ): void {
    const max = this.options.maxChannelsPerServer ?? 64;
    if (a.channels.size >= max) {
      this.send(a.conn, {
        t: "openFailed",
        req,
        code: "LIMIT",
        message: `at most ${max} ports and channels per server`,
      });
      return;
    }
    if (kind === "public" && port !== 0 && !portAllowed(this.publicPorts(), port)) {
      this.send(a.conn, {
        t: "openFailed",
        req,
        code: "PORT_NOT_ALLOWED",
        message: `port ${port} is outside this relay's public ports`,
      });
      return;
    }
    let number = a.nextChannel;
    while (a.channels.has(number)) number = (number % 65_535) + 1;
    a.nextChannel = (number % 65_535) + 1;
    const channel: RelayChannel = {
      attachment: a,
      number,
      kind,
      req,
      requestedPort: port,
      destination,
      open: false,
      localPort: 0,
      counters: { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 },
      lastPeer: null,
      lastPeerBytes: null,
    };
    a.channels.set(number, channel);
    if (kind === "public") this.actions.push({ type: "openPublic", channel, port });
    else this.actions.push({ type: "openOutgoing", channel, host: destination!.address, port });
  }

  private publicPorts(): readonly PortRange[] {
    return this.options.publicPorts ?? [{ from: 1024, to: 65_535 }];
  }

  private refuse(conn: number, code: string, message: string): void {
    if (code === "NOT_AUTHORIZED" || code === "AUTH_FAILED" || code === "RELAY_FULL")
      this.counters.refusedServers++;
    this.send(conn, { t: "refused", code, message });
    this.closeControl(conn, `${code}: ${message}`);
  }

  private closeControl(conn: number, reason: string): void {
    this.actions.push({ type: "closeControl", conn, reason });
    this.controlClosed(0, conn);
  }

  /** Sealed once the connection is attached (the welcome is the first sealed frame). */
  private send(conn: number, message: ControlMessage): void {
    this.sendFrame(conn, encodeControlBody(message));
  }

  private sendFrame(conn: number, body: Uint8Array): void {
    const seal = this.attached.get(conn)?.seal;
    this.actions.push({ type: "send", conn, bytes: lengthPrefixed(seal ? seal.seal(body) : body) });
  }

  /**
   * A data envelope for a tunnelled server, as a sealed frame on its control connection (through
   * the action queue, so frames keep the order of their sequence numbers). The caller decides
   * about backlog before: a frame sealed and then not written would break the sequence.
   */
  tunnel(conn: number, envelope: Uint8Array): void {
    if (this.attached.has(conn)) this.sendFrame(conn, envelope);
  }
}

function sameBytes(expected: Uint8Array, datagram: Uint8Array, start: number): boolean {
  if (datagram.byteLength < start + expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (datagram[start + i] !== expected[i]) return false;
  return true;
}
