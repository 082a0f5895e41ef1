const ARENA_BYTES = 1024 * 1024;

/**
 * Memory for data envelopes, carved one after another from a buffer that is reused instead of one
 * new buffer per datagram (each new buffer counts as external memory, and on a relay forwarding a
 * gigabit that alone started a full garbage collection every tenth of a second). When the buffer
 * runs out, `flush` must hand everything carved so far to the kernel (or copy it) before the
 * front is reused; `reset()` starts at the front early, once the caller has flushed anyway.
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
