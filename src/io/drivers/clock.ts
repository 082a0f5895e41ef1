import { performance } from "node:perf_hooks";
import type { Micros } from "../../core/time.js";

/** Monotonic time for the sans-IO core, in microseconds (fractions allowed). */
export function monotonicMicros(): Micros {
  return performance.now() * 1000;
}

/** Converts a monotonic reading to wall-clock microseconds since the Unix epoch. */
export function toEpochMicros(monotonic: Micros): number {
  return Math.round(performance.timeOrigin * 1000 + monotonic);
}

/** Wall-clock microseconds since the Unix epoch, consistent with `monotonicMicros`. */
export function epochMicrosNow(): number {
  return toEpochMicros(monotonicMicros());
}
