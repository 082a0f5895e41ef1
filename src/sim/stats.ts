import { MICROS_PER_SECOND, type Micros } from "../core/time.js";
import type { EventLoop } from "./event-loop.js";

/** Jain's fairness index: 1 when all shares are equal, 1/n when one party gets everything. */
export function jainIndex(shares: readonly number[]): number {
  if (shares.length === 0) return 1;
  let sum = 0;
  let sumOfSquares = 0;
  for (const x of shares) {
    sum += x;
    sumOfSquares += x * x;
  }
  return sumOfSquares === 0 ? 1 : (sum * sum) / (shares.length * sumOfSquares);
}

/** bits per second for `bytes` moved in `interval` microseconds */
export function bitsPerSecond(bytes: number, interval: Micros): number {
  return interval > 0 ? (bytes * 8 * MICROS_PER_SECOND) / interval : 0;
}

/**
 * Periodic samples of monotonically growing counters (bytes delivered, ...), taken by events on the
 * loop, so throughput over any interval can be read after the run.
 */
export class CounterSampler {
  readonly times: Micros[] = [];
  readonly values: number[][] = [];
  private stopped = false;

  constructor(
    private readonly loop: EventLoop,
    readonly interval: Micros,
    private readonly counters: ReadonlyArray<() => number>,
  ) {
    this.sample();
  }

  stop(): void {
    this.stopped = true;
  }

  /** the value of counter `index` at time t (linear between samples) */
  valueAt(index: number, t: Micros): number {
    const times = this.times;
    if (times.length === 0) return 0;
    if (t <= times[0]!) return this.values[0]![index]!;
    const last = times.length - 1;
    if (t >= times[last]!) return this.values[last]![index]!;
    let lo = 0;
    let hi = last;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! <= t) lo = mid;
      else hi = mid;
    }
    const share = (t - times[lo]!) / (times[hi]! - times[lo]!);
    const a = this.values[lo]![index]!;
    return a + share * (this.values[hi]![index]! - a);
  }

  /** bits per second of counter `index` (a byte count) between t0 and t1 */
  rateBps(index: number, t0: Micros, t1: Micros): number {
    return bitsPerSecond(this.valueAt(index, t1) - this.valueAt(index, t0), t1 - t0);
  }

  private readonly sample = (): void => {
    if (this.stopped) return;
    this.times.push(this.loop.now);
    this.values.push(this.counters.map((read) => read()));
    this.loop.after(this.interval, this.sample);
  };
}
