/**
 * Transfers (api.md §3.4, §6.1): the status machine, the queue of each destination (priority,
 * then requestTime; `maxActiveTransfers` per destination and `--max-concurrent-transfers` in all;
 * a running transfer is never preempted), runs on the destination's sender, snapshots once per
 * second, checkpoints of the record, and recovery after a restart.
 */
import type { SenderEvent } from "../../core/endpoint/sender.js";
import { epochMicrosNow } from "../../io/drivers/clock.js";
import type { SendResult, UdpSender } from "../../io/drivers/udp-sender.js";
import { ServiceError } from "../errors.js";
import type { ServerEvents } from "../events.js";
import { newId } from "../ids.js";
import type { Logger } from "../logger.js";
import { type Caller, ownerFilter, ownershipOf, page, requireVisible } from "./caller.js";
import type { DestinationService } from "./destination-service.js";
import type { ManifestService } from "./manifest-service.js";
import {
  FINAL_STATUSES,
  type FileStatus,
  type Overwrite,
  type TransferRecord,
  type TransferStatus,
  type UserData,
} from "./records.js";
import type { SendStore } from "./send-store.js";
import { TransferRun } from "./transfer-run.js";
import { Waiters } from "./waiters.js";

export interface TransferSettings {
  datagramSize: number;
  /** data bytes per DATA packet for `datagramSize` */
  blockSize: number;
  maxConcurrentTransfers: number;
  defaultCheckpointSeconds: number;
  /** sessions are encrypted (receive tokens may travel) */
  encrypted: boolean;
  rateWindowSeconds: number;
}

export interface CreateTransferParams {
  manifestId: string;
  destinationId: string;
  destinationPath: string;
  priority: number;
  checkpointFrequencySeconds?: number | null;
  overwrite: Overwrite;
  receiveToken: string | null;
  receiveTokenPassword: string | null;
  userData: UserData;
}

export interface TransferView extends TransferRecord {
  processing: boolean;
  expiryTime: number | null;
  snapshotTime: number | null;
  goodputAverage: number;
  goodputAverageWindow: number;
  sendRateAverage: number;
  sendRateAverageWindow: number;
}

const BUSY_RETRY_MS = [10_000, 20_000, 40_000, 80_000, 160_000, 300_000];

export class TransferService {
  readonly transfers = new Map<string, TransferRecord>();
  private readonly runs = new Map<string, TransferRun>();
  private readonly waiters = new Waiters();
  private readonly busyRetries = new Map<string, { attempt: number; timer: NodeJS.Timeout }>();
  private readonly lastRecv = new Map<string, { bytes: number; packets: number }>();
  private ticker: NodeJS.Timeout | null = null;
  /** Transfer.expiryTime; set by the garbage collector (server/engine/send-hooks.ts) */
  expiryTimeOf: (t: TransferRecord) => number | null = () => null;

  constructor(
    private readonly store: SendStore,
    private readonly events: ServerEvents,
    private readonly logger: Logger,
    private readonly destinations: DestinationService,
    private readonly manifests: ManifestService,
    private readonly settings: TransferSettings,
  ) {
    manifests.isReferenced = (id) =>
      [...this.transfers.values()].some((t) => t.manifestId === id && !FINAL_STATUSES.includes(t.status));
    manifests.onSettled = (m) => {
      for (const t of this.transfers.values()) {
        if (t.manifestId !== m.manifestId || t.status !== "pending") continue;
        if (m.status === "complete") this.enqueue(t);
        else this.finish(t, "error", "MANIFEST_ERROR", `manifest ${m.manifestId} failed: ${m.errorMessage}`);
      }
    };
  }

  /** Loads the stored transfers: those that were transferring go back to the queue. */
  start(): void {
    for (const t of this.store.loadTransfers()) {
      this.transfers.set(t.transferId, t);
      if (t.status === "transferring") {
        t.status = "queued";
        t.queueTime = epochMicrosNow();
        this.store.saveTransfer(t);
      }
      if (t.status === "pending") {
        const m = this.manifests.manifests.get(t.manifestId);
        if (m && m.status !== "pending") this.manifests.onSettled(m);
      }
    }
    this.ticker = setInterval(() => this.tick(), 1000);
    this.ticker.unref();
    this.schedule();
  }

  /** Checkpoints every running transfer and stops their runs (the receiver keeps their state). */
  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    for (const r of this.busyRetries.values()) clearTimeout(r.timer);
    this.busyRetries.clear();
    for (const run of this.runs.values()) {
      run.stopping = "shutdown";
      run.refresh(epochMicrosNow(), false);
      this.flushOutcomes(run);
      this.store.saveTransfer(run.record);
      run.sender.stop(run.record.transferId, "suspend", "sender shutting down");
    }
    this.runs.clear();
    this.waiters.clear();
  }

  create(caller: Caller, p: CreateTransferParams): TransferView {
    const manifest = this.manifests.get(caller, p.manifestId);
    const destination = this.destinations.get(caller, p.destinationId);
    if (manifest.status === "error") {
      throw new ServiceError(
        "CONFLICT",
        `manifest ${p.manifestId} failed: ${manifest.errorMessage}`,
        "manifestId",
      );
    }
    if (p.destinationPath.split(/[\\/]/).includes("..") || p.destinationPath.includes("\0")) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        `destinationPath '${p.destinationPath}' must not contain '..' or NUL`,
        "destinationPath",
      );
    }
    if (p.receiveToken !== null && !this.settings.encrypted) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        "receiveToken needs an encrypted destination (this server runs with --cipher none): tokens only travel inside encrypted sessions",
        "receiveToken",
      );
    }
    const checkpoint =
      p.checkpointFrequencySeconds === undefined
        ? this.settings.defaultCheckpointSeconds
        : p.checkpointFrequencySeconds || null;
    const t: TransferRecord = {
      transferId: newId(),
      ...ownershipOf(caller),
      manifestId: manifest.manifestId,
      destinationId: destination.destinationId,
      connectionId: destination.connectionId,
      destinationPath: p.destinationPath,
      priority: p.priority,
      checkpointFrequencySeconds: checkpoint,
      overwrite: p.overwrite,
      userData: p.userData,
      status: "pending",
      errorCode: null,
      errorMessage: "",
      requestTime: epochMicrosNow(),
      queueTime: null,
      startTime: null,
      endTime: null,
      lastCheckpointTime: null,
      blockSize: this.settings.blockSize,
      totalBlocks: 0,
      totalBytes: manifest.totalSize ?? 0,
      totalFiles: manifest.totalFiles ?? 0,
      activeSeconds: 0,
      blocksAcked: 0,
      blocksResumed: 0,
      blocksRetransmitted: 0,
      blocksSent: 0,
      bytesAcked: 0,
      bytesRecv: 0,
      bytesSent: 0,
      packetsRecv: 0,
      packetsSent: 0,
      filesComplete: 0,
      filesError: 0,
      filesSkipped: 0,
      ...(p.receiveToken !== null
        ? { receiveToken: { token: p.receiveToken, password: p.receiveTokenPassword } }
        : {}),
    };
    this.transfers.set(t.transferId, t);
    this.store.saveTransfer(t);
    this.events.emit("send.transferCreated", this.eventFields(t), t.owner);
    if (manifest.status === "complete") this.enqueue(t);
    return this.view(t);
  }

  get(caller: Caller, transferId: string): TransferRecord {
    return requireVisible(this.transfers.get(transferId), caller, "transfer", transferId, "transferId");
  }

  list(
    caller: Caller,
    o: {
      status?: string[];
      destinationId: string | null;
      manifestId: string | null;
      owner?: string;
      offset: number;
      limit: number;
    },
  ): TransferView[] {
    const mine = ownerFilter(caller, o.owner);
    const all = [...this.transfers.values()]
      .filter(
        (t) =>
          mine(t) &&
          (!o.status || o.status.includes(t.status)) &&
          (o.destinationId === null || t.destinationId === o.destinationId) &&
          (o.manifestId === null || t.manifestId === o.manifestId),
      )
      .sort((a, b) => a.requestTime - b.requestTime);
    return page(all, o.offset, o.limit).map((t) => this.view(t));
  }

  files(caller: Caller, transferId: string, statuses: string[] | undefined, offset: number, limit: number) {
    const t = this.get(caller, transferId);
    const entries = this.manifests.entries(t.manifestId);
    const stored = this.store.fileOutcomes(transferId);
    const run = this.runs.get(transferId);
    const live = run?.live;
    const rows = entries.map((e, index) => {
      const outcome = run?.pendingOutcomes.get(index) ?? stored.get(index);
      const f = live?.files[index];
      let status: FileStatus = outcome?.status ?? "pending";
      let bytesAcked = outcome?.bytesAcked ?? 0;
      if (!outcome && f) {
        bytesAcked = Math.min(e.fileSize, f.acked.size * t.blockSize);
        if (f.sent.size > 0) status = "transferring";
      }
      if (!outcome && t.status === "complete") {
        status = "complete";
        bytesAcked = e.fileSize;
      }
      return {
        index,
        srcPath: e.srcPath,
        destPath: e.destPath,
        fileSize: e.fileSize,
        isEmptyDir: e.isEmptyDir,
        status,
        bytesAcked,
        sha256: outcome?.sha256 ?? f?.sha256 ?? null,
        errorCode: outcome?.errorCode ?? null,
        errorMessage: outcome?.errorMessage ?? "",
        startTime: outcome?.startTime ?? null,
        endTime: outcome?.endTime ?? null,
      };
    });
    return page(
      rows.filter((r) => !statuses || statuses.includes(r.status)),
      offset,
      limit,
    );
  }

  async wait(
    caller: Caller,
    transferId: string,
    statuses: readonly TransferStatus[],
    timeoutSeconds: number | null,
    signal: AbortSignal,
  ): Promise<TransferView> {
    const t = this.get(caller, transferId);
    await this.waiters.until(transferId, () => statuses.includes(t.status), timeoutSeconds, signal);
    return this.view(t);
  }

  suspend(caller: Caller, transferId: string): TransferView {
    const t = this.get(caller, transferId);
    this.require(t, ["pending", "queued", "transferring"], "suspend");
    this.stopRun(t, "suspend");
    this.setStatus(t, "suspended");
    this.events.emit(
      "send.transferSuspended",
      { transferId, destinationId: t.destinationId, bytesAcked: t.bytesAcked },
      t.owner,
    );
    this.schedule();
    return this.view(t);
  }

  resume(caller: Caller, transferId: string): TransferView {
    const t = this.get(caller, transferId);
    this.require(t, ["suspended", "error"], "resume");
    if (!this.destinations.find(t.destinationId)) {
      throw new ServiceError(
        "CONFLICT",
        `the destination of transfer ${transferId} was deleted`,
        "transferId",
      );
    }
    const from = t.status;
    t.errorCode = null;
    t.errorMessage = "";
    t.endTime = null;
    const manifest = this.manifests.manifests.get(t.manifestId);
    this.events.emit(
      "send.transferResumed",
      { transferId, destinationId: t.destinationId, fromStatus: from },
      t.owner,
    );
    if (manifest?.status === "pending") this.setStatus(t, "pending");
    else this.enqueue(t);
    return this.view(t);
  }

  cancel(caller: Caller, transferId: string): TransferView {
    const t = this.get(caller, transferId);
    this.requireUnfinished(t, "cancel");
    this.stopRun(t, "cancel");
    this.finish(t, "cancelled", null, "");
    return this.view(t);
  }

  fail(caller: Caller, transferId: string, message: string): TransferView {
    const t = this.get(caller, transferId);
    this.requireUnfinished(t, "fail");
    this.stopRun(t, "error", message);
    this.finish(t, "error", "FAILED_BY_USER", message);
    return this.view(t);
  }

  delete(caller: Caller, transferId: string): void {
    const t = this.get(caller, transferId);
    if (!FINAL_STATUSES.includes(t.status)) {
      this.stopRun(t, "cancel");
      this.finish(t, "cancelled", null, "");
    }
    this.transfers.delete(transferId);
    this.store.deleteTransfer(transferId);
    this.events.emit("send.transferDeleted", { transferId, reason: "api" }, t.owner);
  }

  /** Unfinished transfers of a destination, for `deleteDestination`. */
  unfinishedOf(destinationId: string): TransferRecord[] {
    return [...this.transfers.values()].filter(
      (t) => t.destinationId === destinationId && !FINAL_STATUSES.includes(t.status),
    );
  }

  failForDeletedDestination(t: TransferRecord): void {
    this.stopRun(t, "cancel");
    this.finish(t, "error", "DESTINATION_DELETED", `destination ${t.destinationId} was deleted`);
  }

  counts(destinationId: string): { queued: number; active: number } {
    let queued = 0;
    let active = 0;
    for (const t of this.transfers.values()) {
      if (t.destinationId !== destinationId) continue;
      if (t.status === "queued") queued++;
      else if (t.status === "transferring") active++;
    }
    return { queued, active };
  }

  /** The destination has a (new) sender: runs on the old one continue on it. */
  onSenderReady(destinationId: string, sender: UdpSender): void {
    for (const run of [...this.runs.values()]) {
      if (run.record.destinationId !== destinationId || run.sender === sender) continue;
      run.stopping = "reconnect";
      this.runs.delete(run.record.transferId);
      this.launch(run.record, sender);
    }
    this.schedule();
  }

  onSenderEvent(destinationId: string, e: SenderEvent): void {
    if ("transfer" in e) {
      this.runs.get(e.transfer)?.onEvent(e, epochMicrosNow());
      return;
    }
    if (e.type === "connected") this.schedule();
    void destinationId;
  }

  view(t: TransferRecord): TransferView {
    const run = this.runs.get(t.transferId);
    const [sendWindow, goodWindow] = run ? run.windowRates() : [0, 0];
    const seconds = t.activeSeconds;
    const { receiveToken: _secret, ...fields } = t;
    return {
      ...fields,
      processing: !FINAL_STATUSES.includes(t.status),
      expiryTime: this.expiryTimeOf(t),
      snapshotTime: epochMicrosNow(),
      sendRateAverage: seconds > 0 ? Math.round((t.bytesSent * 8) / 1000 / seconds) : 0,
      sendRateAverageWindow: sendWindow,
      goodputAverage:
        seconds > 0
          ? Math.round((Math.max(0, t.bytesAcked - t.blocksResumed * t.blockSize) * 8) / 1000 / seconds)
          : 0,
      goodputAverageWindow: goodWindow,
    };
  }

  /** Fills free slots from the queues: per destination by (priority, requestTime). */
  schedule(): void {
    let running = this.runs.size;
    const active = new Map<string, number>();
    for (const run of this.runs.values()) {
      const id = run.record.destinationId;
      active.set(id, (active.get(id) ?? 0) + 1);
    }
    const queued = [...this.transfers.values()]
      .filter((t) => t.status === "queued" && !this.busyRetries.has(t.transferId))
      .sort((a, b) => a.priority - b.priority || a.requestTime - b.requestTime);
    for (const t of queued) {
      if (running >= this.settings.maxConcurrentTransfers) break;
      const destination = this.destinations.find(t.destinationId);
      const sender = this.destinations.link(t.destinationId)?.current;
      if (!destination || !sender) continue;
      const busy = active.get(t.destinationId) ?? 0;
      if (busy >= destination.maxActiveTransfers) continue;
      this.launch(t, sender);
      active.set(t.destinationId, busy + 1);
      running++;
    }
  }

  /** Stores the per-file outcomes learned since the last flush (each is written once). */
  private flushOutcomes(run: TransferRun): void {
    if (run.pendingOutcomes.size === 0) return;
    this.store.saveFileOutcomes(run.record.transferId, [...run.pendingOutcomes.values()]);
    run.pendingOutcomes.clear();
  }

  private launch(t: TransferRecord, sender: UdpSender): void {
    const entries = this.manifests.entries(t.manifestId);
    const run = new TransferRun(t, sender, entries, this.settings.rateWindowSeconds);
    this.runs.set(t.transferId, run);
    t.totalBlocks = entries.reduce((a, e) => a + Math.ceil(e.fileSize / t.blockSize), 0);
    t.totalFiles = entries.filter((e) => !e.isEmptyDir).length;
    t.totalBytes = entries.reduce((a, e) => a + (e.isEmptyDir ? 0 : e.fileSize), 0);
    const first = t.status !== "transferring";
    this.setStatus(t, "transferring");
    if (first && t.startTime === null) {
      this.events.emit(
        "send.transferStarted",
        { ...this.eventFields(t), startTime: epochMicrosNow() },
        t.owner,
      );
    }
    const resumed = t.blocksSent > 0 || t.startTime !== null;
    sender
      .send({
        id: t.transferId,
        destinationPath: t.destinationPath,
        overwrite: t.overwrite,
        files: entries.map((e) => ({ source: e.localPath, path: e.destPath })),
        resumed,
        ...(t.receiveToken ? { receiveToken: t.receiveToken } : {}),
      })
      .then(
        (result) => this.onRunEnded(run, result),
        (error: unknown) => {
          this.logger.error(
            { component: "send", err: error, transferId: t.transferId },
            "transfer run failed",
          );
          this.onRunEnded(run, { ok: false, id: t.transferId, code: "INTERNAL", message: String(error) });
        },
      );
  }

  private onRunEnded(run: TransferRun, result: SendResult): void {
    const t = run.record;
    const now = epochMicrosNow();
    run.refresh(now, false);
    this.flushOutcomes(run);
    if (this.runs.get(t.transferId) === run) this.runs.delete(t.transferId);
    if (run.stopping !== null) {
      // suspend/cancel/fail set the status themselves; reconnect and shutdown continue later
      this.store.saveTransfer(t);
      this.schedule();
      return;
    }
    if (result.ok) {
      t.filesComplete = t.totalFiles - t.filesSkipped;
      t.bytesAcked = t.totalBytes;
      t.blocksAcked = t.totalBlocks;
      this.finish(t, "complete", null, "");
    } else if (result.code === "RECEIVER_BUSY") {
      this.retryWhenBusy(t);
    } else if (result.code === "CANCELLED") {
      // the sender closed under the run (reconnect or shutdown): run it again when possible
      this.setStatus(t, "queued");
    } else {
      this.finish(t, "error", result.code ?? "INTERNAL", result.message ?? "transfer failed");
    }
    this.schedule();
  }

  private retryWhenBusy(t: TransferRecord): void {
    const attempt = (this.busyRetries.get(t.transferId)?.attempt ?? -1) + 1;
    const delay = BUSY_RETRY_MS[Math.min(attempt, BUSY_RETRY_MS.length - 1)]!;
    this.setStatus(t, "queued");
    const timer = setTimeout(() => {
      this.busyRetries.delete(t.transferId);
      this.schedule();
    }, delay);
    timer.unref();
    this.busyRetries.set(t.transferId, { attempt, timer });
  }

  private tick(): void {
    const now = epochMicrosNow();
    const byDestination = new Map<string, TransferRun[]>();
    for (const run of this.runs.values()) {
      const list = byDestination.get(run.record.destinationId) ?? [];
      list.push(run);
      byDestination.set(run.record.destinationId, list);
    }
    for (const [destinationId, runs] of byDestination) {
      const c = this.destinations.link(destinationId)?.monitor.snapshot;
      if (c) {
        const before = this.lastRecv.get(destinationId) ?? { bytes: c.bytesRecv, packets: c.packetsRecv };
        const share = runs.length;
        for (const run of runs) {
          run.addReceived((c.bytesRecv - before.bytes) / share, (c.packetsRecv - before.packets) / share);
        }
        this.lastRecv.set(destinationId, { bytes: c.bytesRecv, packets: c.packetsRecv });
      }
      for (const run of runs) {
        const t = run.record;
        run.refresh(now, true);
        t.bytesRecv = Math.round(t.bytesRecv);
        t.packetsRecv = Math.round(t.packetsRecv);
        const every = t.checkpointFrequencySeconds;
        if (every !== null && every > 0 && t.activeSeconds % every === 0) {
          t.lastCheckpointTime = now;
          this.flushOutcomes(run);
          this.store.saveTransfer(t);
        }
        this.events.publishSnapshot({
          type: "transfer",
          id: t.transferId,
          owner: t.owner,
          object: this.view(t),
        });
      }
    }
  }

  private stopRun(t: TransferRecord, reason: "suspend" | "cancel" | "error", message = ""): void {
    const run = this.runs.get(t.transferId);
    if (!run) return;
    run.stopping = reason;
    run.refresh(epochMicrosNow(), false);
    this.flushOutcomes(run);
    this.runs.delete(t.transferId);
    run.sender.stop(t.transferId, reason, message);
  }

  private enqueue(t: TransferRecord): void {
    t.queueTime = epochMicrosNow();
    this.setStatus(t, "queued");
    this.events.emit(
      "send.transferQueued",
      { ...this.eventFields(t), numTransfersQueued: this.counts(t.destinationId).queued },
      t.owner,
    );
    this.schedule();
  }

  private finish(t: TransferRecord, status: TransferStatus, code: string | null, message: string): void {
    const retry = this.busyRetries.get(t.transferId);
    if (retry) clearTimeout(retry.timer);
    this.busyRetries.delete(t.transferId);
    t.errorCode = code;
    t.errorMessage = message;
    t.endTime = epochMicrosNow();
    this.setStatus(t, status);
    const fields = this.eventFields(t);
    if (status === "complete") {
      const v = this.view(t);
      this.events.emit(
        "send.transferComplete",
        {
          ...fields,
          totalFiles: t.totalFiles,
          totalBytes: t.totalBytes,
          activeSeconds: t.activeSeconds,
          sendRateAverage: v.sendRateAverage,
          goodputAverage: v.goodputAverage,
        },
        t.owner,
      );
    } else if (status === "error") {
      this.events.emit("send.transferError", { ...fields, errorCode: code, errorMessage: message }, t.owner);
    } else {
      this.events.emit("send.transferCancelled", fields, t.owner);
    }
    this.events.publishSnapshot({
      type: "transfer",
      id: t.transferId,
      owner: t.owner,
      object: this.view(t),
      final: true,
    });
  }

  private setStatus(t: TransferRecord, status: TransferStatus): void {
    t.status = status;
    this.store.saveTransfer(t);
    this.waiters.notify(t.transferId);
  }

  private require(t: TransferRecord, allowed: readonly TransferStatus[], action: string): void {
    if (!allowed.includes(t.status)) {
      throw new ServiceError(
        "CONFLICT",
        `cannot ${action} transfer ${t.transferId}: it is ${t.status} (allowed: ${allowed.join(", ")})`,
        "transferId",
      );
    }
  }

  private requireUnfinished(t: TransferRecord, action: string): void {
    if (FINAL_STATUSES.includes(t.status)) {
      throw new ServiceError(
        "CONFLICT",
        `cannot ${action} transfer ${t.transferId}: it is already ${t.status}`,
        "transferId",
      );
    }
  }

  private eventFields(t: TransferRecord) {
    return {
      transferId: t.transferId,
      manifestId: t.manifestId,
      destinationId: t.destinationId,
      destinationPath: t.destinationPath,
      priority: t.priority,
    };
  }
}
