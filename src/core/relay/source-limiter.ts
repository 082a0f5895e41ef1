/**
 * Per-source token buckets, so one source cannot take the relay's whole forwarding capacity.
 * The table is bounded: when full, the oldest entry is forgotten. Forgetting only ever gives a
 * source a fresh (full) bucket, so an attacker rotating addresses gains nothing over others.
 */
import type { Micros } from "../time.js";

export interface SourceLimiterOptions {
  /** bytes per second each source may send; 0 = unlimited */
  rate: number;
  /** bucket size in bytes; default 50 ms at the rate, at least 256 KiB */
  burst?: number;
  /** sources tracked at once; default 4096 */
  maxSources?: number;
}

interface Bucket {
  tokens: number;
  at: Micros;
}

export class SourceLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly maxSources: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: SourceLimiterOptions) {
    this.rate = options.rate;
    this.burst = options.burst ?? Math.max(256 * 1024, options.rate * 0.05);
    this.maxSources = options.maxSources ?? 4096;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes `bytes` from the source's bucket; false (nothing taken) when it is empty. */
  allow(now: Micros, source: string, bytes: number): boolean {
    if (this.rate <= 0) return true;
    let bucket = this.buckets.get(source);
    if (!bucket) {
      if (this.buckets.size >= this.maxSources) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(source, bucket);
    } else if (now > bucket.at) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.rate) / 1e6);
      bucket.at = now;
    }
    if (bucket.tokens < bytes) return false;
    bucket.tokens -= bytes;
    return true;
  }
}
