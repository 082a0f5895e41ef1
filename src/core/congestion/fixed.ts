import type { Micros } from "../time.js";
import { MICROS_PER_MS } from "../time.js";
import { bytesOver, RateBounds } from "./common.js";
import type { AckEvent, ControllerConfig, LossEvent, RateController } from "./controller.js";

/** The window covers at least this much time at the configured rate... */
const FIXED_WINDOW_MIN_DURATION: Micros = 100 * MICROS_PER_MS;
/** ...or this many smoothed RTTs, whichever is longer... */
const FIXED_WINDOW_RTTS = 2;
/** ...and never fewer than this many datagrams. */
const FIXED_WINDOW_MIN_DATAGRAMS = 64;

/**
 * `fixed`: paces at `sendRate` whatever happens. The window only bounds the bytes in flight when
 * the path goes dead; it is sized so it never limits the rate on a live path.
 */
export class FixedRateController implements RateController {
  readonly method = "fixed";
  readonly active = false;
  private readonly bounds: RateBounds;
  private smoothedRtt: Micros = 0;

  constructor(config: ControllerConfig) {
    this.bounds = new RateBounds(config);
  }

  pacingRate(): number {
    return this.bounds.startRate;
  }

  congestionWindow(): number {
    const duration = Math.max(FIXED_WINDOW_RTTS * this.smoothedRtt, FIXED_WINDOW_MIN_DURATION);
    const datagrams = FIXED_WINDOW_MIN_DATAGRAMS * this.bounds.maxDatagramSize;
    return Math.max(bytesOver(this.pacingRate(), duration), datagrams, this.bounds.minWindow);
  }

  onPacketSent(): void {}

  onAck(ev: AckEvent): void {
    if (ev.smoothedRtt > 0) this.smoothedRtt = ev.smoothedRtt;
  }

  onLoss(_ev: LossEvent): void {}

  setRates(sendRate: number, minRate: number, maxRate: number): void {
    this.bounds.set(sendRate, minRate, maxRate);
  }

  stateName(): string {
    return "fixed";
  }
}
