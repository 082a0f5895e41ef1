import { createHash, type Hash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";

/** Size and modification time of a file as listed in a manifest. */
export interface FileIdentity {
  size: number;
  mtimeMs: number;
}

/** The file no longer matches what was listed (or changed while being read). */
export class FileChangedError extends Error {
  readonly code = "FILE_CHANGED";
  constructor(
    readonly path: string,
    readonly expected: FileIdentity,
    readonly actual: FileIdentity,
  ) {
    super(
      `${path} changed since it was listed: size ${expected.size} → ${actual.size}, ` +
        `mtime ${expected.mtimeMs} → ${actual.mtimeMs}`,
    );
    this.name = "FileChangedError";
  }
}

/** Modification times equal to the microsecond (API timestamps are integer microseconds). */
export function sameMtime(aMs: number, bMs: number): boolean {
  return Math.round(aMs * 1000) === Math.round(bMs * 1000);
}

export interface FileSourceOptions {
  /** what the manifest listed; opening fails with FileChangedError when the file differs */
  expected?: FileIdentity;
  /** bytes read from disk at once and served to block reads from memory; default 1 MiB */
  readAheadBytes?: number;
  /** hash what is read in order (for sha256()); off when the caller hashes itself */
  trackHash?: boolean;
}

interface Chunk {
  start: number;
  data: Promise<Buffer>;
}

/**
 * Positional block reads for the sender. Blocks are served from read-ahead chunks, so a stream of
 * 1,400-byte reads costs one disk read per chunk, and the chunks read in order from offset 0 feed
 * a SHA-256 ("computed while reading"); `sha256()` reads whatever the sends skipped.
 */
export class FileSource {
  private readonly readAheadBytes: number;
  /** the two most recent chunks: the one being sent and the next, or an old one for a retransmission */
  private recent: Chunk[] = [];
  private readonly hash: Hash = createHash("sha256");
  private hashedBytes = 0;
  private readonly trackHash: boolean;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly size: number,
    readonly mtimeMs: number,
    options: FileSourceOptions,
  ) {
    this.readAheadBytes = options.readAheadBytes ?? 1024 * 1024;
    this.trackHash = options.trackHash ?? true;
  }

  static async open(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
    const handle = await open(path, "r");
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: "EISDIR" });
      const actual = { size: stat.size, mtimeMs: stat.mtimeMs };
      const expected = options.expected;
      if (expected && (expected.size !== actual.size || !sameMtime(expected.mtimeMs, actual.mtimeMs))) {
        throw new FileChangedError(path, expected, actual);
      }
      return new FileSource(path, handle, stat.size, stat.mtimeMs, options);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * `length` bytes at `offset` (fewer only at the end of the file). The buffer may share memory
   * with the read-ahead chunk: do not modify it.
   */
  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(offset + length, this.size);
    if (offset < 0 || offset > this.size) throw new RangeError(`offset ${offset} outside ${this.path}`);
    if (end <= offset) return Buffer.alloc(0);
    if (end - offset > this.readAheadBytes) return this.readExactly(offset, end - offset);
    const chunk = this.recent.find((c) => c.start <= offset && end <= c.start + this.readAheadBytes);
    if (chunk) {
      const data = await chunk.data;
      if (end - chunk.start > data.length) throw await this.changedError();
      return data.subarray(offset - chunk.start, end - chunk.start);
    }
    const start = offset;
    const fresh: Chunk = { start, data: this.readChunk(start) };
    this.recent = [this.recent[this.recent.length - 1], fresh].filter((c): c is Chunk => c !== undefined);
    const data = await fresh.data;
    return data.subarray(0, end - start);
  }

  /** Throws FileChangedError when the open file's size or mtime moved since it was opened. */
  async verifyUnchanged(): Promise<void> {
    const stat = await this.handle.stat();
    if (stat.size !== this.size || !sameMtime(stat.mtimeMs, this.mtimeMs)) throw await this.changedError();
  }

  /** SHA-256 (hex) of the whole file, reading the parts that block reads did not cover in order. */
  async sha256(): Promise<string> {
    if (!this.trackHash) throw new Error(`${this.path} was opened without hash tracking`);
    while (this.hashedBytes < this.size) {
      const length = Math.min(Math.max(this.readAheadBytes, 1024 * 1024), this.size - this.hashedBytes);
      await this.readExactly(this.hashedBytes, length);
    }
    await this.verifyUnchanged();
    return this.hash.copy().digest("hex");
  }

  async close(): Promise<void> {
    this.recent = [];
    await this.handle.close();
  }

  private async readChunk(start: number): Promise<Buffer> {
    return this.readExactly(start, Math.min(this.readAheadBytes, this.size - start));
  }

  private async readExactly(start: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, start + filled);
      if (bytesRead === 0) throw await this.changedError();
      filled += bytesRead;
    }
    // reads that reach the hash frontier extend it (chunks overlap when blocks straddle them)
    if (this.trackHash && start <= this.hashedBytes && start + length > this.hashedBytes) {
      this.hash.update(buffer.subarray(this.hashedBytes - start));
      this.hashedBytes = start + length;
    }
    return buffer;
  }

  private async changedError(): Promise<FileChangedError> {
    const stat = await this.handle.stat();
    return new FileChangedError(
      this.path,
      { size: this.size, mtimeMs: this.mtimeMs },
      { size: stat.size, mtimeMs: stat.mtimeMs },
    );
  }
}
