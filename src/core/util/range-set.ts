/**
 * A set of non-negative integers stored as sorted, disjoint, non-adjacent half-open ranges
 * [start, end). Used for received packet numbers (ACK ranges) and byte ranges of files.
 */
export type Range = readonly [start: number, end: number];

export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];

  static from(ranges: Iterable<Range>): RangeSet {
    const set = new RangeSet();
    for (const [s, e] of ranges) set.add(s, e);
    return set;
  }

  get size(): number {
    return this.starts.length;
  }

  /** Sum of range lengths. */
  total(): number {
    let sum = 0;
    for (let i = 0; i < this.starts.length; i++) sum += this.ends[i]! - this.starts[i]!;
    return sum;
  }

  /** Index of the last range whose start is <= value, or -1. */
  private floorIndex(value: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= value) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  has(value: number): boolean {
    const i = this.floorIndex(value);
    return i >= 0 && value < this.ends[i]!;
  }

  /** True when [start, end) lies wholly inside the set. */
  covers(start: number, end: number): boolean {
    if (end <= start) return true;
    const i = this.floorIndex(start);
    return i >= 0 && end <= this.ends[i]!;
  }

  /** End of the range containing `value`, or `value` itself when it is not in the set. */
  contiguousEndFrom(value: number): number {
    const i = this.floorIndex(value);
    return i >= 0 && value < this.ends[i]! ? this.ends[i]! : value;
  }

  /** The gaps of [0, size) not in the set. */
  missing(size: number): Array<[number, number]> {
    const gaps: Array<[number, number]> = [];
    let cursor = 0;
    for (let i = 0; i < this.starts.length && cursor < size; i++) {
      if (this.starts[i]! > cursor) gaps.push([cursor, Math.min(this.starts[i]!, size)]);
      cursor = Math.max(cursor, this.ends[i]!);
    }
    if (cursor < size) gaps.push([cursor, size]);
    return gaps;
  }

  /** Adds [start, end); returns the number of values that were not in the set before. */
  add(start: number, end: number): number {
    if (end <= start) return 0;
    const n = this.starts.length;
    // Fast path: appending at or after the last range (the common in-order case).
    if (n === 0 || start > this.ends[n - 1]!) {
      this.starts.push(start);
      this.ends.push(end);
      return end - start;
    }
    if (start >= this.starts[n - 1]!) {
      const before = this.ends[n - 1]!;
      if (end <= before) return 0;
      this.ends[n - 1] = end;
      return end - before;
    }
    let first = this.floorIndex(start);
    if (first < 0 || this.ends[first]! < start) first++;
    let last = first;
    let covered = 0;
    let newStart = start;
    let newEnd = end;
    while (last < this.starts.length && this.starts[last]! <= end) {
      const s = this.starts[last]!;
      const e = this.ends[last]!;
      covered += Math.min(e, end) - Math.max(s, start);
      newStart = Math.min(newStart, s);
      newEnd = Math.max(newEnd, e);
      last++;
    }
    this.starts.splice(first, last - first, newStart);
    this.ends.splice(first, last - first, newEnd);
    return end - start - Math.max(0, covered);
  }

  /** Removes [start, end) from the set. */
  remove(start: number, end: number): void {
    if (end <= start) return;
    const keepS: number[] = [];
    const keepE: number[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (e <= start || s >= end) {
        keepS.push(s);
        keepE.push(e);
        continue;
      }
      if (s < start) {
        keepS.push(s);
        keepE.push(start);
      }
      if (e > end) {
        keepS.push(end);
        keepE.push(e);
      }
    }
    this.starts = keepS;
    this.ends = keepE;
  }

  /** Removes every range that ends at or below `floor` and clips one straddling it. */
  removeBelow(floor: number): void {
    let k = 0;
    while (k < this.starts.length && this.ends[k]! <= floor) k++;
    if (k > 0) {
      this.starts.splice(0, k);
      this.ends.splice(0, k);
    }
    if (this.starts.length > 0 && this.starts[0]! < floor) this.starts[0] = floor;
  }

  /** Drops the oldest (lowest) ranges so at most `max` remain. */
  keepNewest(max: number): void {
    if (this.starts.length > max) {
      const drop = this.starts.length - max;
      this.starts.splice(0, drop);
      this.ends.splice(0, drop);
    }
  }

  min(): number | undefined {
    return this.starts[0];
  }

  /** One past the largest value. */
  max(): number | undefined {
    return this.ends[this.ends.length - 1];
  }

  /** Ranges from highest to lowest. */
  *descending(): IterableIterator<Range> {
    for (let i = this.starts.length - 1; i >= 0; i--) yield [this.starts[i]!, this.ends[i]!];
  }

  *[Symbol.iterator](): IterableIterator<Range> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i]!, this.ends[i]!];
  }

  toArray(): Array<[number, number]> {
    return this.starts.map((s, i) => [s, this.ends[i]!]);
  }
}
