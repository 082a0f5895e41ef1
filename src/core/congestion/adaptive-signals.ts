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

/** What a standing-queue drain must show, judged on packets sent after the reaction. */
export interface QueueDrainCheck {
  bandwidthBefore: number;
  /** RTT when the queue was detected (it lags the queue by an RTT) */
  standingRtt: Micros;
  reactedAt: Micros;
  /** RTT of the first packet sent since `reactedAt`: the queue it found */
  firstRtt: Micros | null;
  /** lowest RTT of packets sent since `reactedAt` */
  lowestRtt: Micros;
  /** when drain ended: the check completes once packets sent after that are acknowledged */
  drainEndedAt: Micros | null;
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
 * The lowest RTT of each round (after HyStart++, RFC 9406). A minimum over several samples
 * ignores jitter and one-off spikes that would trip a per-sample threshold; a queue lifts them all.
 */
export class RoundRtt {
  private current = Infinity;
  private samples = 0;
  private previous = Infinity;

  constructor(
    private readonly thresholdFraction: number,
    private readonly floor: Micros,
    private readonly minSamples: number,
  ) {}

  add(rtt: Micros): void {
    this.current = Math.min(this.current, rtt);
    this.samples++;
  }

  newRound(): void {
    if (this.samples >= this.minSamples) this.previous = this.current;
    this.current = Infinity;
    this.samples = 0;
  }

  reset(): void {
    this.previous = Infinity;
    this.current = Infinity;
    this.samples = 0;
  }

  /** Every RTT of this round exceeded the previous round's lowest: a queue is building. */
  get rising(): boolean {
    return Number.isFinite(this.previous) && this.above(this.previous);
  }

  /** Every RTT of this round exceeded the min RTT: a queue stands. */
  above(minRtt: Micros): boolean {
    const threshold = minRtt + Math.max(this.thresholdFraction * minRtt, this.floor);
    return this.samples >= this.minSamples && this.current > threshold;
  }
}

/**
 * probe_bw's upward probe, judged two phases after it began, when its delivery-rate samples have
 * come back: did all of the extra sending come back as delivery, with no queue rising meanwhile?
 */
export class UpwardProbe {
  private baseBandwidth: number | null = null;
  private phasesLeft = 0;
  private sawQueue = false;

  /** `growth`: the factor by which the estimate must have grown */
  constructor(private readonly growth: number) {}

  start(bandwidth: number): void {
    this.baseBandwidth = bandwidth;
    this.phasesLeft = 3;
    this.sawQueue = false;
  }

  cancel(): void {
    this.baseBandwidth = null;
  }

  noteQueue(): void {
    this.sawQueue = true;
  }

  /** Call as each following phase ends; true when the probe is judged and found room. */
  phaseEnded(bandwidth: number): boolean {
    const base = this.baseBandwidth;
    if (base === null || --this.phasesLeft > 0) return false;
    this.baseBandwidth = null;
    return !this.sawQueue && bandwidth >= base * this.growth;
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
