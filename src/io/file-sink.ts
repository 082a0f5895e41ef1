import { createHash } from "node:crypto";
import { mkdir, open, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { RangeSet } from "../core/util/range-set.js";

/** [start, end) byte offsets */
export type ByteRange = [start: number, end: number];
import { HashFrontier } from "./hash-frontier.js";
import { syncDirectory } from "./sync-directory.js";

export type FileSinkErrorCode = "RECEIVER_WRITE" | "PART_MISSING" | "SINK_CLOSED";

/** A write-side failure; `code` maps onto the transfer's file error. */
export class FileSinkError extends Error {
  constructor(
    readonly code: FileSinkErrorCode,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
    this.name = "FileSinkError";
  }
}

export interface FileSinkOptions {
  /** final path, already resolved inside the sandbox (see sandbox-path.ts) */
  targetPath: string;
  transferId: string;
  /** the file's size from the manifest */
  size: number;
  /** out-of-order bytes kept in memory for hashing; default 32 MiB */
  maxHashBufferBytes?: number;
  /** disk writes in flight at once; default 4 (libuv's thread pool size) */
  maxConcurrentWrites?: number;
}

export type FinishResult =
  | { ok: true; sha256: string }
  | { ok: false; reason: "HASH_MISMATCH"; sha256: string; expectedSha256: string }
  | { ok: false; reason: "INCOMPLETE"; missing: ByteRange[] };

/** `.<name>.slipstream-<transferId>.part` beside the target (server.md §15). */
export function partPathFor(targetPath: string, transferId: string): string {
  const name = basename(targetPath);
  const suffix = `.slipstream-${transferId}.part`;
  // keep within NAME_MAX (255 bytes): a long name is replaced by a digest of itself
  const shown =
    Buffer.byteLength(`.${name}${suffix}`) > 255 ? createHash("sha256").update(name).digest("hex") : name;
  return join(dirname(targetPath), `.${shown}${suffix}`);
}

/** Creates a directory and its parents (mode 0755 minus umask); a file in the way is RECEIVER_WRITE. */
export async function ensureDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new FileSinkError("RECEIVER_WRITE", path, `cannot create directory: ${errorCode(error)}`, {
      cause: error,
    });
  }
  const info = await stat(path);
  if (!info.isDirectory())
    throw new FileSinkError("RECEIVER_WRITE", path, "a file is in the way of a directory");
}

/** Coalesced contiguous blocks written with one writev. */
interface Run {
  start: number;
  end: number;
  buffers: Buffer[];
  done: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

const MAX_RUN_BYTES = 1024 * 1024;
const MAX_RUN_BUFFERS = 512;
/**
 * A run still growing at the end of an event-loop turn is written only once it holds this much,
 * or when no block joined it for `SMALL_RUN_DELAY_MS`: each write costs 2–3 µs of the event loop,
 * and a receiver that keeps up sees a few datagrams per turn.
 */
const MIN_RUN_BYTES = 64 * 1024;
const SMALL_RUN_DELAY_MS = 2;
const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Writes one received file into its part file, hashing it while writing, and renames it over the
 * target once complete and verified. Blocks may arrive in any order; contiguous blocks that arrive
 * while the disk is busy are merged into one write.
 */
export class FileSink {
  readonly partPath: string;
  readonly size: number;
  private readonly received: RangeSet;
  private readonly onDisk: RangeSet;
  private readonly frontier: HashFrontier;
  private readonly maxConcurrentWrites: number;
  /** runs not yet started, in arrival order; the last one may still grow */
  private readonly queued: Run[] = [];
  private readonly active = new Set<Run>();
  private pumpScheduled = false;
  private smallRunTimer: NodeJS.Timeout | null = null;
  private bytesWaitingForDisk = 0;
  private writesStarted = 0;
  private failure: FileSinkError | null = null;
  private state: "open" | "finished" | "aborted" = "open";
  private handleClosed = false;

  private constructor(
    readonly targetPath: string,
    private readonly handle: FileHandle,
    options: FileSinkOptions,
    ranges: ByteRange[],
  ) {
    this.partPath = partPathFor(targetPath, options.transferId);
    this.size = options.size;
    this.maxConcurrentWrites = options.maxConcurrentWrites ?? 4;
    this.received = RangeSet.from(ranges);
    this.onDisk = RangeSet.from(ranges);
    this.frontier = new HashFrontier({
      size: options.size,
      maxBufferedBytes: options.maxHashBufferBytes ?? 32 * 1024 * 1024,
      onDisk: this.onDisk,
      readFromDisk: (offset, length) => this.readFromDisk(offset, length),
      onError: (error) => this.fail(error, "cannot read back the part file"),
    });
    this.frontier.advance();
  }

  /** Starts a new part file (truncating any old one), creating missing directories. */
  static async create(options: FileSinkOptions): Promise<FileSink> {
    await ensureDirectory(dirname(options.targetPath));
    const partPath = partPathFor(options.targetPath, options.transferId);
    const handle = await open(partPath, "w+", 0o644).catch((error: unknown) => {
      throw new FileSinkError("RECEIVER_WRITE", partPath, `cannot create: ${errorCode(error)}`, {
        cause: error,
      });
    });
    return new FileSink(options.targetPath, handle, options, []);
  }

  /**
   * Resumes a part file from a checkpoint: `ranges` are the byte ranges known to be on disk (ranges
   * past the file's end are ignored). The hash restarts from 0 by re-reading them.
   */
  static async openExisting(options: FileSinkOptions & { ranges: ByteRange[] }): Promise<FileSink> {
    const partPath = partPathFor(options.targetPath, options.transferId);
    const handle = await open(partPath, "r+").catch((error: unknown) => {
      const code = errorCode(error) === "ENOENT" ? "PART_MISSING" : "RECEIVER_WRITE";
      throw new FileSinkError(code, partPath, `cannot reopen: ${errorCode(error)}`, { cause: error });
    });
    const length = Math.min((await handle.stat()).size, options.size);
    const ranges = options.ranges
      .map(([start, end]): ByteRange => [start, Math.min(end, length)])
      .filter(([start, end]) => end > start);
    return new FileSink(options.targetPath, handle, options, ranges);
  }

  /** Bytes accepted (written or being written). */
  get receivedBytes(): number {
    return this.received.total();
  }

  /** Bytes hashed so far, in order from 0. */
  get hashedBytes(): number {
    return this.frontier.hashedBytes;
  }

  /** Write calls issued to the file so far (each run is one). */
  get writeCount(): number {
    return this.writesStarted;
  }

  /** Bytes accepted but not yet written: a receiver should stop taking blocks when this grows. */
  get bufferedBytes(): number {
    return this.bytesWaitingForDisk;
  }

  /** Hashing statistics: bytes held in memory, spilled past the cap, and re-read from disk. */
  get hashStats(): { bufferedBytes: number; spilledBytes: number; rereadBytes: number } {
    const { bufferedBytes, spilledBytes, rereadBytes } = this.frontier;
    return { bufferedBytes, spilledBytes, rereadBytes };
  }

  /** True when every byte of [offset, offset + length) was already accepted (a duplicate). */
  has(offset: number, length: number): boolean {
    return this.received.covers(offset, offset + length);
  }

  /** Byte ranges whose writes have completed (not necessarily fsynced: see checkpoint()). */
  writtenRanges(): ByteRange[] {
    return this.onDisk.toArray();
  }

  /**
   * Writes a block at `offset`. The sink keeps `data` until it is written and hashed: do not reuse
   * it. Duplicates resolve at once. The promise rejects on a disk error (a rejection left unheard
   * is not an unhandled rejection; the error also surfaces from finish/checkpoint).
   */
  write(offset: number, data: Buffer): Promise<void> {
    if (this.failure) return handledRejection(this.failure);
    if (this.state !== "open") return handledRejection(this.closedError());
    const end = offset + data.length;
    if (offset < 0 || end > this.size || !Number.isInteger(offset)) {
      return handledRejection(new RangeError(`block [${offset}, ${end}) outside file of ${this.size} bytes`));
    }
    if (data.length === 0 || this.received.covers(offset, end)) return RESOLVED;
    this.received.add(offset, end);
    this.frontier.offer(offset, data);
    this.bytesWaitingForDisk += data.length;
    const last = this.queued[this.queued.length - 1];
    if (
      last &&
      last.end === offset &&
      last.end - last.start + data.length <= MAX_RUN_BYTES &&
      last.buffers.length < MAX_RUN_BUFFERS
    ) {
      last.buffers.push(data);
      last.end = end;
      return last.done;
    }
    const run = newRun(offset, data);
    this.queued.push(run);
    // start writes at the end of this event-loop turn, so blocks arriving together merge
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump(false);
      });
    }
    return run.done;
  }

  /** Fsyncs everything written so far; resolves with the ranges now durable (persist these). */
  async checkpoint(): Promise<ByteRange[]> {
    this.pump();
    await Promise.allSettled(this.unfinishedRuns().map((run) => run.done));
    if (this.failure) throw this.failure;
    if (this.state !== "open") throw this.closedError();
    const durable = this.onDisk.toArray();
    await this.handle.sync();
    return durable;
  }

  /**
   * Completes the file: waits for the writes, checks every byte arrived and the SHA-256 matches,
   * then applies `mtimeMs`, fsyncs, renames over the target and fsyncs the directory. On a
   * mismatch or missing bytes nothing is renamed (abort() or retry the missing ranges).
   */
  async finish(expectedSha256Hex: string, mtimeMs: number): Promise<FinishResult> {
    if (this.state !== "open") throw this.closedError();
    await this.drain();
    if (this.failure) throw this.failure;
    const missing = this.received.missing(this.size);
    if (missing.length > 0) return { ok: false, reason: "INCOMPLETE", missing };
    const sha256 = await this.frontier.digest();
    if (this.failure) throw this.failure;
    const expectedSha256 = expectedSha256Hex.toLowerCase();
    if (sha256 !== expectedSha256) return { ok: false, reason: "HASH_MISMATCH", sha256, expectedSha256 };
    try {
      await this.handle.truncate(this.size);
      await this.handle.utimes(new Date(), mtimeMs / 1000);
      await this.handle.sync();
      this.handleClosed = true;
      await this.handle.close();
      await rename(this.partPath, this.targetPath);
      this.state = "finished";
      await syncDirectory(dirname(this.targetPath));
    } catch (error) {
      throw new FileSinkError("RECEIVER_WRITE", this.targetPath, `cannot complete: ${errorCode(error)}`, {
        cause: error,
      });
    }
    return { ok: true, sha256 };
  }

  /** Stops the file: waits for writes in flight, closes, and deletes the part file if asked. */
  async abort(deletePartial: boolean): Promise<void> {
    if (this.state === "finished") return;
    this.state = "aborted";
    this.rejectQueued(this.closedError());
    await Promise.allSettled([...this.active].map((run) => run.done));
    if (!this.handleClosed) {
      this.handleClosed = true;
      await this.handle.close();
    }
    if (deletePartial) await unlink(this.partPath).catch(() => undefined);
  }

  /** Starts queued runs; unless `all`, a small last run waits to grow (see MIN_RUN_BYTES). */
  private pump(all = true): void {
    while (this.active.size < this.maxConcurrentWrites && this.queued.length > 0) {
      if (this.state !== "open" || this.failure) return;
      const run = this.queued[0]!;
      if (!all && this.queued.length === 1 && run.end - run.start < MIN_RUN_BYTES) {
        this.smallRunTimer ??= setTimeout(() => {
          this.smallRunTimer = null;
          this.pump();
        }, SMALL_RUN_DELAY_MS);
        return;
      }
      this.queued.shift();
      this.active.add(run);
      this.writesStarted++;
      void this.writeRun(run);
    }
  }

  private unfinishedRuns(): Run[] {
    return [...this.active, ...this.queued];
  }

  private rejectQueued(error: Error): void {
    for (const run of this.queued) {
      this.bytesWaitingForDisk -= run.end - run.start;
      run.reject(error);
    }
    this.queued.length = 0;
  }

  private async writeRun(run: Run): Promise<void> {
    try {
      // One contiguous buffer: writev costs about 2 µs per buffer in Node (a run holds hundreds of
      // datagram-sized blocks), copying them costs a tenth of that.
      const data =
        run.buffers.length === 1 ? run.buffers[0] : Buffer.concat(run.buffers, run.end - run.start);
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await this.handle.write(
          data,
          written,
          data.length - written,
          run.start + written,
        );
        if (bytesWritten === 0) throw new Error("the disk accepted no bytes");
        written += bytesWritten;
      }
      this.onDisk.add(run.start, run.end);
      run.resolve();
    } catch (error) {
      this.fail(error, "write failed");
      run.reject(this.failure as FileSinkError);
    } finally {
      this.active.delete(run);
      this.bytesWaitingForDisk -= run.end - run.start;
    }
    this.frontier.advance();
    this.pump(false);
  }

  private async drain(): Promise<void> {
    while (this.active.size > 0 || this.queued.length > 0) {
      this.pump();
      await Promise.allSettled(this.unfinishedRuns().map((run) => run.done));
    }
  }

  private async readFromDisk(offset: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await this.handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) throw new Error(`part file shorter than ${offset + length} bytes`);
      filled += bytesRead;
    }
    return buffer;
  }

  private fail(error: unknown, what: string): void {
    this.failure ??= new FileSinkError("RECEIVER_WRITE", this.partPath, `${what}: ${errorCode(error)}`, {
      cause: error,
    });
    this.rejectQueued(this.failure);
  }

  private closedError(): FileSinkError {
    return new FileSinkError("SINK_CLOSED", this.partPath, `file sink is ${this.state}`);
  }
}

function newRun(start: number, data: Buffer): Run {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => undefined); // callers may ignore the promise; failures also surface in finish()
  return { start, end: start + data.length, buffers: [data], done, resolve, reject };
}

function handledRejection(error: Error): Promise<void> {
  const rejected = Promise.reject(error);
  rejected.catch(() => undefined);
  return rejected;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
