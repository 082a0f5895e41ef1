import { createHash, type Hash } from "node:crypto";
import type { RangeSet } from "../core/util/range-set.js";

export interface HashFrontierOptions {
  size: number;
  /** bytes of out-of-order blocks held in memory; beyond it they are re-read from disk later */
  maxBufferedBytes: number;
  /** byte ranges already durable in the file, readable with `readFromDisk` */
  onDisk: RangeSet;
  readFromDisk: (offset: number, length: number) => Promise<Buffer>;
  /** called when a disk read fails (the hash cannot complete) */
  onError: (error: Error) => void;
}

/** Largest single re-read from disk. */
const CATCH_UP_CHUNK = 1024 * 1024;

/**
 * SHA-256 of a file whose blocks arrive in any order. Bytes are hashed in order up to the
 * frontier; blocks beyond it wait in memory up to a cap, and when the frontier reaches a block
 * that was not kept (or was written before a restart) it is read back from disk.
 */
export class HashFrontier {
  private readonly hash: Hash = createHash("sha256");
  private frontier = 0;
  private readonly waiting = new Map<number, Buffer>();
  private waitingBytes = 0;
  private catchUp: Promise<void> | null = null;
  private digestHex: string | null = null;
  private readError: Error | null = null;
  /** bytes of blocks that did not fit in memory (they are hashed from disk instead) */
  spilledBytes = 0;
  /** bytes read back from disk to advance the frontier */
  rereadBytes = 0;

  constructor(private readonly options: HashFrontierOptions) {}

  /** Bytes hashed so far (all of [0, hashedBytes)). */
  get hashedBytes(): number {
    return this.frontier;
  }

  /** Bytes held in memory waiting for the frontier. */
  get bufferedBytes(): number {
    return this.waitingBytes;
  }

  /** A block was received. `data` must not be modified afterwards. */
  offer(offset: number, data: Buffer): void {
    const end = offset + data.length;
    if (end <= this.frontier) return;
    if (offset <= this.frontier && !this.catchUp) {
      this.hash.update(offset === this.frontier ? data : data.subarray(this.frontier - offset));
      this.frontier = end;
      this.advance();
      return;
    }
    if (offset > this.frontier && !this.waiting.has(offset)) {
      if (this.waitingBytes + data.length <= this.options.maxBufferedBytes) {
        this.waiting.set(offset, data);
        this.waitingBytes += data.length;
      } else {
        this.spilledBytes += data.length;
      }
    }
  }

  /** Moves the frontier over waiting blocks, and starts a disk catch-up when the next bytes are only on disk. */
  advance(): void {
    if (this.catchUp) return;
    while (this.frontier < this.options.size) {
      const next = this.waiting.get(this.frontier);
      if (next) {
        this.waiting.delete(this.frontier);
        this.waitingBytes -= next.length;
        this.hash.update(next);
        this.frontier += next.length;
        continue;
      }
      if (!this.readError && this.options.onDisk.contiguousEndFrom(this.frontier) > this.frontier) {
        this.catchUp = this.catchUpFromDisk();
      }
      return;
    }
  }

  /**
   * Resolves with the hex digest once every byte is hashed; call it only when [0, size) is on
   * disk or offered. Rejects when bytes are missing.
   */
  async digest(): Promise<string> {
    if (this.digestHex !== null) return this.digestHex;
    for (;;) {
      if (this.catchUp) await this.catchUp;
      else this.advance();
      if (this.frontier >= this.options.size) break;
      if (this.readError) throw this.readError;
      if (!this.catchUp)
        throw new Error(`cannot hash: bytes from ${this.frontier} are neither received nor on disk`);
    }
    this.digestHex ??= this.hash.digest("hex");
    return this.digestHex;
  }

  private async catchUpFromDisk(): Promise<void> {
    try {
      for (;;) {
        const end = Math.min(this.options.onDisk.contiguousEndFrom(this.frontier), this.options.size);
        if (end <= this.frontier) break;
        const length = Math.min(end - this.frontier, CATCH_UP_CHUNK);
        const data = await this.options.readFromDisk(this.frontier, length);
        this.hash.update(data);
        this.frontier += length;
        this.rereadBytes += length;
      }
    } catch (error) {
      this.readError = error as Error;
      this.options.onError(this.readError);
      return;
    } finally {
      this.catchUp = null;
    }
    this.dropPassedBlocks();
    this.advance();
  }

  /** Blocks the disk catch-up ran past: hash the part beyond the frontier of one that straddles it. */
  private dropPassedBlocks(): void {
    for (;;) {
      const passed = [...this.waiting.keys()].filter((offset) => offset < this.frontier);
      if (passed.length === 0) return;
      for (const offset of passed.sort((a, b) => a - b)) {
        const data = this.waiting.get(offset) as Buffer;
        this.waiting.delete(offset);
        this.waitingBytes -= data.length;
        if (offset + data.length > this.frontier) {
          this.hash.update(data.subarray(this.frontier - offset));
          this.frontier = offset + data.length;
        }
      }
    }
  }
}
