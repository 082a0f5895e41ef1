import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { ByteRange } from "./file-sink.js";
import { sameMtime, type FileIdentity } from "./file-source.js";
import { syncDirectory } from "./sync-directory.js";

/** Progress of one file of a transfer. */
export interface FileCheckpoint {
  /** source file size and mtime when the ranges were recorded: a changed source is resent whole */
  size: number;
  mtimeMs: number;
  /** sorted, disjoint [start, end) byte ranges durable on disk (receiver) or acknowledged (sender) */
  ranges: ByteRange[];
  /** set once the file is complete and verified */
  sha256?: string;
}

export type CheckpointRole = "receiver" | "sender";

export interface TransferCheckpoint {
  transferId: string;
  role: CheckpointRole;
  /** wall-clock time of the save, ms since the epoch (informative) */
  savedAtMs: number;
  /** keyed by the file's identifier in the transfer (index or path, as the driver chooses) */
  files: Record<string, FileCheckpoint>;
}

/** A checkpoint file that cannot be parsed: treat the transfer as having no checkpoint. */
export class CheckpointCorruptError extends Error {
  readonly code = "CHECKPOINT_CORRUPT";
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`checkpoint ${path} is unreadable: ${detail}`);
    this.name = "CheckpointCorruptError";
  }
}

const FORMAT_VERSION = 1;
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Per-transfer checkpoints as small JSON files in one directory, each replaced atomically
 * (write a temporary file, fsync, rename, fsync the directory): a crash leaves either the old
 * or the new checkpoint, never a torn one. Saves of one transfer are applied in call order.
 */
export class CheckpointStore {
  private readonly chains = new Map<string, Promise<void>>();
  private tempCounter = 0;

  private constructor(readonly directory: string) {}

  /** Opens (creating, mode 0700) the directory and removes temporary files a crash left behind. */
  static async open(directory: string): Promise<CheckpointStore> {
    await mkdir(directory, { recursive: true, mode: 0o700 });
    for (const name of await readdir(directory)) {
      if (name.includes(".tmp-")) await unlink(join(directory, name)).catch(() => undefined);
    }
    return new CheckpointStore(directory);
  }

  pathFor(transferId: string, role: CheckpointRole): string {
    if (!SAFE_ID.test(transferId))
      throw new RangeError(`transfer id ${JSON.stringify(transferId)} is not a safe name`);
    return join(this.directory, `${transferId}.${role}.json`);
  }

  save(checkpoint: TransferCheckpoint): Promise<void> {
    const path = this.pathFor(checkpoint.transferId, checkpoint.role);
    const text = JSON.stringify({ version: FORMAT_VERSION, ...checkpoint });
    return this.serialised(path, () => this.writeAtomically(path, text));
  }

  /** The saved checkpoint, or null when there is none. */
  async load(transferId: string, role: CheckpointRole): Promise<TransferCheckpoint | null> {
    const path = this.pathFor(transferId, role);
    await this.chains.get(path);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    return parseCheckpoint(path, text);
  }

  delete(transferId: string, role: CheckpointRole): Promise<void> {
    const path = this.pathFor(transferId, role);
    return this.serialised(path, async () => {
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
      await syncDirectory(this.directory);
    });
  }

  /** Every saved checkpoint's transfer id and role. */
  async list(): Promise<{ transferId: string; role: CheckpointRole }[]> {
    const found: { transferId: string; role: CheckpointRole }[] = [];
    for (const name of await readdir(this.directory)) {
      const match = /^([A-Za-z0-9_-]+)\.(receiver|sender)\.json$/.exec(name);
      if (match) found.push({ transferId: match[1], role: match[2] as CheckpointRole });
    }
    return found;
  }

  private serialised(path: string, task: () => Promise<void>): Promise<void> {
    const previous = this.chains.get(path) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => undefined);
    this.chains.set(path, settled);
    void settled.then(() => {
      if (this.chains.get(path) === settled) this.chains.delete(path);
    });
    return next;
  }

  private async writeAtomically(path: string, text: string): Promise<void> {
    const temp = `${path}.tmp-${process.pid}-${this.tempCounter++}`;
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, path);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    await syncDirectory(this.directory);
  }
}

/**
 * The ranges still valid for resuming a file: the saved ones when the source is unchanged
 * (same size and mtime), else none (the file is sent again from its first byte).
 */
export function resumableRanges(saved: FileCheckpoint | undefined, current: FileIdentity): ByteRange[] {
  if (!saved || saved.size !== current.size || !sameMtime(saved.mtimeMs, current.mtimeMs)) return [];
  return saved.ranges
    .map(([start, end]): ByteRange => [start, Math.min(end, current.size)])
    .filter(([start, end]) => end > start);
}

function parseCheckpoint(path: string, text: string): TransferCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CheckpointCorruptError(path, (error as Error).message);
  }
  const record = value as Partial<TransferCheckpoint> & { version?: unknown };
  if (typeof value !== "object" || value === null || record.version !== FORMAT_VERSION) {
    throw new CheckpointCorruptError(path, "unknown format");
  }
  if (typeof record.transferId !== "string" || (record.role !== "receiver" && record.role !== "sender")) {
    throw new CheckpointCorruptError(path, "missing transferId or role");
  }
  if (typeof record.files !== "object" || record.files === null)
    throw new CheckpointCorruptError(path, "no files");
  for (const [key, file] of Object.entries(record.files)) {
    if (!isFileCheckpoint(file)) throw new CheckpointCorruptError(path, `bad entry for file ${key}`);
  }
  return {
    transferId: record.transferId,
    role: record.role,
    savedAtMs: typeof record.savedAtMs === "number" ? record.savedAtMs : 0,
    files: record.files,
  };
}

function isFileCheckpoint(file: unknown): file is FileCheckpoint {
  const f = file as FileCheckpoint;
  if (typeof file !== "object" || file === null) return false;
  if (!Number.isSafeInteger(f.size) || f.size < 0 || typeof f.mtimeMs !== "number") return false;
  if (f.sha256 !== undefined && typeof f.sha256 !== "string") return false;
  if (!Array.isArray(f.ranges)) return false;
  let previousEnd = 0;
  for (const range of f.ranges) {
    if (!Array.isArray(range) || range.length !== 2) return false;
    const [start, end] = range as unknown[];
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return false;
    if ((start as number) < previousEnd || (end as number) <= (start as number)) return false;
    previousEnd = end as number;
  }
  return true;
}
