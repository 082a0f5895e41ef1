/**
 * Time inside the sans-IO core: microseconds on a monotonic clock chosen by the driver
 * (virtual time in the simulator, `performance.now() * 1000` on real sockets). Fractions allowed.
 */
export type Micros = number;

export const MICROS_PER_SECOND = 1_000_000;
export const MICROS_PER_MS = 1_000;

/** kbps (API unit, 1 kbps = 1000 bit/s) to bytes per second (core unit). */
export function kbpsToBytesPerSecond(kbps: number): number {
  return (kbps * 1000) / 8;
}

/** bytes per second (core unit) to kbps (API unit), rounded to an integer. */
export function bytesPerSecondToKbps(bytesPerSecond: number): number {
  return Math.round((bytesPerSecond * 8) / 1000);
}
