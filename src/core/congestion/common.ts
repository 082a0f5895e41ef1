import type { Micros } from "../time.js";
import { MICROS_PER_MS, MICROS_PER_SECOND } from "../time.js";
import type { ControllerConfig } from "./controller.js";

/** Every controller keeps its congestion window at or above this many full datagrams. */
export const MIN_WINDOW_DATAGRAMS = 4;
/** RTT assumed before the first RTT sample, to size windows from a rate. */
export const INITIAL_RTT: Micros = 100 * MICROS_PER_MS;

/** bytes per second × microseconds → bytes */
export function bytesOver(rate: number, duration: Micros): number {
  return (rate * duration) / MICROS_PER_SECOND;
}

/** bytes ÷ microseconds → bytes per second */
export function rateOf(bytes: number, duration: Micros): number {
  return duration > 0 ? (bytes * MICROS_PER_SECOND) / duration : 0;
}

/**
 * The configured rate bounds. The maximum wins over the minimum: only a lowered maximum (server
 * share, receiver cap) may push the rate below `sendRateMin` (api.md, Connection `sendRateMin`).
 */
export class RateBounds {
  sendRate: number;
  minRate: number;
  maxRate: number;
  readonly maxDatagramSize: number;

  constructor(config: ControllerConfig) {
    this.sendRate = config.sendRate;
    this.minRate = config.minRate;
    this.maxRate = config.maxRate;
    this.maxDatagramSize = config.maxDatagramSize;
  }

  set(sendRate: number, minRate: number, maxRate: number): void {
    this.sendRate = sendRate;
    this.minRate = minRate;
    this.maxRate = maxRate;
  }

  clamp(rate: number): number {
    return Math.min(Math.max(rate, this.minRate), this.maxRate);
  }

  /** `sendRate` within the bounds: the start rate of every method, the rate of `fixed`. */
  get startRate(): number {
    return this.clamp(this.sendRate);
  }

  get minWindow(): number {
    return MIN_WINDOW_DATAGRAMS * this.maxDatagramSize;
  }

  /**
   * Applies the window floors: the minimum window, and enough window for the pacer to reach
   * `sendRateMin` over two RTTs (otherwise the window would silently undercut the rate floor).
   */
  window(controllerWindow: number, rtt: Micros): number {
    const floorForMinRate = bytesOver(Math.min(this.minRate, this.maxRate), 2 * rtt);
    return Math.max(controllerWindow, this.minWindow, floorForMinRate);
  }
}
