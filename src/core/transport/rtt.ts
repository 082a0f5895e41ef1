/** RTT estimation as RFC 9002 §5: smoothed (gain 1/8), mean deviation (gain 1/4), minimum. */
import type { Micros } from "../time.js";

export const INITIAL_RTT: Micros = 333_000;
const MIN_RTT_WINDOW: Micros = 10_000_000;

export class RttEstimator {
  latest: Micros = 0;
  smoothed: Micros = INITIAL_RTT;
  variance: Micros = INITIAL_RTT / 2;
  /** minimum over the connection's life (loss detection and ACK-delay adjustment) */
  min: Micros = Infinity;
  hasSample = false;
  private windowMin: Micros = Infinity;
  private prevWindowMin: Micros = Infinity;
  private windowStart: Micros = 0;

  update(now: Micros, sample: Micros, ackDelay: Micros): void {
    if (!(sample > 0)) return;
    this.latest = sample;
    this.min = Math.min(this.min, sample);
    if (now - this.windowStart > MIN_RTT_WINDOW) {
      this.prevWindowMin = this.windowMin;
      this.windowMin = Infinity;
      this.windowStart = now;
    }
    this.windowMin = Math.min(this.windowMin, sample);
    let adjusted = sample;
    if (sample - ackDelay >= this.min) adjusted = sample - ackDelay;
    if (!this.hasSample) {
      this.hasSample = true;
      this.smoothed = adjusted;
      this.variance = adjusted / 2;
      return;
    }
    this.variance = 0.75 * this.variance + 0.25 * Math.abs(this.smoothed - adjusted);
    this.smoothed = 0.875 * this.smoothed + 0.125 * adjusted;
  }

  /** Minimum sample of roughly the last 10 to 20 seconds (the statistic `roundTripTimeMinMs`). */
  recentMin(): Micros | null {
    const m = Math.min(this.windowMin, this.prevWindowMin);
    return Number.isFinite(m) ? m : null;
  }

  /** RFC 9002 §6.2.1 probe timeout before backoff. */
  pto(maxAckDelay: Micros): Micros {
    return this.smoothed + Math.max(4 * this.variance, 1000) + maxAckDelay;
  }
}
