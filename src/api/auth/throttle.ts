import type { Clock } from "../../server/clock.js";

/**
 * Login throttling (api.md §1.2): an address with more than `maxFailures` failed logins within
 * `windowMs` is refused for the next `blockMs`.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly blockMs = 60_000,
  ) {}

  private nowMs(): number {
    return this.clock.nowMicros() / 1000;
  }

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  retryAfterMs(address: string): number {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return 0;
    const remaining = until - this.nowMs();
    if (remaining > 0) return Math.ceil(remaining);
    this.blockedUntil.delete(address);
    return 0;
  }

  recordFailure(address: string): void {
    const now = this.nowMs();
    const recent = (this.failures.get(address) ?? []).filter((t) => now - t < this.windowMs);
    recent.push(now);
    this.failures.set(address, recent);
    if (recent.length > this.maxFailures) {
      this.blockedUntil.set(address, now + this.blockMs);
      this.failures.delete(address);
    }
  }

  /** Forget stale records (called periodically). */
  sweep(): void {
    const now = this.nowMs();
    for (const [address, times] of this.failures) {
      if (times.every((t) => now - t >= this.windowMs)) this.failures.delete(address);
    }
    for (const address of [...this.blockedUntil.keys()]) this.retryAfterMs(address);
  }
}
