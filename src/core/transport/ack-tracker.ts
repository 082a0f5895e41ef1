/**
 * Receive side of packet numbers: duplicate suppression and the ACK policy. An ACK goes out
 * after `ackEvery` ack-eliciting packets, after `maxAckDelay`, or at once when a packet arrives
 * out of order or asks for it (PING, handshake), so ACKs come at a bounded frequency.
 */
import type { Micros } from "../time.js";
import { MAX_ACK_RANGES, type AckFrame } from "../wire/frames.js";
import { RangeSet } from "../util/range-set.js";

const TRACKED_RANGES = 512;

export class AckTracker {
  private readonly received = new RangeSet();
  private floor = 0;
  private largest = -1;
  private largestTime: Micros = 0;
  private unacked = 0;
  private deadline: Micros | null = null;
  private immediate = false;

  constructor(
    private readonly ackEvery: number,
    private readonly maxAckDelay: Micros,
  ) {}

  /** True when the packet number was seen before (or is too old to tell: treated as seen). */
  isDuplicate(pn: number): boolean {
    return pn < this.floor || this.received.has(pn);
  }

  onPacket(now: Micros, pn: number, ackEliciting: boolean, wantImmediate: boolean): void {
    const outOfOrder = this.largest >= 0 && pn !== this.largest + 1;
    this.received.add(pn, pn + 1);
    if (pn > this.largest) {
      this.largest = pn;
      this.largestTime = now;
    }
    if (this.received.size > TRACKED_RANGES) {
      this.received.keepNewest(TRACKED_RANGES);
      this.floor = this.received.min() ?? this.floor;
    }
    if (!ackEliciting) return;
    this.unacked++;
    if (outOfOrder || wantImmediate || this.unacked >= this.ackEvery) this.immediate = true;
    else if (this.deadline === null) this.deadline = now + this.maxAckDelay;
  }

  /** When an ACK must be sent at the latest (null: none pending). */
  ackDeadline(): Micros | null {
    if (this.immediate) return 0;
    return this.deadline;
  }

  needsAck(now: Micros): boolean {
    return this.immediate || (this.deadline !== null && now >= this.deadline);
  }
  buildAck(now: Micros, receiveWindow: number, rateCap: number): Omit<AckFrame, "type"> {
    const ranges: Array<[number, number]> = [];
    for (const [s, e] of this.received.descending()) {
      ranges.push([s, e]);
      if (ranges.length >= MAX_ACK_RANGES) break;
    }
    return { ackDelay: Math.max(0, now - this.largestTime), ranges, receiveWindow, rateCap };
  }

  onAckSent(): void {
    this.unacked = 0;
    this.deadline = null;
    this.immediate = false;
  }
}
