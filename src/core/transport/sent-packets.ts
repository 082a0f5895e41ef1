/**
 * Sent-packet bookkeeping and loss detection (RFC 9002 §6): a packet is lost when a packet sent
 * at least 3 numbers later was acknowledged, or when 9/8 × max(smoothed, latest RTT) has passed
 * since it was sent and a later packet was acknowledged. Packets live in a deque indexed by
 * packet number (numbers are consecutive), trimmed from the front as they are resolved.
 */
import type { Micros } from "../time.js";
import type { PacketDeliveryState } from "../congestion/delivery-rate.js";

export const PACKET_THRESHOLD = 3;
export const TIME_THRESHOLD = 9 / 8;
const GRANULARITY: Micros = 1000;

export interface SentPacket {
  pn: number;
  sentTime: Micros;
  /** datagram bytes */
  size: number;
  ackEliciting: boolean;
  /** counts toward bytes in flight (ack-eliciting packets) */
  inFlight: boolean;
  delivery: PacketDeliveryState | null;
  /** the data block carried, as its owner's opaque references; -1 when none */
  dataTransfer: number;
  dataFile: number;
  dataBlock: number;
  /** control-stream bytes carried */
  controlOffset: number;
  controlLength: number;
  acked: boolean;
  lost: boolean;
}

export interface AckResult {
  newlyAcked: SentPacket[];
  lost: SentPacket[];
  /** the largest newly acknowledged packet, when it was newly acknowledged (RTT sample source) */
  largestNewlyAcked: SentPacket | null;
}

export class SentPackets {
  private packets: Array<SentPacket | undefined> = [];
  private head = 0;
  private basePn = 0;
  largestAcked = -1;
  bytesInFlight = 0;
  ackElicitingInFlight = 0;
  lastAckElicitingSent: Micros = 0;
  lossTime: Micros | null = null;

  get largestSent(): number {
    return this.basePn + this.packets.length - this.head - 1;
  }

  onSent(p: SentPacket): void {
    if (this.packets.length - this.head === 0) this.basePn = p.pn;
    else if (p.pn !== this.largestSent + 1) throw new Error("packet numbers must be consecutive");
    this.packets.push(p);
    if (p.inFlight) {
      this.bytesInFlight += p.size;
      this.ackElicitingInFlight++;
      this.lastAckElicitingSent = p.sentTime;
    }
  }

  private get(pn: number): SentPacket | undefined {
    const i = pn - this.basePn + this.head;
    return i >= this.head && i < this.packets.length ? this.packets[i] : undefined;
  }

  private resolve(p: SentPacket): void {
    if (p.inFlight) {
      this.bytesInFlight -= p.size;
      this.ackElicitingInFlight--;
    }
  }

  /**
   * Applies one ACK frame's ranges (highest first). Returns null when the ACK names a packet
   * number never sent: a forged or corrupt ACK, which the caller drops.
   */
  onAck(
    now: Micros,
    ranges: ReadonlyArray<readonly [number, number]>,
    smoothedRtt: Micros,
    latestRtt: Micros,
  ): AckResult | null {
    if (ranges.length === 0 || ranges[0]![1] - 1 > this.largestSent) return null;
    const newlyAcked: SentPacket[] = [];
    let largestNewlyAcked: SentPacket | null = null;
    // Ascending order so the delivery-rate estimator sees packets in send order.
    for (let r = ranges.length - 1; r >= 0; r--) {
      const start = Math.max(ranges[r]![0], this.basePn);
      for (let pn = start; pn < ranges[r]![1]; pn++) {
        const p = this.get(pn);
        if (p === undefined || p.acked) continue;
        if (p.lost) {
          // Declared lost too early; its content was already queued again. Count it delivered.
          p.acked = true;
          continue;
        }
        p.acked = true;
        this.resolve(p);
        newlyAcked.push(p);
        largestNewlyAcked = p;
      }
    }
    const largest = ranges[0]![1] - 1;
    if (largest > this.largestAcked) this.largestAcked = largest;
    if (largestNewlyAcked !== null && largestNewlyAcked.pn !== largest) largestNewlyAcked = null;
    const lost = this.detectLost(now, smoothedRtt, latestRtt);
    this.trim();
    return { newlyAcked, lost, largestNewlyAcked };
  }

  /** Declares lost what the thresholds say is lost; also sets `lossTime` for the next check. */
  detectLost(now: Micros, smoothedRtt: Micros, latestRtt: Micros): SentPacket[] {
    const lost: SentPacket[] = [];
    this.lossTime = null;
    if (this.largestAcked < 0) return lost;
    const lossDelay = Math.max(TIME_THRESHOLD * Math.max(smoothedRtt, latestRtt), GRANULARITY);
    for (let i = this.head; i < this.packets.length; i++) {
      const p = this.packets[i]!;
      if (p.pn > this.largestAcked) break;
      if (p.acked || p.lost) continue;
      // The same expression as the timer below, so a timer firing at lossTime always finds the loss.
      if (p.sentTime + lossDelay <= now || this.largestAcked >= p.pn + PACKET_THRESHOLD) {
        p.lost = true;
        this.resolve(p);
        lost.push(p);
      } else {
        const t = p.sentTime + lossDelay;
        if (this.lossTime === null || t < this.lossTime) this.lossTime = t;
      }
    }
    this.trim();
    return lost;
  }
  /** Every unresolved packet, declared lost at once (session reset or close). */
  drainAll(): SentPacket[] {
    const out: SentPacket[] = [];
    for (let i = this.head; i < this.packets.length; i++) {
      const p = this.packets[i]!;
      if (!p.acked && !p.lost) {
        p.lost = true;
        this.resolve(p);
        out.push(p);
      }
    }
    this.basePn = this.largestSent + 1;
    this.packets = [];
    this.head = 0;
    this.lossTime = null;
    return out;
  }

  private trim(): void {
    while (this.head < this.packets.length) {
      const p = this.packets[this.head]!;
      if (!(p.acked || p.lost || (!p.ackEliciting && p.pn <= this.largestAcked))) break;
      this.packets[this.head] = undefined;
      this.head++;
      this.basePn++;
    }
    if (this.head > 4096 && this.head * 2 > this.packets.length) {
      this.packets = this.packets.slice(this.head);
      this.head = 0;
    }
  }
}
