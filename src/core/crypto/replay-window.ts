/**
 * Sliding-window replay detection over packet numbers (as in IPsec, RFC 4303 §3.4.3): a bitmap of
 * the last `size` packet numbers below the largest seen. Anything older than the window is refused,
 * since it can no longer be told apart from a replay.
 */
export type ReplayVerdict = "new" | "replay" | "tooOld";

export class ReplayWindow {
  private readonly bits: Uint32Array;
  private largest = -1;

  constructor(readonly size = 2048) {
    if (size <= 0 || size % 32 !== 0) throw new Error("replay window size must be a positive multiple of 32");
    this.bits = new Uint32Array(size / 32);
  }

  check(pn: number): ReplayVerdict {
    if (pn > this.largest) return "new";
    if (this.largest - pn >= this.size) return "tooOld";
    const i = pn % this.size;
    return this.bits[i >>> 5]! & (1 << (i & 31)) ? "replay" : "new";
  }

  /** Records an authentic packet number (after check() said "new"). */
  mark(pn: number): void {
    if (pn > this.largest) {
      if (pn - this.largest >= this.size) this.bits.fill(0);
      else for (let q = this.largest + 1; q < pn; q++) this.clear(q % this.size);
      this.largest = pn;
    }
    const i = pn % this.size;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  private clear(i: number): void {
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}
