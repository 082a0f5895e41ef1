/** A half-open byte range [start, end). */
export type ByteRange = [start: number, end: number];

/**
 * A set of byte offsets kept as sorted, disjoint, non-adjacent [start, end) ranges.
 * Adjacent and overlapping insertions merge, so a file received in order is one range.
 */
export class ByteRangeSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  constructor(ranges: Iterable<ByteRange> = []) {
    for (const [start, end] of ranges) this.add(start, end);
  }

  /** Number of disjoint ranges. */
  get count(): number {
    return this.starts.length;
  }

  /** Total bytes covered. */
  get totalBytes(): number {
    let total = 0;
    for (let i = 0; i < this.starts.length; i++) total += this.ends[i] - this.starts[i];
    return total;
  }

  add(start: number, end: number): void {
    if (!(end > start)) return;
    // first range whose end >= start (it may touch or overlap the new one)
    const i = this.firstEndingAtOrAfter(start);
    let mergedStart = start;
    let mergedEnd = end;
    let removeCount = 0;
    while (i + removeCount < this.starts.length && this.starts[i + removeCount] <= end) {
      mergedStart = Math.min(mergedStart, this.starts[i + removeCount]);
      mergedEnd = Math.max(mergedEnd, this.ends[i + removeCount]);
      removeCount++;
    }
    this.starts.splice(i, removeCount, mergedStart);
    this.ends.splice(i, removeCount, mergedEnd);
  }

  /** True when every byte of [start, end) is in the set. */
  covers(start: number, end: number): boolean {
    if (!(end > start)) return true;
    const i = this.firstEndingAtOrAfter(start + 1);
    return i < this.starts.length && this.starts[i] <= start && this.ends[i] >= end;
  }

  /** End of the contiguous range containing `offset`, or `offset` itself when it is not covered. */
  contiguousEndFrom(offset: number): number {
    const i = this.firstEndingAtOrAfter(offset + 1);
    if (i < this.starts.length && this.starts[i] <= offset) return this.ends[i];
    return offset;
  }

  /** The gaps of [0, size) not in the set. */
  missing(size: number): ByteRange[] {
    const gaps: ByteRange[] = [];
    let cursor = 0;
    for (let i = 0; i < this.starts.length && cursor < size; i++) {
      if (this.starts[i] > cursor) gaps.push([cursor, Math.min(this.starts[i], size)]);
      cursor = Math.max(cursor, this.ends[i]);
    }
    if (cursor < size) gaps.push([cursor, size]);
    return gaps;
  }

  /** A copy of the ranges, sorted. */
  toArray(): ByteRange[] {
    return this.starts.map((start, i): ByteRange => [start, this.ends[i]]);
  }

  /** Index of the first range with end >= offset (binary search). */
  private firstEndingAtOrAfter(offset: number): number {
    let low = 0;
    let high = this.ends.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.ends[mid] < offset) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
