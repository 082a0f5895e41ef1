/**
 * The receiving end of one UDP port: demultiplexes sessions by session id, answers handshakes,
 * accepts transfers (the driver decides, with resume data), and turns DATA into writes with
 * flow control so a slow disk never means unbounded memory. Sans-IO like the sender.
 */
import type { Micros } from "../time.js";
import { Connection, type ConnectionConfig, type ConnectionHandler } from "../transport/connection.js";
import {
  isFailure,
  PlainHandshakeResponder,
  type HandshakeFailure,
  type HandshakeResponder,
  type LocalIdentity,
  type PeerInfo,
} from "../transport/handshake.js";
import type { SentPacket } from "../transport/sent-packets.js";
import {
  decodeFrames,
  encodeCloseFrame,
  encodeHandshakeFrame,
  FrameType,
  type DataFrame,
} from "../wire/frames.js";
import { HEADER_SIZE, PacketType, parseHeader, PROTOCOL_VERSION, writeHeader } from "../wire/packet.js";
import { ChecksumProtection } from "../wire/protection.js";
import { decodeControl, encodeControl, type ControlMessage, type FileEntry } from "../transfer/messages.js";
import { RecvTransfer, type ReceiveTokenCredentials, type ResumeFile } from "../transfer/recv-transfer.js";
import { DecodeError } from "../wire/varint.js";
import { NoiseResponder } from "../crypto/noise-handshake.js";
import type { ResponderSecurity } from "../crypto/security.js";
import { assertKeyPair } from "../crypto/keys.js";

export interface IncomingTransfer {
  id: string;
  destinationPath: string;
  overwrite: string;
  blockSize: number;
  files: FileEntry[];
  /** the sender's receiveToken; only ever present on an encrypted session */
  receiveToken?: ReceiveTokenCredentials;
}

export const DEFAULT_MAX_PENDING_WRITES = 256 * 1024 * 1024;
/**
 * Blocks held, over all transfers, that arrived before their transfer was accepted (the sender
 * sends right after announcing; the decision may take a file-system round or a password check).
 * Without them the first round of a transfer would be lost and sent again.
 */
export const EARLY_DATA_LIMIT = 8 * 1024 * 1024;

export type TransferOutcome = "complete" | "failed" | "cancelled" | "suspended" | "interrupted";

/** What one transfer's DATA brought, across its sessions; kept until the driver releases it. */
export interface RecvTransferCounters {
  /** file bytes accepted (duplicates excluded) */
  bytesAccepted: number;
  blocksAccepted: number;
  /** blocks received again that were already held */
  blocksDuplicate: number;
  /** DATA datagrams for this transfer (accepted or duplicate) */
  dataPacketsRecv: number;
  /** the latest DATA datagram for it */
  lastRecvTime: Micros | null;
}

export type ReceiverEvent =
  | { type: "sessionOpened"; session: string; from: string; peer: PeerInfo }
  | { type: "sessionClosed"; session: string; code: string; message: string }
  | { type: "sessionRejected"; from: string; code: string; message: string }
  | { type: "transferRequest"; session: string; transfer: IncomingTransfer }
  | { type: "write"; transfer: string; file: number; offset: number; data: Uint8Array }
  | { type: "fileReceived"; transfer: string; file: number; sha256: string | null }
  | { type: "fileRestart"; transfer: string; file: number }
  | { type: "fileFailed"; transfer: string; file: number; code: string; message: string }
  | { type: "transferEnded"; transfer: string; outcome: TransferOutcome; message: string };

export interface ReceiverEndpointOptions {
  config: ConnectionConfig;
  local: LocalIdentity;
  handshake?: (sessionId: string) => HandshakeResponder;
  /** key pair and policy for the authenticated handshake; absent: plain handshake (cipher none) */
  security?: ResponderSecurity;
  /** admission policy after the handshake (allow-lists, session limits); null admits */
  admit?(peer: PeerInfo, from: string): HandshakeFailure | null;
  /**
   * bytes handed out for writing and not yet written, across all sessions (default 256 MiB). It is
   * advertised as the receive window and bounds bytes in flight, so it must exceed the largest
   * path BDP plus its queue; memory is only taken when the disk is slower than the network.
   */
  maxPendingWriteBytes?: number;
  maxSessions?: number;
  /** hash mismatches tolerated per file before it fails */
  maxVerifyRetries?: number;
}

class RecvSession implements ConnectionHandler {
  readonly transfers = new Map<number, RecvTransfer>();
  connection!: Connection;

  constructor(
    readonly id: string,
    public from: string,
    private readonly endpoint: ReceiverEndpoint,
  ) {}

  onEstablished(): void {}

  onClosed(code: string, reason: string): void {
    this.endpoint.onSessionClosed(this, code, reason);
  }

  onControlMessage(bytes: Uint8Array): void {
    const m = decodeControl(bytes);
    if (!m) {
      this.connection.counters.packetsInvalid++;
      this.connection.close("PROTOCOL", "malformed control message from the sender");
      return;
    }
    this.endpoint.onControl(this, m);
  }

  hasData(): boolean {
    return false;
  }

  writeData(): number {
    return -1;
  }

  onDataAcked(_p: SentPacket): void {}

  onDataLost(_p: SentPacket): void {}

  onData(frame: DataFrame): boolean {
    return this.endpoint.onData(this, frame);
  }

  receiveWindow(): number {
    return this.endpoint.window();
  }

  rateCap(): number {
    return this.endpoint.rateCapFor(this.id);
  }

  send(m: ControlMessage): void {
    this.connection.sendControl(encodeControl(m));
  }
}

export class ReceiverEndpoint {
  /** datagrams dropped before reaching a session: malformed, unknown version, unknown session */
  packetsInvalid = 0;
  resetsSent = 0;
  /** invalid datagrams counted by sessions that have since closed */
  private retiredInvalid = 0;
  private readonly sessions = new Map<string, RecvSession>();
  /** the sessions, for round-robin polling without a copy per datagram */
  private sessionList: RecvSession[] = [];
  private readonly byTransferId = new Map<string, { session: RecvSession; t: RecvTransfer }>();
  private readonly events: ReceiverEvent[] = [];
  private readonly outbox: Array<{ datagram: Uint8Array; to: string }> = [];
  private readonly rateCaps = new Map<string, number>();
  private readonly transferCounts = new Map<string, RecvTransferCounters>();
  private readonly lastReset = new Map<string, Micros>();
  private pendingWrites = 0;
  private earlyBytes = 0;
  private rr = 0;

  constructor(private readonly options: ReceiverEndpointOptions) {
    if (options.security) assertKeyPair(options.security.keyPair);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  session(id: string): Connection | undefined {
    return this.sessions.get(id)?.connection;
  }

  sessionIds(): string[] {
    return [...this.sessions.keys()];
  }
  /** The per-transfer counters of `id` (also after it ended, until released). */
  transferCounters(id: string): RecvTransferCounters | undefined {
    return this.transferCounts.get(id);
  }

  releaseTransferCounters(id: string): void {
    this.transferCounts.delete(id);
  }

  /** The session currently carrying transfer `id`, or null. */
  transferSession(id: string): string | null {
    return this.byTransferId.get(id)?.session.id ?? null;
  }

  /** A server-wide incoming share for one session, advertised to its sender (bytes/s; 0 = none). */
  setRateCap(session: string, bytesPerSecond: number): void {
    this.rateCaps.set(session, bytesPerSecond);
  }

  rateCapFor(session: string): number {
    return this.rateCaps.get(session) ?? 0;
  }

  /** bytes handed out in write events and not yet reported written */
  get pendingWriteBytes(): number {
    return this.pendingWrites;
  }

  window(): number {
    return Math.max(
      0,
      (this.options.maxPendingWriteBytes ?? DEFAULT_MAX_PENDING_WRITES) - this.pendingWrites,
    );
  }

  handleDatagram(now: Micros, datagram: Uint8Array, from: string): void {
    const parsed = parseHeader(datagram);
    if (!parsed.ok) {
      this.packetsInvalid++;
      return;
    }
    const { sessionId, type, packetNumber } = parsed.header;
    const session = this.sessions.get(sessionId);
    if (session) {
      if (type === PacketType.Reset || type === PacketType.Handshake) {
        session.connection.counters.packetsInvalid++;
        return;
      }
      const before = session.connection.counters.packetsRecv;
      session.connection.handlePacket(now, type, packetNumber, datagram);
      if (session.connection.counters.packetsRecv !== before) session.from = from;
      return;
    }
    if (type === PacketType.Initial) this.onInitial(now, sessionId, packetNumber, datagram, from);
    else if (type === PacketType.Established) this.sendReset(now, sessionId, from);
    else this.packetsInvalid++;
  }

  private onInitial(now: Micros, sessionId: string, pn: number, datagram: Uint8Array, from: string): void {
    const payload = new ChecksumProtection().open(datagram, HEADER_SIZE, pn);
    let hello: Uint8Array | null = null;
    try {
      for (const f of payload ? decodeFrames(payload) : [])
        if (f.type === FrameType.Handshake) hello = f.data;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
    if (hello === null) {
      this.packetsInvalid++;
      return;
    }
    const result = this.responder(sessionId).onHello(hello);
    if (isFailure(result) && result.drop) {
      this.packetsInvalid++;
      return;
    }
    let failure: HandshakeFailure | null = isFailure(result) ? result : null;
    if (!failure && !isFailure(result)) {
      failure = this.options.admit?.(result.outcome.peer, from) ?? null;
      if (!failure && this.sessions.size >= (this.options.maxSessions ?? 1024)) {
        failure = { error: "RECEIVER_BUSY", message: "the receiver has too many sessions" };
      }
    }
    if (failure || isFailure(result)) {
      const f = failure ?? { error: "PROTOCOL", message: "handshake failed" };
      this.events.push({ type: "sessionRejected", from, code: f.error, message: f.message });
      const reply = isFailure(result) ? result.reply : undefined;
      this.outbox.push({ datagram: this.statelessClose(sessionId, f.error, f.message, reply), to: from });
      return;
    }
    const session = new RecvSession(sessionId, from, this);
    const conn = new Connection("responder", sessionId, this.options.config, session, now, {});
    session.connection = conn;
    this.sessions.set(sessionId, session);
    this.sessionList.push(session);
    conn.counters.packetsRecv++;
    conn.counters.bytesRecv += datagram.length;
    conn.counters.lastRecvTime = now;
    conn.acceptHandshake(now, pn, result.reply, result.outcome);
    this.events.push({ type: "sessionOpened", session: sessionId, from, peer: result.outcome.peer });
  }

  private responder(sessionId: string): HandshakeResponder {
    const { handshake, security, local, config } = this.options;
    if (handshake) return handshake(sessionId);
    if (security) return new NoiseResponder(security, local, config.datagramSize, sessionId);
    return new PlainHandshakeResponder(local, config.datagramSize);
  }

  private statelessClose(sessionId: string, code: string, reason: string, reply?: Uint8Array): Uint8Array {
    const close = encodeCloseFrame(code, reason);
    const frame = reply ? Buffer.concat([encodeHandshakeFrame(reply), close]) : close;
    const buf = new Uint8Array(HEADER_SIZE + frame.length + 4);
    writeHeader(buf, { version: PROTOCOL_VERSION, type: PacketType.Handshake, sessionId, packetNumber: 0 });
    buf.set(frame, HEADER_SIZE);
    return buf.subarray(0, new ChecksumProtection().seal(buf, HEADER_SIZE, HEADER_SIZE + frame.length));
  }

  /** Tells a sender its session is unknown here (we restarted), at most 10 times a second per address. */
  private sendReset(now: Micros, sessionId: string, to: string): void {
    this.packetsInvalid++;
    const last = this.lastReset.get(to);
    if (last !== undefined && now - last < 100_000) return;
    if (this.lastReset.size > 4096) this.lastReset.clear();
    this.lastReset.set(to, now);
    const buf = new Uint8Array(HEADER_SIZE + 4);
    writeHeader(buf, { version: PROTOCOL_VERSION, type: PacketType.Reset, sessionId, packetNumber: 0 });
    this.outbox.push({
      datagram: buf.subarray(0, new ChecksumProtection().seal(buf, HEADER_SIZE, HEADER_SIZE)),
      to,
    });
    this.resetsSent++;
  }

  pollTransmit(now: Micros): { datagram: Uint8Array; to: string } | null {
    const queued = this.outbox.shift();
    if (queued) return queued;
    const list = this.sessionList;
    for (let i = 0; i < list.length; i++) {
      const s = list[(this.rr + i) % list.length]!;
      const datagram = s.connection.pollTransmit(now);
      if (datagram) {
        this.rr = (this.rr + i + 1) % list.length;
        if (s.connection.state === "closed") this.removeSession(s);
        return { datagram, to: s.from };
      }
      if (s.connection.state === "closed") this.removeSession(s);
    }
    return null;
  }

  pollTimeout(): Micros | null {
    if (this.outbox.length > 0) return 0;
    let t: Micros | null = null;
    for (const s of this.sessions.values()) {
      const d = s.connection.pollTimeout();
      if (d !== null && (t === null || d < t)) t = d;
    }
    return t;
  }

  handleTimeout(now: Micros): void {
    for (const s of [...this.sessionList]) {
      s.connection.handleTimeout(now);
      if (s.connection.state === "closed") this.removeSession(s);
    }
  }

  get pendingEvents(): number {
    return this.events.length;
  }

  private removeSession(s: RecvSession): void {
    this.sessions.delete(s.id);
    this.sessionList = this.sessionList.filter((x) => x !== s);
  }

  pollEvent(): ReceiverEvent | undefined {
    return this.events.shift();
  }

  // decisions of the driver --------------------------------------------------------------------

  /**
   * Accepts a pending transfer. `failed` files (e.g. EXISTS under overwrite "never") fail before
   * any block held while deciding is taken, so none of them is written.
   */
  acceptTransfer(
    id: string,
    resume?: ReadonlyMap<number, ResumeFile>,
    failed: ReadonlyArray<{ file: number; code: string; message: string }> = [],
  ): void {
    const entry = this.byTransferId.get(id);
    if (!entry || entry.t.state !== "pending") return;
    const { session, t } = entry;
    const { have, done } = t.applyResume(resume);
    t.state = "receiving";
    session.send({ t: "accept", n: t.n, have, done });
    for (const f of failed) this.writeFailed(id, f.file, f.code, f.message);
    if (this.byTransferId.get(id)?.t !== t) return; // every file failed: the transfer has ended
    this.releaseEarly(t, session);
    t.files.forEach((_f, i) => this.maybeVerify(t, i));
    this.checkFinished(session, t);
  }

  refuseTransfer(id: string, code: string, message: string): void {
    const entry = this.byTransferId.get(id);
    if (!entry) return;
    entry.session.send({ t: "refuse", n: entry.t.n, code, message });
    this.forget(entry.session, entry.t);
  }

  writeDone(length: number): void {
    this.pendingWrites = Math.max(0, this.pendingWrites - length);
  }

  writeFailed(id: string, file: number, code: string, message: string): void {
    const entry = this.byTransferId.get(id);
    const f = entry?.t.files[file];
    if (!entry || !f || f.status === "ok" || f.status === "failed") return;
    this.failFile(entry.session, entry.t, file, code, message);
  }

  fileVerified(id: string, file: number, ok: boolean, message = ""): void {
    const entry = this.byTransferId.get(id);
    const f = entry?.t.files[file];
    if (!entry || !f || f.status !== "verifying") return;
    const { session, t } = entry;
    if (ok) {
      f.status = "ok";
      session.send({ t: "fileOk", n: t.n, f: file });
    } else if (f.attempts < (this.options.maxVerifyRetries ?? 2)) {
      f.attempts++;
      f.status = "receiving";
      f.sha256 = null;
      t.bytesReceived -= f.entry.s;
      f.received.clearAll();
      this.events.push({ type: "fileRestart", transfer: id, file });
      session.send({ t: "fileRetry", n: t.n, f: file, message });
      return;
    } else {
      this.failFile(
        session,
        t,
        file,
        "HASH_MISMATCH",
        message || "SHA-256 differs after two complete resends",
      );
    }
    this.checkFinished(session, t);
  }
  // from sessions --------------------------------------------------------------------------------

  /** Invalid datagrams seen on this port: before demultiplexing and within every session. */
  totalInvalid(): number {
    let n = this.packetsInvalid + this.retiredInvalid;
    for (const s of this.sessions.values()) n += s.connection.counters.packetsInvalid;
    return n;
  }

  onSessionClosed(session: RecvSession, code: string, reason: string): void {
    this.retiredInvalid += session.connection.counters.packetsInvalid;
    for (const t of session.transfers.values()) {
      this.forget(session, t);
      if (t.state !== "announcing") {
        this.events.push({
          type: "transferEnded",
          transfer: t.id,
          outcome: "interrupted",
          message: `${code}: ${reason}`,
        });
      }
    }
    this.events.push({ type: "sessionClosed", session: session.id, code, message: reason });
  }

  onControl(session: RecvSession, m: ControlMessage): void {
    if (m.t === "start") {
      if (session.transfers.has(m.n) || m.blockSize > 65536) {
        session.connection.close("PROTOCOL", `bad transfer announcement ${m.n}`);
        return;
      }
      const previous = this.byTransferId.get(m.id);
      // The same transfer over a new session (the sender reconnected): the old one is let go.
      if (previous) this.forget(previous.session, previous.t);
      const t = new RecvTransfer(m.n, m.id, m.blockSize, m.path, m.overwrite);
      t.addFiles(m.files);
      if (m.rt !== undefined) t.receiveToken = { token: m.rt, password: m.rtp ?? null };
      if (!this.transferCounts.has(m.id)) {
        if (this.transferCounts.size >= 65_536)
          this.transferCounts.delete(this.transferCounts.keys().next().value!);
        this.transferCounts.set(m.id, {
          bytesAccepted: 0,
          blocksAccepted: 0,
          blocksDuplicate: 0,
          dataPacketsRecv: 0,
          lastRecvTime: null,
        });
      }
      session.transfers.set(m.n, t);
      this.byTransferId.set(m.id, { session, t });
      if (!m.more) this.requestDecision(session, t);
      return;
    }
    const t = session.transfers.get(m.n);
    if (!t) return; // refused or ended meanwhile
    switch (m.t) {
      case "files":
        if (t.state !== "announcing") break;
        t.addFiles(m.files);
        if (!m.more) this.requestDecision(session, t);
        return;
      case "fileEnd": {
        const f = t.files[m.f];
        if (!f || f.entry.d) break;
        if (f.status === "receiving") f.sha256 = m.sha256;
        this.maybeVerify(t, m.f);
        return;
      }
      case "cancel": {
        this.forget(session, t);
        const outcome = m.reason === "cancel" ? "cancelled" : m.reason === "suspend" ? "suspended" : "failed";
        this.events.push({ type: "transferEnded", transfer: t.id, outcome, message: m.message });
        return;
      }
      case "fileFailed": {
        const f = t.files[m.f];
        if (!f || f.status === "ok" || f.status === "failed") return;
        f.status = "failed";
        this.events.push({ type: "fileFailed", transfer: t.id, file: m.f, code: m.code, message: m.message });
        this.checkFinished(session, t);
        return;
      }
      default:
        break;
    }
    session.connection.close("PROTOCOL", `unexpected control message "${m.t}" for transfer ${m.n}`);
  }

  onData(session: RecvSession, frame: DataFrame): boolean {
    const t = session.transfers.get(frame.transfer);
    if (!t) return false;
    const f = t.files[frame.file];
    const expected = f ? t.blockLength(frame.file, frame.offset) : -1;
    if (t.state !== "receiving") {
      // Not decided yet: hold the block (acknowledged) within EARLY_DATA_LIMIT, else drop it.
      if (!f || expected !== frame.data.length || this.earlyBytes + expected > EARLY_DATA_LIMIT) return false;
      if (this.pendingWrites + expected > (this.options.maxPendingWriteBytes ?? DEFAULT_MAX_PENDING_WRITES))
        return false;
      t.early.push(frame);
      t.earlyBytes += expected;
      this.earlyBytes += expected;
      this.pendingWrites += expected;
      return true;
    }
    if (expected !== frame.data.length) {
      session.connection.counters.packetsInvalid++;
      return false;
    }
    // a duplicate is acknowledged even when the write buffer is full: it costs no memory
    const duplicate = this.isDuplicate(t, frame);
    const limit = this.options.maxPendingWriteBytes ?? DEFAULT_MAX_PENDING_WRITES;
    if (!duplicate && this.pendingWrites + expected > limit) return false;
    this.take(session, t, frame, duplicate);
    return true;
  }

  /** A block of an accepted transfer, acknowledged: write it unless it is a duplicate. */
  private take(
    session: RecvSession,
    t: RecvTransfer,
    frame: DataFrame,
    duplicate = this.isDuplicate(t, frame),
  ): void {
    const f = t.files[frame.file]!;
    const block = frame.offset / t.blockSize;
    const counts = this.transferCounts.get(t.id);
    if (counts) {
      counts.dataPacketsRecv++;
      counts.lastRecvTime = session.connection.counters.lastRecvTime;
    }
    if (duplicate) {
      session.connection.counters.packetsDuplicate++;
      if (counts) counts.blocksDuplicate++;
      return;
    }
    if (counts) {
      counts.bytesAccepted += frame.data.length;
      counts.blocksAccepted++;
    }
    f.received.set(block);
    t.bytesReceived += frame.data.length;
    this.pendingWrites += frame.data.length;
    this.events.push({
      type: "write",
      transfer: t.id,
      file: frame.file,
      offset: frame.offset,
      data: frame.data,
    });
    this.maybeVerify(t, frame.file);
  }

  /** The block is already held, or its file no longer takes blocks. */
  private isDuplicate(t: RecvTransfer, frame: DataFrame): boolean {
    const f = t.files[frame.file]!;
    return f.status !== "receiving" || f.received.has(frame.offset / t.blockSize);
  }

  /** Drops (refused, closed) or takes (accepted) the blocks held while the transfer was decided. */
  private releaseEarly(t: RecvTransfer, session: RecvSession | null): void {
    const early = t.early;
    this.earlyBytes -= t.earlyBytes;
    this.pendingWrites = Math.max(0, this.pendingWrites - t.earlyBytes);
    t.early = [];
    t.earlyBytes = 0;
    if (session) for (const frame of early) this.take(session, t, frame);
  }

  private requestDecision(session: RecvSession, t: RecvTransfer): void {
    if (t.receiveToken !== null && (session.connection.peer?.cipher ?? "none") === "none") {
      this.refuseTransfer(
        t.id,
        "RECEIVER_REFUSED",
        "a receiveToken is only accepted on an encrypted session",
      );
      return;
    }
    t.state = "pending";
    this.events.push({
      type: "transferRequest",
      session: session.id,
      transfer: {
        id: t.id,
        destinationPath: t.destinationPath,
        overwrite: t.overwrite,
        blockSize: t.blockSize,
        files: t.files.map((f) => f.entry),
        ...(t.receiveToken === null ? {} : { receiveToken: t.receiveToken }),
      },
    });
  }

  private maybeVerify(t: RecvTransfer, file: number): void {
    const f = t.files[file];
    if (!f || t.state !== "receiving" || !t.readyToVerify(f)) return;
    f.status = "verifying";
    this.events.push({ type: "fileReceived", transfer: t.id, file, sha256: f.entry.d ? null : f.sha256 });
  }

  private failFile(session: RecvSession, t: RecvTransfer, file: number, code: string, message: string): void {
    t.files[file]!.status = "failed";
    session.send({ t: "fileFailed", n: t.n, f: file, code, message });
    this.events.push({ type: "fileFailed", transfer: t.id, file, code, message });
    this.checkFinished(session, t);
  }

  private checkFinished(session: RecvSession, t: RecvTransfer): void {
    if (t.state !== "receiving" || !t.finished) return;
    this.forget(session, t);
    const failed = t.files.filter((f) => f.status === "failed").length;
    this.events.push({
      type: "transferEnded",
      transfer: t.id,
      outcome: failed === 0 ? "complete" : "failed",
      message: failed === 0 ? "" : `${failed} of ${t.files.length} files failed`,
    });
  }

  private forget(session: RecvSession, t: RecvTransfer): void {
    this.releaseEarly(t, null);
    session.transfers.delete(t.n);
    if (this.byTransferId.get(t.id)?.t === t) this.byTransferId.delete(t.id);
  }
}
