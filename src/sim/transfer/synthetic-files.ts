/**
 * Deterministic file content for simulated transfers, generated on demand so a 1 GiB transfer
 * needs no 1 GiB buffer, and a receiving sink that checks what arrives: SHA-256 computed in
 * order as blocks arrive in any order, and a count of any byte range written twice.
 */
import { createHash, type Hash } from "node:crypto";
import { Random } from "../../core/util/random.js";
import { RangeSet } from "../../core/util/range-set.js";

const PATTERN_BYTES = 4096;
const STAMP_EVERY = 512;

export class SyntheticFile {
  private readonly pattern: Buffer;

  constructor(
    readonly seed: string,
    readonly size: number,
  ) {
    const rng = new Random(seed);
    this.pattern = Buffer.alloc(PATTERN_BYTES);
    for (let i = 0; i < PATTERN_BYTES; i += 4) this.pattern.writeUInt32LE(rng.nextUint32(), i);
  }

  /** Bytes [offset, offset + length): a seeded pattern stamped with the absolute offset every 512 bytes. */
  read(offset: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    const phase = offset % PATTERN_BYTES;
    out.fill(
      phase === 0
        ? this.pattern
        : Buffer.concat([this.pattern.subarray(phase), this.pattern.subarray(0, phase)]),
    );
    // Stamps may straddle the edges of the range: write whichever of their 8 bytes fall inside.
    const stampBytes = Buffer.alloc(8);
    for (
      let stamp = Math.floor(offset / STAMP_EVERY) * STAMP_EVERY;
      stamp < offset + length;
      stamp += STAMP_EVERY
    ) {
      stampBytes.writeUInt32LE(stamp >>> 0, 0);
      stampBytes.writeUInt32LE(Math.floor(stamp / 0x100000000), 4);
      for (let i = 0; i < 8; i++) {
        const at = stamp + i - offset;
        if (at >= 0 && at < length) out[at] = stampBytes[i]!;
      }
    }
    return out;
  }

  sha256(): string {
    const h = createHash("sha256");
    for (let off = 0; off < this.size; off += 1 << 20)
      h.update(this.read(off, Math.min(1 << 20, this.size - off)));
    return h.digest("hex");
  }
}

/** What a simulated receiver wrote for one file. */
export class VerifyingSink {
  /** byte count written more than once (must stay 0) */
  overwrittenBytes = 0;
  writes = 0;
  private readonly written = new RangeSet();
  private hash: Hash = createHash("sha256");
  private frontier = 0;
  private readonly waiting = new Map<number, Uint8Array>();
  /** the whole content, when kept for byte-by-byte comparison */
  readonly content: Buffer | null;

  constructor(
    readonly size: number,
    keepContent: boolean,
  ) {
    this.content = keepContent ? Buffer.alloc(size) : null;
  }

  write(offset: number, data: Uint8Array): void {
    this.writes++;
    const fresh = this.written.add(offset, offset + data.length);
    this.overwrittenBytes += data.length - fresh;
    this.content?.set(data, offset);
    if (offset === this.frontier) {
      this.hash.update(data);
      this.frontier += data.length;
      for (let next = this.waiting.get(this.frontier); next; next = this.waiting.get(this.frontier)) {
        this.waiting.delete(this.frontier);
        this.hash.update(next);
        this.frontier += next.length;
      }
    } else if (offset > this.frontier) this.waiting.set(offset, data);
  }

  get complete(): boolean {
    return this.frontier === this.size;
  }

  digest(): string | null {
    return this.complete ? this.hash.copy().digest("hex") : null;
  }

  /** A restart of the file after a hash mismatch: everything is received again. */
  reset(): void {
    this.hash = createHash("sha256");
    this.frontier = 0;
    this.waiting.clear();
    this.written.removeBelow(Infinity);
  }

  /** Byte ranges written so far (a receiver's checkpoint). */
  ranges(): Array<[number, number]> {
    return this.written.toArray();
  }
}
