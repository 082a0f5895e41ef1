/**
 * Drives a core SenderEndpoint over a real UDP socket connected to one receiver: feeds it
 * datagrams and monotonic time, sends what it polls, and serves its block reads from FileSources.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { LocalIdentity } from "../../core/transport/handshake.js";
import type { InitiatorSecurity } from "../../core/crypto/security.js";
import { SenderEndpoint, type SenderEvent } from "../../core/endpoint/sender.js";
import type { Micros } from "../../core/time.js";
import type { SendTransfer, TransferFileSpec, Overwrite } from "../../core/transfer/send-transfer.js";
import type { CancelReason } from "../../core/transfer/messages.js";
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from "../../core/transport/connection.js";
import { FileChangedError, FileSource } from "../file-source.js";
import { UdpSocket, type DatagramTransport, type UdpEndpoint } from "../udp-socket.js";
import { monotonicMicros } from "./clock.js";
import { PumpScheduler } from "./pump-scheduler.js";

export interface UdpSenderOptions {
  host: string;
  /** datagrams go through this instead of an own socket (e.g. a sender-side relay's channel) */
  transport?: DatagramTransport;
  port: number;
  config?: Partial<ConnectionConfig>;
  /** local address to bind; default "127.0.0.1" or "::1" matching the peer, port 0 */
  local?: { host: string; port?: number };
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** a transfer without acknowledged progress for this long fails with STALLED (default 300 s) */
  stallTimeout?: Micros;
  /** bytes of file data read ahead or kept for retransmission, per transfer */
  readBudget?: number;
  /** this server's identity, sent in the handshake */
  identity?: LocalIdentity;
  /**
   * key pair, pinned receiver key and cipher policy for the authenticated handshake; absent: plain
   * (cipher none). Learned key, cipher and state: senderStats(sender.endpoint).
   */
  security?: InitiatorSecurity;
}

export interface SendFileEntry {
  /** local path of the file or directory */
  source: string;
  /** target path relative to the destination path */
  path: string;
}

export interface SendSpec {
  /** 32 lowercase hex characters; random when absent */
  id?: string;
  destinationPath: string;
  overwrite?: Overwrite;
  files: SendFileEntry[];
  /** continue an earlier run: wait for the receiver's block map instead of sending at once */
  resumed?: boolean;
  /** an API token of the receiving server with `upload` (api.md §3.4); needs an encrypted session */
  receiveToken?: { token: string; password: string | null };
}

export interface SendResult {
  ok: boolean;
  id: string;
  code?: string;
  message?: string;
}

export interface UdpSenderStats {
  packetsSent: number;
  bytesSent: number;
  dataPacketsSent: number;
  dataPacketsRetransmitted: number;
  dataPacketsLost: number;
  packetsRecv: number;
  bytesRecv: number;
  /** smoothed and minimum RTT in µs; null before the first sample */
  rttSmoothed: Micros | null;
  rttMin: Micros | null;
  /** bytes per second; 0 without a connection */
  pacingRate: number;
  state: SenderEndpoint["state"];
  grantedRecvBufferSize: number;
  grantedSendBufferSize: number;
  socketSendDrops: number;
  socketSendErrors: number;
  local: UdpEndpoint;
  warnings: string[];
}

interface ActiveSend {
  entries: SendFileEntry[];
  specs: TransferFileSpec[];
  /** FileSources opened lazily, closed when their file is done or the transfer ends */
  sources: Map<number, Promise<FileSource>>;
  settle: (result: SendResult) => void;
}

const MAX_QUEUED_SENDS = 1024;

export class UdpSender {
  readonly endpoint: SenderEndpoint;
  private readonly scheduler: PumpScheduler;
  private readonly active = new Map<string, ActiveSend>();
  private readonly listeners = new Set<(e: SenderEvent) => void>();
  private closed = false;

  private constructor(
    private readonly socket: DatagramTransport,
    options: UdpSenderOptions,
  ) {
    this.endpoint = new SenderEndpoint({
      // A process that is descheduled or whose event loop stalls (TLS handshakes on the API, a
      // busy machine) may catch up on up to 10 ms of missed sending; with 2 ms, every longer
      // stall was send time lost for good (docs/benchmarks.md, API under load).
      config: { ...DEFAULT_CONNECTION_CONFIG, pacerMaxBurst: 10_000, ...options.config },
      local: options.identity ?? { serverId: null, serverUid: null },
      randomBytes: (n) => randomBytes(n),
      stallTimeout: options.stallTimeout,
      readBudget: options.readBudget,
      security: options.security,
    });
    this.scheduler = new PumpScheduler(() => this.pump());
    socket.onDatagram((data) => {
      this.endpoint.handleDatagram(monotonicMicros(), data);
      this.scheduler.soon();
    });
  }

  static async open(options: UdpSenderOptions): Promise<UdpSender> {
    const ipv6 = options.host.includes(":");
    const socket =
      options.transport ??
      (await UdpSocket.open({
        host: options.local?.host ?? (ipv6 ? "::1" : "127.0.0.1"),
        port: options.local?.port ?? 0,
        connectTo: { host: options.host, port: options.port },
        recvBufferSize: options.recvBufferSize ?? 4 * 1024 * 1024,
        sendBufferSize: options.sendBufferSize ?? 4 * 1024 * 1024,
        maxQueuedSends: MAX_QUEUED_SENDS,
      }));
    return new UdpSender(socket, options);
  }

  /** Opens the session now, without waiting for a transfer (keepalives then measure the RTT). */
  connect(): void {
    if (this.closed || this.endpoint.state !== "disconnected") return;
    this.endpoint.connect(monotonicMicros());
    this.scheduler.soon();
  }

  get localAddress(): UdpEndpoint {
    return this.socket.localAddress;
  }

  /** Sends the files; resolves when the receiver verified all of them or the transfer failed. */
  async send(spec: SendSpec): Promise<SendResult> {
    if (this.closed) throw new Error("the sender is closed");
    const id = spec.id ?? randomBytes(16).toString("hex");
    if (spec.receiveToken !== undefined && !this.endpoint.encryptionEnabled) {
      return {
        ok: false,
        id,
        code: "RECEIVER_REFUSED",
        message: "a receiveToken is only sent on an encrypted session, and this sender does not encrypt",
      };
    }
    const specs: TransferFileSpec[] = [];
    for (const entry of spec.files) {
      try {
        const info = await stat(entry.source);
        const isDirectory = info.isDirectory();
        // overwrite "differs": the receiver compares this digest with an existing target's
        const sha256 =
          spec.overwrite === "differs" && !isDirectory ? await sha256OfFile(entry.source) : undefined;
        specs.push({
          path: entry.path,
          size: isDirectory ? 0 : info.size,
          mtime: Math.round(info.mtimeMs * 1000),
          ...(isDirectory ? { isDirectory } : {}),
          ...(sha256 ? { sha256 } : {}),
        });
      } catch (error) {
        return { ok: false, id, code: "SOURCE_READ", message: `${entry.source}: ${describe(error)}` };
      }
    }
    return new Promise<SendResult>((resolve) => {
      const send: ActiveSend = { entries: spec.files, specs, sources: new Map(), settle: resolve };
      this.active.set(id, send);
      this.endpoint.addTransfer(monotonicMicros(), {
        id,
        destinationPath: spec.destinationPath,
        overwrite: spec.overwrite ?? "always",
        files: specs,
        ...(spec.resumed ? { resumed: true } : {}),
        ...(spec.receiveToken === undefined ? {} : { receiveToken: spec.receiveToken }),
      });
      this.pump();
    });
  }

  /** Sees every endpoint event (progress, connects, errors) after the sender has handled it. */
  subscribe(listener: (e: SenderEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The core's state of a running transfer (progress, per-file status), if it is running. */
  transfer(id: string): SendTransfer | undefined {
    return this.active.has(id) ? this.endpoint.activeTransfers.find((t) => t.id === id) : undefined;
  }

  /**
   * Stops a running transfer and tells the receiver why (`suspend` keeps its partial files,
   * `cancel` deletes them); its `send()` resolves with code CANCELLED.
   */
  stop(id: string, reason: CancelReason, message = ""): void {
    if (!this.active.has(id)) return;
    this.endpoint.removeTransfer(monotonicMicros(), id, reason, message);
    this.finish(id, { ok: false, id, code: "CANCELLED", message: message || reason });
    this.scheduler.soon();
  }

  stats(): UdpSenderStats {
    const totals = this.endpoint.totals();
    const conn = this.endpoint.connection;
    const rtt = conn?.rtt;
    return {
      packetsSent: totals.packetsSent,
      bytesSent: totals.bytesSent,
      dataPacketsSent: totals.dataPacketsSent,
      dataPacketsRetransmitted: totals.dataPacketsRetransmitted,
      dataPacketsLost: totals.dataPacketsLost,
      packetsRecv: totals.packetsRecv,
      bytesRecv: totals.bytesRecv,
      rttSmoothed: rtt?.hasSample ? rtt.smoothed : null,
      rttMin: rtt?.hasSample ? rtt.min : null,
      pacingRate: conn && conn.state !== "closed" ? conn.pacingRate() : 0,
      state: this.endpoint.state,
      grantedRecvBufferSize: this.socket.grantedRecvBufferSize,
      grantedSendBufferSize: this.socket.grantedSendBufferSize,
      socketSendDrops: this.socket.counters.sendDrops,
      socketSendErrors: this.socket.counters.sendErrors,
      local: this.socket.localAddress,
      warnings: [...this.socket.warnings],
    };
  }

  /** Cancels what is still running, closes the session (best effort) and the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    const now = monotonicMicros();
    for (const id of [...this.active.keys()]) {
      this.endpoint.removeTransfer(now, id, "cancel", "sender closed");
      this.finish(id, { ok: false, id, code: "CANCELLED", message: "sender closed" });
    }
    this.endpoint.close(now);
    this.pump();
    this.closed = true;
    this.scheduler.stop();
    await this.socket.close();
  }

  private pump(): void {
    if (this.closed) return;
    const now = monotonicMicros();
    const due = this.endpoint.pollTimeout();
    let progressed = false;
    if (due !== null && due <= now) this.endpoint.handleTimeout(now);
    let throttled = false;
    do {
      for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) {
        progressed = true;
        this.onEvent(e);
      }
      // Leave datagrams with the endpoint while libuv's queue is long: they would only be dropped.
      while (!throttled) {
        if (this.socket.sendQueue.datagrams >= MAX_QUEUED_SENDS / 2) {
          throttled = true;
          break;
        }
        const datagram = this.endpoint.pollTransmit(now);
        if (!datagram) break;
        progressed = true;
        this.socket.send(datagram);
      }
    } while (this.endpoint.pendingEvents > 0);
    this.scheduler.armAt(this.endpoint.pollTimeout(), progressed && !throttled);
  }

  private onEvent(e: SenderEvent): void {
    switch (e.type) {
      case "read":
        this.serveRead(e.transfer, e.file, e.offset, e.length);
        break;
      case "fileComplete":
      case "fileFailed":
        this.closeSource(e.transfer, e.file);
        break;
      case "transferComplete":
        this.finish(e.transfer, { ok: true, id: e.transfer });
        break;
      case "transferRefused":
      case "transferFailed": {
        const socketError = this.socket.counters.lastErrorCode;
        const suffix = socketError && e.code === "STALLED" ? ` (socket: ${socketError})` : "";
        this.finish(e.transfer, { ok: false, id: e.transfer, code: e.code, message: e.message + suffix });
        break;
      }
      default:
        break;
    }
    for (const listener of this.listeners) listener(e);
  }

  private serveRead(id: string, file: number, offset: number, length: number): void {
    const send = this.active.get(id);
    const entry = send?.entries[file];
    const spec = send?.specs[file];
    if (!send || !entry || !spec) return;
    let source = send.sources.get(file);
    if (!source) {
      // The core already reads ahead in whole chunks and hashes them: exact reads, so a chunk it
      // keeps for retransmission pins only its own bytes.
      source = FileSource.open(entry.source, {
        expected: { size: spec.size, mtimeMs: spec.mtime / 1000 },
        readAheadBytes: 0,
        trackHash: false,
      });
      source.catch(() => undefined);
      send.sources.set(file, source);
    }
    source
      .then((s) => s.read(offset, length))
      .then(
        (data) => this.endpoint.provideRead(id, file, offset, data),
        (error: unknown) => {
          send.sources.delete(file);
          const code = error instanceof FileChangedError ? "SOURCE_CHANGED" : "SOURCE_READ";
          this.endpoint.readFailed(id, file, code, `${entry.source}: ${describe(error)}`);
        },
      )
      .finally(() => this.scheduler.soon());
  }

  private closeSource(id: string, file: number): void {
    const sources = this.active.get(id)?.sources;
    const source = sources?.get(file);
    if (!sources || !source) return;
    sources.delete(file);
    void source.then((s) => s.close()).catch(() => undefined);
  }

  private finish(id: string, result: SendResult): void {
    const send = this.active.get(id);
    if (!send) return;
    this.active.delete(id);
    for (const file of [...send.sources.keys()]) {
      const source = send.sources.get(file)!;
      void source.then((s) => s.close()).catch(() => undefined);
    }
    send.sources.clear();
    send.settle(result);
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function describe(error: unknown): string {
  if (error instanceof FileChangedError) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${(error as Error).message}` : String(error);
}
