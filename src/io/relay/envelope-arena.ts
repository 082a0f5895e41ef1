const ARENA_BYTES = 1024 * 1024;

/**
 * Memory for the data envelopes of one receive batch, carved one after another from a buffer that
 * is reused instead of one new buffer per datagram (each new buffer counts as external memory,
 * and on a relay forwarding a gigabit that alone started a full garbage collection every tenth of
 * a second). `reset()` once what used the envelopes has been flushed; when the buffer runs out
 * mid-batch, `flush` is asked to hand everything carved so far to the kernel first.
 */
export class EnvelopeArena {
  private readonly buffer = Buffer.allocUnsafe(ARENA_BYTES);
  private used = 0;

  constructor(private readonly flush: () => void) {}

  readonly allocate = (size: number): Buffer => {
    if (size > ARENA_BYTES) return Buffer.allocUnsafe(size);
    if (this.used + size > ARENA_BYTES) {
      this.flush();
      this.used = 0;
    }
    const out = this.buffer.subarray(this.used, this.used + size);
    this.used += size;
    return out;
  };

  reset(): void {
    this.used = 0;
  }
}
