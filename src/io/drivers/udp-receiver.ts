/**
 * Drives a core ReceiverEndpoint on a bound UDP socket: admits transfers into a sandbox root,
 * writes blocks through FileSinks (part file beside the target, renamed once the SHA-256 matches),
 * resumes from live sinks or checkpoints, and reports how each transfer ended.
 */
import type { LocalIdentity, PeerInfo } from "../../core/transport/handshake.js";
import type { ResponderSecurity } from "../../core/crypto/security.js";
import { randomBytes } from "node:crypto";
import {
  ReceiverEndpoint,
  type IncomingTransfer,
  type ReceiverEvent,
  type TransferOutcome,
} from "../../core/endpoint/receiver.js";
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from "../../core/transport/connection.js";
import { CheckpointStore } from "../checkpoint-store.js";
import { UdpSocket, type DatagramTransport, type UdpEndpoint } from "../udp-socket.js";
import { monotonicMicros } from "./clock.js";
import { PumpScheduler } from "./pump-scheduler.js";
import { PathRefusedError, ReceiverFiles } from "./receiver-files.js";

export interface UdpReceiverOptions {
  host: string;
  /** datagrams go through this instead of an own socket at host:port (e.g. a relay's public port) */
  transport?: DatagramTransport;
  /** 0 picks a free port */
  port: number;
  /** absolute sandbox directory every received path lands under */
  root: string;
  config?: Partial<ConnectionConfig>;
  checkpointDir?: string;
  /** how often open part files are fsynced and their ranges saved; default 5000 */
  checkpointIntervalMs?: number;
  /** how long the part files of an interrupted transfer stay open for the sender to reconnect; default 60000 */
  keepInterruptedMs?: number;
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** bytes handed out for writing and not yet written (flow control); default 256 MiB */
  maxPendingWriteBytes?: number;
  /** this server's identity, sent in handshake replies */
  identity?: LocalIdentity;
  /**
   * decides whether a transfer may be written at all; a refusal names its code and reason, `{root}`
   * admits it under that sandbox root instead of `root`. `peer` is the sending session's
   * (peer.publicKey: the sender's key proven by the handshake, or null), `session` its id
   */
  admitTransfer?: (
    transfer: IncomingTransfer,
    peer: PeerInfo | null,
    session: string,
  ) => AdmitDecision | Promise<AdmitDecision>;
  /** admission of a session once its handshake succeeded (e.g. an allow-list for plain senders) */
  admitSession?: (peer: PeerInfo, from: string) => { code: string; message: string } | null;
  /** key pair and policy for the authenticated handshake; absent: plain sessions only */
  security?: ResponderSecurity;
  /** sessions opened, closed or refused at the handshake (e.g. NOT_AUTHORIZED, KEY_MISMATCH) */
  onSessionEvent?: (
    e: Extract<ReceiverEvent, { type: "sessionOpened" | "sessionClosed" | "sessionRejected" }>,
  ) => void;
}

export type AdmitDecision = { code: string; message: string } | { root: string } | null;

/** One file verified and renamed into place. */
export interface FileVerified {
  transfer: string;
  file: number;
  /** absolute local path it was written to */
  target: string;
  /** its path as the sender named it */
  destPath: string;
  size: number;
  sha256: string | null;
  /** an empty-directory entry (created, nothing verified) */
  directory: boolean;
}

export interface TransferEnd {
  transfer: string;
  outcome: TransferOutcome | "refused";
  message: string;
  /** why a transfer was refused: RECEIVER_REFUSED, RECEIVER_WRITE or the admitTransfer code */
  code?: string;
}

export interface UdpReceiverStats {
  sessions: number;
  activeTransfers: number;
  bytesWritten: number;
  filesVerified: number;
  verifyFailures: number;
  writeErrors: number;
  invalidPackets: number;
  datagramsReceived: number;
  datagramsSent: number;
  grantedRecvBufferSize: number;
  grantedSendBufferSize: number;
  local: UdpEndpoint;
  warnings: string[];
}

interface Incoming {
  /** resolves once paths are resolved and the transfer accepted; null when refused */
  files: Promise<ReceiverFiles | null>;
  /** `files` once resolved: blocks are written without a promise hop per datagram */
  ready: ReceiverFiles | null;
  keepTimer: NodeJS.Timeout | null;
}

export class UdpReceiver {
  readonly endpoint: ReceiverEndpoint;
  /** called once per transfer after its files are cleaned up */
  onTransferEnded: ((end: TransferEnd) => void) | null = null;
  /** called once per file verified and renamed into place */
  onFileVerified: ((file: FileVerified) => void) | null = null;
  /** called when a file fails here or at the sender (EXISTS, HASH_MISMATCH, RECEIVER_WRITE, SOURCE_READ …) */
  onFileFailed: ((e: { transfer: string; file: number; code: string; message: string }) => void) | null =
    null;
  private readonly scheduler: PumpScheduler;
  private readonly incoming = new Map<string, Incoming>();
  private readonly ended = new Map<string, TransferEnd>();
  private readonly waiters = new Map<string, Array<(end: TransferEnd) => void>>();
  private readonly peers = new Map<string, UdpEndpoint>();
  private readonly checkpointTimer: NodeJS.Timeout | null = null;
  private readonly counters = { bytesWritten: 0, filesVerified: 0, verifyFailures: 0, writeErrors: 0 };
  private closed = false;

  private constructor(
    private readonly socket: DatagramTransport,
    private readonly options: UdpReceiverOptions,
    private readonly store: CheckpointStore | null,
  ) {
    this.endpoint = new ReceiverEndpoint({
      config: { ...DEFAULT_CONNECTION_CONFIG, pacerMaxBurst: 2_000, ...options.config },
      local: options.identity ?? { serverId: null, serverUid: null },
      maxPendingWriteBytes: options.maxPendingWriteBytes,
      security: options.security,
      ...(options.admitSession
        ? {
            admit: (peer: PeerInfo, from: string) => {
              const refusal = options.admitSession?.(peer, from) ?? null;
              return refusal ? { error: refusal.code, message: refusal.message } : null;
            },
          }
        : {}),
    });
    this.scheduler = new PumpScheduler(() => this.pump());
    socket.onDatagram((data, from) => {
      this.endpoint.handleDatagram(monotonicMicros(), data, this.keyOf(from));
      this.scheduler.soon();
    });
    if (store) {
      this.checkpointTimer = setInterval(
        () => void this.checkpointAll(),
        options.checkpointIntervalMs ?? 5000,
      );
      this.checkpointTimer.unref();
    }
  }

  static async open(options: UdpReceiverOptions): Promise<UdpReceiver> {
    const store = options.checkpointDir ? await CheckpointStore.open(options.checkpointDir) : null;
    const socket =
      options.transport ??
      (await UdpSocket.open({
        host: options.host,
        port: options.port,
        recvBufferSize: options.recvBufferSize ?? 8 * 1024 * 1024,
        sendBufferSize: options.sendBufferSize ?? 1024 * 1024,
      }));
    return new UdpReceiver(socket, options, store);
  }

  get address(): UdpEndpoint {
    return this.socket.localAddress;
  }

  /** Resolves when the transfer has ended here (at once if it already has). */
  waitForEnd(id: string): Promise<TransferEnd> {
    const done = this.ended.get(id);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]));
  }

  stats(): UdpReceiverStats {
    return {
      sessions: this.endpoint.sessionCount,
      activeTransfers: this.incoming.size,
      ...this.counters,
      invalidPackets: this.endpoint.totalInvalid(),
      datagramsReceived: this.socket.counters.datagramsReceived,
      datagramsSent: this.socket.counters.datagramsSent,
      grantedRecvBufferSize: this.socket.grantedRecvBufferSize,
      grantedSendBufferSize: this.socket.grantedSendBufferSize,
      local: this.socket.localAddress,
      warnings: [...this.socket.warnings],
    };
  }

  /** Closes a live session (its transfers are interrupted and may resume on a new one). */
  closeSession(id: string, code: string, message: string): void {
    this.endpoint.session(id)?.close(code, message);
    this.scheduler.soon();
  }

  /** Stops receiving; open part files are closed and kept (checkpointed when a store is set). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.stop();
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.checkpointAll();
    for (const entry of this.incoming.values()) {
      if (entry.keepTimer) clearTimeout(entry.keepTimer);
      await (await entry.files)?.close(false);
    }
    this.incoming.clear();
    await this.socket.close();
  }

  private pump(): void {
    if (this.closed) return;
    const now = monotonicMicros();
    const due = this.endpoint.pollTimeout();
    if (due !== null && due <= now) this.endpoint.handleTimeout(now);
    let progressed = false;
    do {
      for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
        progressed = true;
        this.onEvent(e);
      }
      for (let out = this.endpoint.pollTransmit(now); out; out = this.endpoint.pollTransmit(now)) {
        progressed = true;
        const to = this.peers.get(out.to);
        if (to) this.socket.send(out.datagram, to);
      }
    } while (this.endpoint.pendingEvents > 0);
    this.scheduler.armAt(this.endpoint.pollTimeout(), progressed);
  }

  private onEvent(e: ReceiverEvent): void {
    switch (e.type) {
      case "transferRequest":
        this.onRequest(e.transfer, this.endpoint.session(e.session)?.peer ?? null, e.session);
        break;
      case "sessionOpened":
      case "sessionClosed":
      case "sessionRejected":
        this.options.onSessionEvent?.(e);
        break;
      case "write":
        this.onWrite(e.transfer, e.file, e.offset, e.data);
        break;
      case "fileReceived":
        this.onFileReceived(e.transfer, e.file, e.sha256);
        break;
      case "fileRestart":
        void this.filesOf(e.transfer).then((files) => files?.restart(e.file));
        break;
      case "transferEnded":
        void this.onEnded(e.transfer, e.outcome, e.message);
        break;
      case "fileFailed":
        this.onFileFailed?.(e);
        break;
      default:
        break;
    }
  }

  private onRequest(transfer: IncomingTransfer, peer: PeerInfo | null, session: string): void {
    this.ended.delete(transfer.id);
    const previous = this.incoming.get(transfer.id);
    if (previous) {
      // The sender reconnected: offer what the still-open part files hold.
      if (previous.keepTimer) clearTimeout(previous.keepTimer);
      previous.keepTimer = null;
      void previous.files.then(async (files) => {
        if (!files) return;
        await files.refreshResumeFromSinks();
        this.endpoint.acceptTransfer(transfer.id, files.resumeMap());
        this.scheduler.soon();
      });
      return;
    }
    // The decision may take a while (a receive token's password is checked with scrypt).
    const files = Promise.resolve(this.options.admitTransfer?.(transfer, peer, session) ?? null).then(
      (decision) => {
        if (!decision || !("code" in decision))
          return this.admit(transfer, decision?.root ?? this.options.root);
        if (this.incoming.get(transfer.id)?.files === files) this.incoming.delete(transfer.id);
        this.endpoint.refuseTransfer(transfer.id, decision.code, decision.message);
        this.announceEnd({
          transfer: transfer.id,
          outcome: "refused",
          message: decision.message,
          code: decision.code,
        });
        this.scheduler.soon();
        return null;
      },
    );
    const entry: Incoming = { files, ready: null, keepTimer: null };
    this.incoming.set(transfer.id, entry);
    void files.then((ready) => {
      entry.ready = ready;
    });
  }

  private async admit(transfer: IncomingTransfer, root: string): Promise<ReceiverFiles | null> {
    let files: ReceiverFiles;
    try {
      files = await ReceiverFiles.prepare(root, transfer);
      await files.createDirectories();
      if (this.store) await files.loadCheckpoint(this.store);
    } catch (error) {
      const code = error instanceof PathRefusedError ? "RECEIVER_REFUSED" : "RECEIVER_WRITE";
      const message = (error as Error).message;
      this.endpoint.refuseTransfer(transfer.id, code, message);
      this.incoming.delete(transfer.id);
      this.announceEnd({ transfer: transfer.id, outcome: "refused", message, code });
      this.scheduler.soon();
      return null;
    }
    // overwrite "never": an existing target fails that file (EXISTS); the others go on.
    const existing = transfer.overwrite === "never" ? await files.existingTargets() : [];
    if (transfer.overwrite === "differs") await files.markIdenticalTargets();
    this.endpoint.acceptTransfer(
      transfer.id,
      files.resumeMap(),
      existing.map(({ file, target }) => ({
        file,
        code: "EXISTS",
        message: `${target} exists and overwrite is "never"`,
      })),
    );
    this.scheduler.soon();
    return files;
  }

  private filesOf(id: string): Promise<ReceiverFiles | null> {
    return this.incoming.get(id)?.files ?? Promise.resolve(null);
  }

  private onWrite(id: string, file: number, offset: number, data: Uint8Array): void {
    const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const ready = this.incoming.get(id)?.ready;
    const written = ready
      ? ready.write(file, offset, buffer)
      : this.filesOf(id).then((files) => {
          if (!files) throw new Error("the transfer is no longer active");
          return files.write(file, offset, buffer);
        });
    // one reaction per block: at 100,000 blocks a second every promise hop shows in the profile
    written.then(
      () => {
        this.counters.bytesWritten += buffer.length;
        this.endpoint.writeDone(buffer.length);
        this.scheduler.soon();
      },
      (error: unknown) => {
        this.counters.writeErrors++;
        this.endpoint.writeFailed(id, file, "RECEIVER_WRITE", (error as Error).message);
        this.endpoint.writeDone(buffer.length);
        this.scheduler.soon();
      },
    );
  }

  private onFileReceived(id: string, file: number, sha256: string | null): void {
    void this.filesOf(id)
      .then(async (files) => {
        if (!files) return;
        const result = await files.finish(file, sha256);
        if (result.ok) {
          this.counters.filesVerified++;
          const { target, entry } = files.slotOf(file);
          this.onFileVerified?.({
            transfer: id,
            file,
            target,
            destPath: entry.p,
            size: entry.d ? 0 : entry.s,
            sha256: "sha256" in result ? result.sha256 : null,
            directory: !!entry.d,
          });
        } else this.counters.verifyFailures++;
        const message = result.ok
          ? ""
          : result.reason === "HASH_MISMATCH"
            ? `SHA-256 ${result.sha256} differs from the sender's ${result.expectedSha256}`
            : `bytes missing: ${JSON.stringify(result.missing.slice(0, 4))}`;
        this.endpoint.fileVerified(id, file, result.ok, message);
      })
      .catch((error: unknown) => {
        this.counters.writeErrors++;
        this.endpoint.writeFailed(id, file, "RECEIVER_WRITE", (error as Error).message);
      })
      .finally(() => this.scheduler.soon());
  }

  private async onEnded(id: string, outcome: TransferOutcome, message: string): Promise<void> {
    const entry = this.incoming.get(id);
    const files = entry ? await entry.files : null;
    if (outcome === "interrupted" && entry && files && !this.closed) {
      // Keep the part files open a while: the sender reconnects and resumes from them.
      if (this.store) await files.checkpoint(this.store).catch(() => undefined);
      entry.keepTimer = setTimeout(() => {
        if (this.incoming.get(id) !== entry) return;
        this.incoming.delete(id);
        void files.close(false);
      }, this.options.keepInterruptedMs ?? 60_000);
      entry.keepTimer.unref();
      this.announceEnd({ transfer: id, outcome, message });
      return;
    }
    if (this.incoming.get(id) === entry) this.incoming.delete(id);
    if (files && this.store && outcome === "suspended")
      await files.checkpoint(this.store).catch(() => undefined);
    await files?.close(outcome === "cancelled");
    if (this.store && (outcome === "complete" || outcome === "cancelled")) {
      await this.store.delete(id, "receiver").catch(() => undefined);
    }
    this.announceEnd({ transfer: id, outcome, message });
  }

  private announceEnd(end: TransferEnd): void {
    this.ended.set(end.transfer, end);
    for (const resolve of this.waiters.get(end.transfer) ?? []) resolve(end);
    this.waiters.delete(end.transfer);
    this.onTransferEnded?.(end);
  }

  private async checkpointAll(): Promise<void> {
    if (!this.store) return;
    for (const entry of this.incoming.values()) {
      const files = await entry.files;
      if (files) await files.checkpoint(this.store).catch(() => undefined);
    }
  }

  private keyOf(from: UdpEndpoint): string {
    const key = from.address.includes(":")
      ? `[${from.address}]:${from.port}`
      : `${from.address}:${from.port}`;
    if (!this.peers.has(key)) {
      if (this.peers.size > 65_536) this.peers.clear();
      this.peers.set(key, { address: from.address, port: from.port });
    }
    return key;
  }
}

/** A random transfer id (32 lowercase hex characters). */
export function newTransferId(): string {
  return randomBytes(16).toString("hex");
}
