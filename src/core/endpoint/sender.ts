/**
 * The sending end of one destination: owns the current Connection (replaced on every reconnect,
 * with backoff 1 s doubling to 60 s), the transfers sent over it and their resume state.
 * Sans-IO: the driver feeds datagrams, time and file reads, and polls datagrams, deadlines and events.
 */
import { type Micros, MICROS_PER_MS, MICROS_PER_SECOND } from "../time.js";
import { Connection, type ConnectionConfig, type ConnectionHandler } from "../transport/connection.js";
import {
  PlainHandshakeInitiator,
  type HandshakeInitiator,
  type LocalIdentity,
  type PeerInfo,
} from "../transport/handshake.js";
import type { SentPacket } from "../transport/sent-packets.js";
import { ConnectionCounters } from "../transport/counters.js";
import type { DataFrame } from "../wire/frames.js";
import { HEADER_SIZE, PacketType, parseHeader } from "../wire/packet.js";
import { ChecksumProtection } from "../wire/protection.js";
import {
  decodeControl,
  encodeControl,
  type CancelReason,
  type ControlMessage,
} from "../transfer/messages.js";
import {
  receiveTokenRefusal,
  SendTransfer,
  type ReadRequest,
  type TransferSpec,
  type ReadBudget,
} from "../transfer/send-transfer.js";
import { NoiseInitiator } from "../crypto/noise-handshake.js";
import { assertKeyPair, assertUsablePublicKey, decodePublicKey } from "../crypto/keys.js";
import { offersFor } from "../crypto/ciphers.js";
import type { InitiatorSecurity } from "../crypto/security.js";

/** new data read ahead of the send cursor, in time at the pacing rate: covers a slow disk read */
const READ_AHEAD: Micros = 50 * MICROS_PER_MS;
const READ_AHEAD_FLOOR = 4 * 1024 * 1024;

export type SenderEvent =
  | { type: "connected"; peer: PeerInfo }
  | { type: "disconnected"; code: string; message: string }
  | { type: "read"; transfer: string; file: number; offset: number; length: number }
  | { type: "transferAccepted"; transfer: string; bytesAlreadyThere: number }
  | { type: "transferRefused"; transfer: string; code: string; message: string }
  | { type: "fileComplete"; transfer: string; file: number }
  | { type: "fileFailed"; transfer: string; file: number; code: string; message: string }
  | { type: "transferComplete"; transfer: string }
  | { type: "transferFailed"; transfer: string; code: string; message: string };

export interface SenderEndpointOptions {
  config: ConnectionConfig;
  local: LocalIdentity;
  randomBytes(n: number): Uint8Array;
  handshake?: (sessionId: string) => HandshakeInitiator;
  /**
   * key pair and policy for the authenticated handshake; absent: plain handshake (cipher none).
   * Without `peerPublicKey` the first handshake learns the receiver's key and later ones require it.
   */
  security?: InitiatorSecurity;
  /**
   * bytes of file data read ahead or kept for retransmission, per transfer: at least this
   * (default 16 MiB), and twice the congestion window (see `readBudget` below)
   */
  readBudget?: number;
  /** the most the read budget grows to (default 512 MiB) */
  maxReadBudget?: number;
  reconnectInitial?: Micros;
  reconnectMax?: Micros;
  /** a transfer without acknowledged progress for this long fails with STALLED (default 300 s) */
  stallTimeout?: Micros;
}

export class SenderEndpoint implements ConnectionHandler {
  connection: Connection | null = null;
  lastError: { code: string; message: string } | null = null;
  /** datagrams that could not belong to the current session */
  strayPackets = 0;
  private readonly transfers = new Map<string, SendTransfer>();
  private byNumber = new Map<number, SendTransfer>();
  /** the transfers of byNumber, for round-robin without a copy per packet */
  private sending: SendTransfer[] = [];
  private nextNumber = 1;
  private readonly events: SenderEvent[] = [];
  private roundRobin = 0;
  private reconnectAt: Micros | null = null;
  private backoff: Micros;
  private now: Micros = 0;
  private closing = false;
  /** counters of connections that have ended */
  private readonly retired = new ConnectionCounters();
  /** per transfer: [bytes acknowledged, when that figure last grew] */
  private readonly progress = new Map<string, [number, Micros]>();
  /** the receiver's key learned on first use, required from the next handshake on */
  private learnedPeerKey: Uint8Array | null = null;

  constructor(private readonly options: SenderEndpointOptions) {
    this.backoff = options.reconnectInitial ?? 1_000_000;
    if (options.security) assertKeyPair(options.security.keyPair);
    if (options.security?.peerPublicKey) assertUsablePublicKey(options.security.peerPublicKey);
  }

  get state(): "disconnected" | "negotiating" | "connected" {
    if (!this.connection || this.connection.state === "closed") return "disconnected";
    return this.connection.state === "established" ? "connected" : "negotiating";
  }

  get rateControlMethod(): string {
    return this.options.config.rateControlMethod;
  }

  get activeTransfers(): SendTransfer[] {
    return [...this.transfers.values()];
  }
  /** Opens a session now (the first call, or a retry the driver wants immediately). */
  connect(now: Micros): void {
    this.now = now;
    this.closing = false;
    this.reconnectAt = null;
    const idBytes = this.options.randomBytes(8);
    const sessionId = Array.from(idBytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const initiator = this.initiator(sessionId);
    this.byNumber = new Map();
    this.sending = [];
    this.connection = new Connection("initiator", sessionId, this.options.config, this, now, { initiator });
  }

  private initiator(sessionId: string): HandshakeInitiator {
    const { handshake, security, local, config } = this.options;
    if (handshake) return handshake(sessionId);
    if (!security) return new PlainHandshakeInitiator(local, config.datagramSize);
    const peerPublicKey = security.peerPublicKey ?? this.learnedPeerKey;
    return new NoiseInitiator({ ...security, peerPublicKey }, local, config.datagramSize, sessionId);
  }

  /** The receiver key the handshake requires (given, or learned on first use); null if none yet. */
  get peerPublicKey(): Uint8Array | null {
    return this.options.security?.peerPublicKey ?? this.learnedPeerKey;
  }

  /** Whether sessions are (or, before a handshake, will be) encrypted. */
  get encryptionEnabled(): boolean {
    const peer = this.connection?.state === "established" ? this.connection.peer : null;
    if (peer) return peer.cipher !== "none";
    const s = this.options.security;
    return s !== undefined && (offersFor(s)[0] ?? "none") !== "none";
  }

  addTransfer(now: Micros, spec: TransferSpec): SendTransfer {
    this.now = now;
    if (this.transfers.has(spec.id)) throw new Error(`transfer ${spec.id} is already active`);
    const t = new SendTransfer(spec, this.transferSink, this.readBudget);
    this.transfers.set(spec.id, t);
    this.progress.set(spec.id, [0, now]);
    if (this.connection?.state === "established") this.announce(t);
    else if (!this.connection && this.reconnectAt === null) this.connect(now);
    return t;
  }

  /** Stops sending a transfer and tells the receiver why (cancel deletes its partial files). */
  removeTransfer(now: Micros, id: string, reason: CancelReason, message = ""): void {
    this.now = now;
    const t = this.transfers.get(id);
    if (!t) return;
    if (t.n >= 0 && this.connection?.state === "established" && this.byNumber.get(t.n) === t) {
      this.send({ t: "cancel", n: t.n, reason, message });
    }
    this.drop(t);
  }

  provideRead(id: string, file: number, offset: number, data: Uint8Array): void {
    this.transfers.get(id)?.onRead(file, offset, data);
  }

  readFailed(id: string, file: number, code: string, message: string): void {
    const t = this.transfers.get(id);
    if (!t) return;
    t.onReadFailed(file, code, message);
    if (t.n >= 0 && this.byNumber.get(t.n) === t) {
      this.send({ t: "fileFailed", n: t.n, f: file, code, message });
    }
    this.events.push({ type: "fileFailed", transfer: id, file, code, message });
    this.checkFinished(t);
  }

  reconfigure(patch: Parameters<Connection["reconfigure"]>[0]): void {
    // The connection compares with its config, which may be this same object: tell it first.
    this.connection?.reconfigure(patch);
    Object.assign(this.options.config, patch);
  }

  close(now: Micros, reason = "sender closed"): void {
    this.now = now;
    this.closing = true;
    this.reconnectAt = null;
    this.connection?.close("CLOSED", reason);
  }

  handleDatagram(now: Micros, datagram: Uint8Array): void {
    this.now = now;
    const conn = this.connection;
    const parsed = parseHeader(datagram);
    if (!parsed.ok || !conn || parsed.header.sessionId !== conn.sessionId) {
      if (conn) conn.counters.packetsInvalid++;
      else this.strayPackets++;
      return;
    }
    const { type, packetNumber } = parsed.header;
    if (type === PacketType.Reset) {
      if (new ChecksumProtection().open(datagram, HEADER_SIZE, packetNumber) === null) {
        conn.counters.packetsInvalid++;
        return;
      }
      // The receiver lost our session (restart): reconnect at once and resume.
      this.backoff = this.options.reconnectInitial ?? 1_000_000;
      conn.close("RESET", "the receiver no longer knows this session");
      return;
    }
    conn.handlePacket(now, type, packetNumber, datagram);
  }

  pollTransmit(now: Micros): Uint8Array | null {
    this.now = now;
    const conn = this.connection;
    if (!conn) return null;
    const datagram = conn.pollTransmit(now);
    if (conn.state === "closed" && this.connection === conn) this.connection = null;
    return datagram;
  }

  pollTimeout(): Micros | null {
    let t = this.connection?.pollTimeout() ?? null;
    if (this.reconnectAt !== null) t = t === null ? this.reconnectAt : Math.min(t, this.reconnectAt);
    const stall = this.nextStallCheck();
    if (stall !== null) t = t === null ? stall : Math.min(t, stall);
    return t;
  }

  handleTimeout(now: Micros): void {
    this.now = now;
    if (this.reconnectAt !== null && now >= this.reconnectAt) this.connect(now);
    this.connection?.handleTimeout(now);
    this.checkStalls(now);
  }

  private get stallTimeout(): Micros {
    return this.options.stallTimeout ?? 300_000_000;
  }

  private nextStallCheck(): Micros | null {
    let t: Micros | null = null;
    for (const [, since] of this.progress.values()) {
      const at = since + this.stallTimeout;
      if (t === null || at < t) t = at;
    }
    return t;
  }

  private checkStalls(now: Micros): void {
    for (const [id, entry] of this.progress) {
      const t = this.transfers.get(id);
      if (!t) {
        this.progress.delete(id);
        continue;
      }
      if (t.bytesAcked !== entry[0]) {
        entry[0] = t.bytesAcked;
        entry[1] = now;
      } else if (now >= entry[1] + this.stallTimeout) {
        this.removeTransfer(now, id, "error", "stalled");
        const seconds = Math.round(this.stallTimeout / 1e6);
        const why = this.lastError ? ` (last error ${this.lastError.code}: ${this.lastError.message})` : "";
        this.events.push({
          type: "transferFailed",
          transfer: id,
          code: "STALLED",
          message: `no acknowledged progress for ${seconds} s${why}`,
        });
      }
    }
  }

  get pendingEvents(): number {
    return this.events.length;
  }

  pollEvent(): SenderEvent | undefined {
    return this.events.shift();
  }

  // ConnectionHandler ---------------------------------------------------------------------------

  onEstablished(peer: PeerInfo): void {
    this.lastError = null;
    if (peer.keyLearned && peer.publicKey) this.learnedPeerKey = decodePublicKey(peer.publicKey);
    this.backoff = this.options.reconnectInitial ?? 1_000_000;
    this.events.push({ type: "connected", peer });
    for (const t of this.transfers.values()) this.announce(t);
  }

  /** Counters summed over every connection of this endpoint so far. */
  totals(): ConnectionCounters {
    const sum = new ConnectionCounters();
    const live = this.connection && this.connection.state !== "closed" ? this.connection.counters : null;
    for (const c of live ? [this.retired, live] : [this.retired]) {
      for (const key of Object.keys(sum) as Array<keyof ConnectionCounters>) {
        if (key === "lastSendTime" || key === "lastRecvTime")
          sum[key] = Math.max(sum[key] ?? 0, c[key] ?? 0) || null;
        else sum[key] += c[key];
      }
    }
    return sum;
  }

  onClosed(code: string, reason: string, byPeer: boolean): void {
    const ended = this.connection?.counters;
    if (ended) {
      for (const key of Object.keys(ended) as Array<keyof ConnectionCounters>) {
        if (key === "lastSendTime" || key === "lastRecvTime")
          this.retired[key] = ended[key] ?? this.retired[key];
        else this.retired[key] += ended[key];
      }
    }
    for (const t of this.transfers.values()) t.release();
    this.byNumber = new Map();
    this.sending = [];
    if (code !== "CLOSED" || byPeer) {
      this.lastError = { code, message: reason };
      this.events.push({ type: "disconnected", code, message: reason });
    }
    if (this.closing) return;
    this.reconnectAt = this.now + (code === "RESET" ? 0 : this.backoff);
    if (code !== "RESET") this.backoff = Math.min(this.backoff * 2, this.options.reconnectMax ?? 60_000_000);
  }

  hasData(): boolean {
    for (const t of this.byNumber.values()) if (t.hasData()) return true;
    for (const t of this.byNumber.values()) if (t.hasEndgameData()) return true;
    return false;
  }

  /**
   * Data of any transfer, round-robin; end-game copies only when no transfer has anything else,
   * and for a probe, failing both, a copy of the newest unacknowledged block.
   */
  writeData(buf: Uint8Array, pos: number, _room: number, packet: SentPacket, probe = false): number {
    let end = this.writeFrom(buf, pos, packet, "next");
    if (end < 0) end = this.writeFrom(buf, pos, packet, "endgame");
    if (end < 0 && probe) end = this.writeFrom(buf, pos, packet, "probe");
    return end;
  }

  private writeFrom(
    buf: Uint8Array,
    pos: number,
    packet: SentPacket,
    mode: "next" | "endgame" | "probe",
  ): number {
    const list = this.sending;
    for (let i = 0; i < list.length; i++) {
      const t = list[(this.roundRobin + i) % list.length]!;
      const r = t.writeNext(buf, pos, mode);
      if (!r) continue;
      packet.dataTransfer = t.n;
      packet.dataFile = r.file;
      packet.dataBlock = r.block;
      if (r.retransmission && this.connection) this.connection.counters.dataPacketsRetransmitted++;
      this.roundRobin = (this.roundRobin + i + 1) % list.length;
      return r.end;
    }
    return -1;
  }

  onDataAcked(p: SentPacket): void {
    this.byNumber.get(p.dataTransfer)?.onBlockAcked(p.dataFile, p.dataBlock);
  }

  onDataLost(p: SentPacket): void {
    this.byNumber.get(p.dataTransfer)?.onBlockLost(p.dataFile, p.dataBlock);
  }

  onData(_frame: DataFrame): boolean {
    return false;
  }

  receiveWindow(): number {
    return 1 << 30;
  }

  rateCap(): number {
    return 0;
  }

  onControlMessage(bytes: Uint8Array): void {
    const m = decodeControl(bytes);
    const t = m ? this.byNumber.get(m.n) : undefined;
    if (!m) {
      this.connection?.close("PROTOCOL", "malformed control message from the receiver");
      return;
    }
    if (!t) return; // a transfer we dropped meanwhile
    switch (m.t) {
      case "accept": {
        t.onAccept(m.have, m.done);
        this.events.push({ type: "transferAccepted", transfer: t.id, bytesAlreadyThere: t.bytesAcked });
        for (const f of m.done) this.events.push({ type: "fileComplete", transfer: t.id, file: f });
        break;
      }
      case "refuse":
        this.events.push({ type: "transferRefused", transfer: t.id, code: m.code, message: m.message });
        this.drop(t);
        return;
      case "fileOk":
        if (t.files[m.f]?.status === "pending")
          this.events.push({ type: "fileComplete", transfer: t.id, file: m.f });
        t.onFileOk(m.f);
        break;
      case "fileRetry":
        t.onFileRetry(m.f);
        break;
      case "fileFailed":
        if (t.files[m.f]?.status === "pending") {
          this.events.push({
            type: "fileFailed",
            transfer: t.id,
            file: m.f,
            code: m.code,
            message: m.message,
          });
        }
        t.onFileFailed(m.f, m.code, m.message);
        break;
      case "cancel":
        this.events.push({
          type: "transferFailed",
          transfer: t.id,
          code: "RECEIVER_REFUSED",
          message: m.message,
        });
        this.drop(t);
        return;
      default:
        this.connection?.close("PROTOCOL", `unexpected control message "${m.t}" from the receiver`);
        return;
    }
    this.checkFinished(t);
  }

  // internals -----------------------------------------------------------------------------------

  /**
   * New data is read `READ_AHEAD` of sending at the pacing rate ahead of the send cursor (at
   * least `readAheadFloor`); everything held — that, plus blocks in flight or awaiting
   * retransmission — stays under twice the congestion window (at least `readBudget`, at most
   * `maxReadBudget`). Not the window alone: before the path is measured the start-up window is
   * the start rate × an assumed RTT (about 100 MB at a 2.5 Gbit/s start rate). Not pacing rate ×
   * smoothed RTT: inflated delivery-rate samples and a self-made queue multiply each other there
   * (700 MiB of read-ahead on loopback).
   */
  private readonly readBudget = (): ReadBudget => {
    const holdFloor = this.options.readBudget ?? 16 * 1024 * 1024;
    const aheadFloor = Math.min(holdFloor, READ_AHEAD_FLOOR);
    const c = this.connection;
    if (!c || !c.rtt.hasSample) return { ahead: holdFloor, hold: holdFloor };
    const hold = Math.max(holdFloor, 2 * c.rateController.congestionWindow());
    return {
      ahead: Math.max(aheadFloor, (c.pacingRate() * READ_AHEAD) / MICROS_PER_SECOND),
      hold: Math.min(hold, this.options.maxReadBudget ?? 512 * 1024 * 1024),
    };
  };

  private readonly transferSink = {
    sendControl: (m: ControlMessage) => this.send(m),
    requestRead: (t: SendTransfer, r: ReadRequest) =>
      this.events.push({ type: "read", transfer: t.id, file: r.file, offset: r.offset, length: r.length }),
  };

  /** Announcements go out twice when the first is not acknowledged soon: the data after them needs them. */
  private send(m: ControlMessage): void {
    this.connection?.sendControl(encodeControl(m), m.t === "start" || m.t === "files");
  }

  private announce(t: SendTransfer): void {
    const conn = this.connection!;
    const encrypted = (conn.peer?.cipher ?? "none") !== "none";
    const refusal = receiveTokenRefusal(t.spec, encrypted);
    if (refusal !== null) {
      this.events.push({
        type: "transferFailed",
        transfer: t.id,
        code: "RECEIVER_REFUSED",
        message: refusal,
      });
      this.drop(t);
      return;
    }
    const n = this.nextNumber++;
    this.byNumber.set(n, t);
    this.sending.push(t);
    t.announce(n, conn.blockSize, encrypted);
  }

  private drop(t: SendTransfer): void {
    t.release();
    this.transfers.delete(t.id);
    this.progress.delete(t.id);
    if (this.byNumber.get(t.n) === t) this.byNumber.delete(t.n);
    this.sending = this.sending.filter((x) => x !== t);
  }

  private checkFinished(t: SendTransfer): void {
    if (!t.finished || !this.transfers.has(t.id)) return;
    this.drop(t);
    const failed = t.files.filter((f) => f.status === "failed");
    if (failed.length === 0) {
      this.events.push({ type: "transferComplete", transfer: t.id });
      return;
    }
    const first = failed[0]!;
    this.events.push({
      type: "transferFailed",
      transfer: t.id,
      code: first.errorCode ?? "INTERNAL",
      message: `${failed.length} of ${t.files.length} files failed; first: ${first.spec.path}: ${first.errorMessage ?? ""}`,
    });
  }
}
