/**
 * One run of a transfer on its destination's sender: from `transferring` until it completes,
 * fails, or is stopped (suspend, cancel, reconnect, shutdown). Folds the core's live progress
 * into the record's counters once per second, keeps the per-second window behind the `…Window`
 * rates, and remembers per-file outcomes as the receiver confirms them.
 */
import type { SenderEvent } from "../../core/endpoint/sender.js";
import type { SendTransfer } from "../../core/transfer/send-transfer.js";
import type { UdpSender } from "../../io/drivers/udp-sender.js";
import { HEADER_SIZE } from "../../core/wire/packet.js";
import type { FileOutcome, ManifestEntry, TransferRecord } from "./records.js";

interface Tick {
  bytesSent: number;
  bytesAcked: number;
}

/** Fields of the record that the run drives, relative to what they were when the run started. */
const RUN_COUNTERS = [
  "blocksSent",
  "blocksRetransmitted",
  "bytesSent",
  "packetsSent",
  "bytesRecv",
  "packetsRecv",
] as const;

export class TransferRun {
  readonly startedAt = Date.now();
  private readonly base: Record<(typeof RUN_COUNTERS)[number], number>;
  private readonly ticks: Tick[] = [];
  private previous: Tick;
  private recvShare = { bytes: 0, packets: 0 };
  /** outcomes learned in this run, not yet stored */
  readonly pendingOutcomes = new Map<number, FileOutcome>();
  accepted = false;
  /** files skipped because the receiver already held them identical (overwrite "differs") */
  private readonly skipped = new Set<number>();
  stopping: "suspend" | "cancel" | "reconnect" | "shutdown" | "error" | null = null;

  constructor(
    readonly record: TransferRecord,
    readonly sender: UdpSender,
    readonly entries: readonly ManifestEntry[],
    private readonly windowSeconds: number,
  ) {
    this.base = Object.fromEntries(RUN_COUNTERS.map((k) => [k, record[k]])) as TransferRun["base"];
    this.previous = { bytesSent: record.bytesSent, bytesAcked: record.bytesAcked };
  }

  private seen: SendTransfer | undefined;

  /** The core's transfer; kept after it ends so its final figures can still be read. */
  get live(): SendTransfer | undefined {
    this.seen ??= this.sender.transfer(this.record.transferId);
    return this.seen;
  }

  /** Receive-side traffic of the connection is shared among the transfers running on it. */
  addReceived(bytes: number, packets: number): void {
    this.recvShare.bytes += bytes;
    this.recvShare.packets += packets;
  }

  /** Updates the record from the live state; called once per second and before every save. */
  refresh(nowMicros: number, countSecond: boolean): void {
    const r = this.record;
    const t = this.live;
    if (t) {
      const p = t.progress();
      r.blocksAcked = p.blocksAcked;
      r.bytesAcked = p.bytesAcked;
      r.blocksSent = this.base.blocksSent + p.blocksSent;
      r.blocksRetransmitted = this.base.blocksRetransmitted + p.blocksRetransmitted;
      const protection = this.sender.endpoint.connection?.packetProtection.overhead ?? 0;
      r.bytesSent = this.base.bytesSent + p.frameBytesSent + p.blocksSent * (HEADER_SIZE + protection);
      r.packetsSent = this.base.packetsSent + p.blocksSent;
      r.filesComplete = p.filesComplete - r.filesSkipped;
      r.filesError = p.filesFailed;
      if (r.startTime === null && p.blocksSent > 0) r.startTime = nowMicros;
    }
    r.bytesRecv = this.base.bytesRecv + this.recvShare.bytes;
    r.packetsRecv = this.base.packetsRecv + this.recvShare.packets;
    if (countSecond) {
      r.activeSeconds += 1;
      this.ticks.push({
        bytesSent: r.bytesSent - this.previous.bytesSent,
        bytesAcked: Math.max(0, r.bytesAcked - this.previous.bytesAcked),
      });
      while (this.ticks.length > this.windowSeconds) this.ticks.shift();
      this.previous = { bytesSent: r.bytesSent, bytesAcked: r.bytesAcked };
    }
  }

  /** kbps over the last window: [send rate, goodput] */
  windowRates(): [number, number] {
    const seconds = Math.max(1, this.ticks.length);
    const sent = this.ticks.reduce((a, t) => a + t.bytesSent, 0);
    const acked = this.ticks.reduce((a, t) => a + t.bytesAcked, 0);
    return [Math.round((sent * 8) / 1000 / seconds), Math.round((acked * 8) / 1000 / seconds)];
  }

  /** Keeps per-file outcomes and the resume figure as the receiver reports them. */
  onEvent(e: SenderEvent, nowMicros: number): void {
    const t = this.live;
    switch (e.type) {
      case "transferAccepted":
        // overwrite "differs": on the first accept, the files the receiver already had
        // identical (size and SHA-256) are reported done; they are skipped, not sent
        if (!this.accepted && this.record.overwrite === "differs" && this.record.startTime === null && t) {
          t.files.forEach((f, i) => {
            if (f.status === "ok" && !this.entries[i]?.isEmptyDir) this.skipped.add(i);
          });
          this.record.filesSkipped = this.skipped.size;
        }
        this.accepted = true;
        if (e.bytesAlreadyThere > 0 && t) {
          const blocks = t.progress().blocksAcked;
          this.record.blocksResumed = Math.max(this.record.blocksResumed, blocks);
        }
        break;
      case "fileComplete":
      case "fileFailed": {
        const f = t?.files[e.file];
        const entry = this.entries[e.file];
        if (!entry) break;
        const failed = e.type === "fileFailed";
        this.pendingOutcomes.set(e.file, {
          index: e.file,
          status: failed ? "error" : this.skipped.has(e.file) ? "skipped" : "complete",
          bytesAcked: failed ? 0 : entry.fileSize,
          sha256: failed ? null : (f?.sha256 ?? null),
          errorCode: failed ? e.code : null,
          errorMessage: failed ? e.message : "",
          startTime: null,
          endTime: nowMicros,
        });
        break;
      }
      default:
        break;
    }
  }
}
