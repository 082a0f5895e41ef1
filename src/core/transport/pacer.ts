/**
 * Spreads datagrams evenly at the pacing rate. A driver that wakes late may send what became due
 * meanwhile, but never more than `maxBurst` microseconds' worth at once.
 */
import type { Micros } from "../time.js";

export class Pacer {
  private nextSend: Micros = 0;

  constructor(private readonly maxBurst: Micros) {}

  /** Earliest time the next datagram may leave. */
  nextSendTime(): Micros {
    return this.nextSend;
  }

  canSend(now: Micros): boolean {
    return now >= this.nextSend;
  }

  onSend(now: Micros, bytes: number, bytesPerSecond: number): void {
    const start = Math.max(this.nextSend, now - this.maxBurst);
    this.nextSend = start + (bytes * 1e6) / Math.max(1, bytesPerSecond);
  }
}
