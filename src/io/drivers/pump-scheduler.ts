import type { Micros } from "../../core/time.js";
import { monotonicMicros } from "./clock.js";

/**
 * When to run a driver's pump: once after the current batch of I/O callbacks (`soon`), or at the
 * endpoint's next deadline. A deadline already past runs on setImmediate, except when the last run
 * made no progress (then a 1 ms timer), so an endpoint that keeps asking to be woken "now" never
 * spins the event loop.
 */
export class PumpScheduler {
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private stopped = false;

  constructor(private readonly run: () => void) {}

  soon(): void {
    if (this.stopped || this.immediate) return;
    this.immediate = setImmediate(this.fire);
  }

  /** Arms the wake-up for `deadline` (monotonic µs; null = none). `progressed`: the last run did something. */
  armAt(deadline: Micros | null, progressed: boolean): void {
    if (this.stopped || deadline === null) return;
    const now = monotonicMicros();
    if (deadline <= now && progressed) {
      this.soon();
      return;
    }
    // An earlier timer stays: waking early is harmless, the pump re-arms.
    if (this.timer && this.timerAt <= deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(this.fireTimer, Math.max(1, Math.ceil((deadline - now) / 1000)));
  }

  stop(): void {
    this.stopped = true;
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
  }

  private readonly fire = (): void => {
    this.immediate = null;
    if (!this.stopped) this.run();
  };

  private readonly fireTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    if (!this.stopped) this.run();
  };
}
