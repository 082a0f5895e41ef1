/**
 * The receive records (api.md §5.12): created when a transfer is admitted, measured once per
 * second, moved through their statuses by the receiver's verdicts, persisted on every status
 * change and every checkpoint interval; `expirySeconds` after they end the collection pass
 * (server/gc/recv-collector.ts) removes them. Emits the
 * transfer events of api.md §7.3, each once.
 */
import type { PeerInfo } from "../../core/transport/handshake.js";
import type { IncomingTransfer } from "../../core/endpoint/receiver.js";
import { monotonicMicros } from "../../io/drivers/clock.js";
import type { Clock } from "../clock.js";
import type { FileVerified, TransferEnd, UdpReceiver } from "../../io/drivers/udp-receiver.js";
import { join } from "node:path";
import type { ServerEvents } from "../events.js";
import {
  FINAL_RECV_STATUSES,
  leadingCode,
  ownerOf,
  type ReceiveTransferView,
  type RecvStatus,
} from "./recv-records.js";
import type { RecvStore } from "./recv-store.js";
import { TransferMonitor } from "./transfer-monitor.js";

export interface RecordSettings {
  /** expiryTime = endTime + this; 0 = null (kept forever) */
  expirySeconds: number;
  rateWindowSeconds: number;
  checkpointSeconds: number;
  /** the server's clock: record times and the garbage collector's expiry use the same one */
  clock: Clock;
}

export interface Admission {
  receivingUser: string;
  sandboxRoot: string;
  sourceIP: string;
  sourcePort: number;
  peer: PeerInfo | null;
}

/** File data a source's transfers brought in the last tick. */
export interface SourceSample {
  bytes: number;
  seconds: number;
  active: boolean;
}

export class RecvRecords {
  private readonly monitors = new Map<string, TransferMonitor>();
  private readonly refused = new Set<string>();
  private readonly fileErrors = new Map<string, { code: string; message: string }>();
  private lastSave = monotonicMicros();

  constructor(
    private readonly store: RecvStore,
    private readonly events: ServerEvents,
    private readonly settings: RecordSettings,
  ) {
    for (const doc of store.loadTransfers())
      this.monitors.set(doc.view.transferId, new TransferMonitor(doc, null));
  }

  all(): ReceiveTransferView[] {
    return [...this.monitors.values()].map((m) => m.doc.view);
  }

  get(id: string): ReceiveTransferView | undefined {
    return this.monitors.get(id)?.doc.view;
  }

  list(filter: (v: ReceiveTransferView) => boolean, offset: number, limit: number): ReceiveTransferView[] {
    return this.all()
      .filter(filter)
      .sort((a, b) => a.startTime - b.startTime)
      .slice(offset, offset + limit)
      .map((v) => ({ ...v }));
  }

  /** Drop an ended record from memory and the database (the collection pass). */
  remove(id: string): void {
    this.monitors.delete(id);
    this.store.deleteTransfer(id);
  }

  refusedAtAdmission(id: string): void {
    this.refused.add(id);
  }

  admitted(receiver: UdpReceiver, transfer: IncomingTransfer, a: Admission): void {
    const now = this.settings.clock.nowMicros();
    const files = transfer.files.filter((f) => !f.d);
    const existing = this.monitors.get(transfer.id);
    const rootPath = join(a.sandboxRoot, transfer.destinationPath);
    const source = {
      receivingUser: a.receivingUser,
      rootPath,
      sourceIP: a.sourceIP,
      sourcePort: a.sourcePort,
      sourcePublicKey: a.peer?.publicKey ?? null,
      sourceServerId: a.peer?.serverId ?? null,
      sourceServerUid: a.peer?.serverUid ?? null,
      cipher: a.peer?.cipher ?? "none",
      encryptionEnabled: (a.peer?.cipher ?? "none") !== "none",
    };
    let monitor: TransferMonitor;
    if (existing) {
      monitor = existing;
      Object.assign(monitor.doc.view, source, { status: "receiving", endTime: null, expiryTime: null });
      monitor.doc.sandboxRoot = a.sandboxRoot;
    } else {
      const view: ReceiveTransferView = {
        ...source,
        aveRecvRate: 0,
        aveRecvRateWindow: 0,
        blocksDuplicate: 0,
        blocksRecv: 0,
        bytesRecv: 0,
        destinationPath: transfer.destinationPath,
        endTime: null,
        expiryTime: null,
        filesComplete: 0,
        lastCheckpointTime: null,
        lastError: null,
        lastErrorMessage: null,
        lastErrorTime: null,
        lastRecvTime: null,
        lastSendTime: null,
        packetsRecv: 0,
        packetsSent: 0,
        snapshotTime: now,
        startTime: now,
        status: "receiving",
        totalFiles: files.length,
        totalSize: files.reduce((sum, f) => sum + f.s, 0),
        transferId: transfer.id,
      };
      monitor = new TransferMonitor(
        { view, activeSeconds: 0, sandboxRoot: a.sandboxRoot, started: false },
        null,
      );
      this.monitors.set(transfer.id, monitor);
    }
    monitor.attach(receiver);
    this.store.saveTransfer(monitor.doc);
  }

  fileVerified(f: FileVerified): void {
    const m = this.monitors.get(f.transfer);
    if (!m || f.directory) return;
    this.markStarted(m);
    m.doc.view.filesComplete++;
    this.events.emit(
      "recv.fileComplete",
      { transferId: f.transfer, path: f.target, destPath: f.destPath, size: f.size, sha256: f.sha256 },
      ownerOf(m.doc.view.receivingUser),
    );
  }

  fileFailed(transfer: string, code: string, message: string): void {
    if (this.monitors.has(transfer)) this.fileErrors.set(transfer, { code, message });
  }

  ended(end: TransferEnd): void {
    if (this.refused.delete(end.transfer)) return;
    const m = this.monitors.get(end.transfer);
    if (!m) return;
    m.sample(monotonicMicros(), this.settings.rateWindowSeconds);
    const v = m.doc.view;
    const now = this.settings.clock.nowMicros();
    const fileError = this.fileErrors.get(end.transfer);
    this.fileErrors.delete(end.transfer);
    switch (end.outcome) {
      case "interrupted":
        v.lastError = leadingCode(end.message) ?? "TIMEOUT";
        v.lastErrorMessage = end.message;
        v.lastErrorTime = now;
        this.store.saveTransfer(m.doc);
        return;
      case "suspended":
        v.status = "suspended";
        break;
      case "complete":
        v.status = "complete";
        break;
      case "cancelled":
        v.status = "cancelled";
        break;
      case "failed": {
        v.status = "error";
        const code =
          leadingCode(end.message) ??
          fileError?.code ??
          (/stall/i.test(end.message) ? "STALLED" : "FAILED_BY_USER");
        this.setError(v, code, end.message || fileError?.message || code, now);
        break;
      }
      case "refused":
        v.status = "error";
        this.setError(v, end.code ?? "RECEIVER_REFUSED", end.message, now);
        break;
    }
    this.finishStatus(m, v.status, now);
  }

  /** Samples every live record; returns per source (serverUid) the file bytes of the tick. */
  tick(nowMonotonic: number): Map<string, SourceSample> {
    const bySource = new Map<string, SourceSample>();
    const now = this.settings.clock.nowMicros();
    const save = nowMonotonic - this.lastSave >= this.settings.checkpointSeconds * 1e6;
    if (save) this.lastSave = nowMonotonic;
    for (const [id, m] of this.monitors) {
      const v = m.doc.view;
      if (!m.receiver) continue;
      const sample = m.sample(nowMonotonic, this.settings.rateWindowSeconds);
      if (v.bytesRecv > 0) this.markStarted(m);
      if (v.sourceServerUid) {
        const s = bySource.get(v.sourceServerUid) ?? { bytes: 0, seconds: sample.seconds, active: false };
        s.bytes += sample.bytes;
        s.active ||= sample.active;
        s.seconds = Math.max(s.seconds, sample.seconds);
        bySource.set(v.sourceServerUid, s);
      }
      if (save && v.status === "receiving") {
        v.lastCheckpointTime = now;
        this.store.saveTransfer(m.doc);
      }
      this.events.publishSnapshot({
        type: "recvTransfer",
        id,
        owner: ownerOf(v.receivingUser),
        object: { ...v },
      });
    }
    return bySource;
  }

  saveAll(): void {
    for (const m of this.monitors.values()) if (m.receiver) this.store.saveTransfer(m.doc);
  }

  private setError(v: ReceiveTransferView, code: string, message: string, now: number): void {
    v.lastError = code;
    v.lastErrorMessage = message;
    v.lastErrorTime = now;
  }

  private finishStatus(m: TransferMonitor, status: RecvStatus, now: number): void {
    const v = m.doc.view;
    const final = FINAL_RECV_STATUSES.includes(status);
    if (final) {
      v.endTime = now;
      v.expiryTime = this.settings.expirySeconds > 0 ? now + this.settings.expirySeconds * 1e6 : null;
      m.detach();
    }
    const owner = ownerOf(v.receivingUser);
    const who = {
      transferId: v.transferId,
      sourceIP: v.sourceIP,
      sourcePort: v.sourcePort,
      receivingUser: v.receivingUser,
      rootPath: v.rootPath,
    };
    if (status === "complete") {
      this.markStarted(m);
      this.events.emit(
        "recv.transferComplete",
        { ...who, totalFiles: v.totalFiles, totalSize: v.totalSize, aveRecvRate: v.aveRecvRate },
        owner,
      );
    } else if (status === "error") {
      this.events.emit(
        "recv.transferError",
        { ...who, lastError: v.lastError, lastErrorMessage: v.lastErrorMessage },
        owner,
      );
    } else if (status === "cancelled") {
      this.events.emit("recv.transferCancelled", who, owner);
    }
    this.store.saveTransfer(m.doc);
    this.events.publishSnapshot({
      type: "recvTransfer",
      id: v.transferId,
      owner,
      object: { ...v },
      final,
    });
  }

  private markStarted(m: TransferMonitor): void {
    if (m.doc.started) return;
    m.doc.started = true;
    const v = m.doc.view;
    this.events.emit(
      "recv.transferStarted",
      {
        transferId: v.transferId,
        sourceIP: v.sourceIP,
        sourcePort: v.sourcePort,
        receivingUser: v.receivingUser,
        destinationPath: v.destinationPath,
        rootPath: v.rootPath,
        totalFiles: v.totalFiles,
        totalSize: v.totalSize,
      },
      ownerOf(v.receivingUser),
    );
  }
}
