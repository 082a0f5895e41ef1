import type { Micros } from "../time.js";
import { bytesOver, rateOf } from "./common.js";
import { WindowedFilter } from "./windowed-filter.js";

/** A queue that stayed for at least one min RTT. */
export interface StandingQueue {
  /** bytes per second delivered while it stood: our share of the busy bottleneck */
  deliveredRate: number;
  /** the RTT when it was detected: how deep it is now */
  rtt: Micros;
}

/** Watches RTT samples for a queueing delay that does not go away. */
export class StandingQueueDetector {
  private since: Micros | null = null;
  private deliveredAtStart = 0;

  constructor(
    private readonly thresholdFraction: number,
    private readonly floor: Micros,
  ) {}

  threshold(minRtt: Micros): Micros {
    return minRtt + Math.max(this.thresholdFraction * minRtt, this.floor);
  }

  /** Feeds one RTT sample; returns the queue once every sample for `minRtt` was above threshold. */
  update(now: Micros, rtt: Micros, minRtt: Micros, totalDelivered: number): StandingQueue | null {
    if (rtt <= this.threshold(minRtt)) {
      this.since = null;
      return null;
    }
    if (this.since === null) {
      this.since = now;
      this.deliveredAtStart = totalDelivered;
    }
    const duration = now - this.since;
    if (duration < minRtt) return null;
    return { deliveredRate: rateOf(totalDelivered - this.deliveredAtStart, duration), rtt };
  }
}

/**
 * ACK aggregation allowance (BBRv2 "extra_acked", simplified): how many bytes the receiver's ACK
 * batching acknowledged beyond what the estimated bandwidth explains, max over a window of rounds.
 * Added to the window so ACK batching does not starve the pacer.
 */
export class AckAggregation {
  private readonly extra: WindowedFilter;
  private epochStart: Micros = 0;
  private epochAcked = 0;

  constructor(windowRounds: number) {
    this.extra = WindowedFilter.max(windowRounds);
  }

  get allowance(): number {
    return this.extra.best();
  }

  update(now: Micros, ackedBytes: number, bandwidth: number, round: number, maxDuration: Micros): void {
    if (bandwidth <= 0 || ackedBytes <= 0) return;
    let expected = bytesOver(bandwidth, now - this.epochStart);
    if (this.epochAcked <= expected) {
      // ACKs arrive no faster than the estimate: start a new aggregation epoch.
      this.epochAcked = 0;
      this.epochStart = now;
      expected = 0;
    }
    this.epochAcked += ackedBytes;
    this.extra.update(round, Math.min(this.epochAcked - expected, bytesOver(bandwidth, maxDuration)));
  }
}
