/** A fixed-size set of small integers (block indices of one file). */
export class Bitset {
  private readonly words: Uint32Array;
  private count = 0;

  constructor(readonly length: number) {
    this.words = new Uint32Array(Math.ceil(length / 32));
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.length;
  }

  has(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Sets bit i; returns true when it was not set before. */
  set(i: number): boolean {
    const w = i >>> 5;
    const m = 1 << (i & 31);
    if (this.words[w]! & m) return false;
    this.words[w] = this.words[w]! | m;
    this.count++;
    return true;
  }

  clearAll(): void {
    this.words.fill(0);
    this.count = 0;
  }

  /** First clear bit at or after `from`, or -1. */
  nextClear(from: number): number {
    for (let i = from; i < this.length;) {
      const w = this.words[i >>> 5]!;
      if (w === 0xffffffff && (i & 31) === 0) {
        i += 32;
        continue;
      }
      if ((w & (1 << (i & 31))) === 0) return i;
      i++;
    }
    return -1;
  }

  /** Maximal runs of set bits as [start, end) index ranges. */
  *runs(): IterableIterator<[number, number]> {
    let i = 0;
    while (i < this.length) {
      while (i < this.length && !this.has(i)) i++;
      if (i >= this.length) return;
      const start = i;
      while (i < this.length && this.has(i)) i++;
      yield [start, i];
    }
  }
}
