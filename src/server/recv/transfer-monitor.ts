/**
 * Measures one receive record from the live receiver once per second: counters of its DATA (kept
 * by the core endpoint per transfer, across sessions), the datagrams sent on the session carrying
 * it, and the rates over the whole transfer and the rate window. Counts carried over from before a
 * restart or an earlier run are added to the live ones.
 */
import { receiverSessionStats } from "../../core/endpoint/stats.js";
import { bytesPerSecondToKbps } from "../../core/time.js";
import { monotonicMicros, toEpochMicros } from "../../io/drivers/clock.js";
import type { UdpReceiver } from "../../io/drivers/udp-receiver.js";
import type { ReceiveRecordDoc } from "./recv-records.js";

interface Carried {
  bytes: number;
  blocks: number;
  duplicate: number;
  packetsRecv: number;
}

interface WindowTick {
  bytes: number;
  seconds: number;
}

export class TransferMonitor {
  private carried: Carried = { bytes: 0, blocks: 0, duplicate: 0, packetsRecv: 0 };
  private session: string | null = null;
  /** packets sent on earlier sessions, and the current session's count when it took the transfer */
  private sentBefore = 0;
  private sentBase = 0;
  private lastTick: number | null = null;
  private readonly window: WindowTick[] = [];

  constructor(
    readonly doc: ReceiveRecordDoc,
    public receiver: UdpReceiver | null,
  ) {}

  /** The transfer is (again) admitted on `receiver`: what its counters hold so far is carried. */
  attach(receiver: UdpReceiver): void {
    this.receiver = receiver;
    const live = receiver.endpoint.transferCounters(this.doc.view.transferId);
    const v = this.doc.view;
    this.carried = {
      bytes: v.bytesRecv - (live?.bytesAccepted ?? 0),
      blocks: v.blocksRecv - (live?.blocksAccepted ?? 0),
      duplicate: v.blocksDuplicate - (live?.blocksDuplicate ?? 0),
      packetsRecv: v.packetsRecv - (live?.dataPacketsRecv ?? 0),
    };
    // Datagrams the carrying session sends from now on count for this transfer.
    const session = receiver.endpoint.transferSession(v.transferId);
    this.session = session;
    this.sentBefore = v.packetsSent;
    this.sentBase = session ? (receiver.endpoint.session(session)?.counters.packetsSent ?? 0) : 0;
    this.lastTick = monotonicMicros();
  }

  /** Lets the endpoint drop its counters (the record reached a final status). */
  detach(): void {
    this.receiver?.endpoint.releaseTransferCounters(this.doc.view.transferId);
    this.receiver = null;
    this.session = null;
    this.lastTick = null;
  }

  /** Folds the live figures into the view; returns the file bytes accepted since the last call. */
  sample(
    nowMonotonic: number,
    rateWindowSeconds: number,
  ): { bytes: number; seconds: number; active: boolean } {
    const v = this.doc.view;
    const seconds = this.lastTick === null ? 0 : Math.max(0, (nowMonotonic - this.lastTick) / 1e6);
    this.lastTick = nowMonotonic;
    v.snapshotTime = toEpochMicros(nowMonotonic);
    const receiver = this.receiver;
    const before = v.bytesRecv;
    let active = false;
    if (receiver) {
      const id = v.transferId;
      const live = receiver.endpoint.transferCounters(id);
      if (live) {
        v.bytesRecv = this.carried.bytes + live.bytesAccepted;
        v.blocksRecv = this.carried.blocks + live.blocksAccepted;
        v.blocksDuplicate = this.carried.duplicate + live.blocksDuplicate;
        v.packetsRecv = this.carried.packetsRecv + live.dataPacketsRecv;
        if (live.lastRecvTime !== null) v.lastRecvTime = toEpochMicros(live.lastRecvTime);
      }
      const session = receiver.endpoint.transferSession(id);
      const stats = session ? receiverSessionStats(receiver.endpoint, session) : null;
      if (session && stats) {
        if (session !== this.session) {
          this.sentBefore = v.packetsSent;
          this.sentBase = stats.counters.packetsSent;
          this.session = session;
        }
        v.packetsSent = this.sentBefore + stats.counters.packetsSent - this.sentBase;
        if (stats.counters.lastSendTime !== null) v.lastSendTime = toEpochMicros(stats.counters.lastSendTime);
        v.cipher = stats.cipher;
        v.encryptionEnabled = stats.encryptionEnabled;
        active = v.status === "receiving";
      }
    }
    const bytes = Math.max(0, v.bytesRecv - before);
    if (active) {
      this.doc.activeSeconds += seconds;
      this.window.push({ bytes, seconds });
    }
    let windowSeconds = 0;
    let windowBytes = 0;
    for (let i = this.window.length - 1; i >= 0; i--) {
      if (windowSeconds >= rateWindowSeconds) {
        this.window.splice(0, i + 1);
        break;
      }
      windowSeconds += this.window[i]!.seconds;
      windowBytes += this.window[i]!.bytes;
    }
    v.aveRecvRate =
      this.doc.activeSeconds > 0 ? bytesPerSecondToKbps(v.bytesRecv / this.doc.activeSeconds) : 0;
    v.aveRecvRateWindow = active && windowSeconds > 0 ? bytesPerSecondToKbps(windowBytes / windowSeconds) : 0;
    return { bytes, seconds, active };
  }
}
