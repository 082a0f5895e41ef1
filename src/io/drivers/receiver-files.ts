/**
 * The files of one incoming transfer on disk: resolved target paths, FileSinks opened lazily (so a
 * tree of thousands of small files never holds thousands of descriptors), resume ranges and
 * checkpoints.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingTransfer } from "../../core/endpoint/receiver.js";
import type { ResumeFile } from "../../core/transfer/recv-transfer.js";
import type { FileEntry } from "../../core/transfer/messages.js";
import type { ByteRange } from "../file-sink.js";
import { resumableRanges, type CheckpointStore, type FileCheckpoint } from "../checkpoint-store.js";
import { ensureDirectory, FileSink, FileSinkError, type FinishResult } from "../file-sink.js";
import { resolveInSandbox } from "../sandbox-path.js";

export class PathRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PathRefusedError";
  }
}

interface FileSlot {
  entry: FileEntry;
  target: string;
  /** the open sink; null until the first block (or a resumed part file) */
  sink: Promise<FileSink> | null;
  /** `sink` once it has opened: blocks are handed to it without a promise hop */
  ready: FileSink | null;
  /** ranges of a part file to reopen on first use (from a checkpoint) */
  resumeRanges: ByteRange[];
  verified: boolean;
  sha256: string | null;
}

function setSink(slot: FileSlot, sink: Promise<FileSink> | null): void {
  slot.sink = sink;
  slot.ready = null;
  sink?.then(
    (open) => {
      if (slot.sink === sink) slot.ready = open;
    },
    () => undefined,
  );
}

export class ReceiverFiles {
  private constructor(
    readonly id: string,
    private readonly slots: FileSlot[],
  ) {}

  /** Resolves every path inside `root`; throws PathRefusedError naming the first refused path. */
  static async prepare(root: string, transfer: IncomingTransfer): Promise<ReceiverFiles> {
    const slots: FileSlot[] = [];
    for (const entry of transfer.files) {
      let target: string;
      try {
        target = await resolveInSandbox(root, [transfer.destinationPath, entry.p], {
          allowRoot: entry.d === 1,
        });
      } catch (error) {
        const shown = [transfer.destinationPath, entry.p].filter((p) => p !== "").join("/");
        throw new PathRefusedError(`path ${JSON.stringify(shown)} refused: ${(error as Error).message}`);
      }
      slots.push({ entry, target, sink: null, ready: null, resumeRanges: [], verified: false, sha256: null });
    }
    return new ReceiverFiles(transfer.id, slots);
  }

  /** Where file `file` is written and what the sender said of it. */
  slotOf(file: number): { target: string; entry: FileEntry } {
    const slot = this.slots[file]!;
    return { target: slot.target, entry: slot.entry };
  }

  get fileCount(): number {
    return this.slots.length;
  }

  /** Creates directory entries now (before accepting), so an empty directory exists even with no files. */
  async createDirectories(): Promise<void> {
    for (const slot of this.slots) if (slot.entry.d) await ensureDirectory(slot.target);
  }

  /** Takes resume ranges from a checkpoint of this transfer (part files are reopened on first use). */
  async loadCheckpoint(store: CheckpointStore): Promise<void> {
    const saved = await store.load(this.id, "receiver").catch(() => null);
    if (!saved) return;
    for (const [i, slot] of this.slots.entries()) {
      const file = saved.files[String(i)];
      if (!file || slot.entry.d) continue;
      const ranges = resumableRanges(file, this.identity(slot));
      if (file.sha256 !== undefined) {
        // verified earlier: complete only if the renamed file is still there with its size
        const present = await stat(slot.target).catch(() => null);
        if (present?.isFile() && present.size === slot.entry.s && (ranges.length > 0 || slot.entry.s === 0)) {
          slot.verified = true;
          slot.sha256 = file.sha256;
        }
        continue;
      }
      slot.resumeRanges = ranges;
    }
  }

  /** Files whose target already exists as a file (for overwrite "never"), by index. */
  async existingTargets(): Promise<Array<{ file: number; target: string }>> {
    const out: Array<{ file: number; target: string }> = [];
    for (const [i, slot] of this.slots.entries()) {
      if (slot.entry.d || slot.verified) continue;
      const present = await stat(slot.target).catch(() => null);
      if (present) out.push({ file: i, target: slot.target });
    }
    return out;
  }

  /**
   * overwrite "differs": a target that already has the sender's size and SHA-256 counts as
   * received (the sender then skips it); a differing one is replaced as usual.
   */
  async markIdenticalTargets(): Promise<number[]> {
    const same: number[] = [];
    for (const [i, slot] of this.slots.entries()) {
      if (slot.entry.d || slot.verified || !slot.entry.h) continue;
      const present = await stat(slot.target).catch(() => null);
      if (!present?.isFile() || present.size !== slot.entry.s) continue;
      const hash = createHash("sha256");
      try {
        for await (const chunk of createReadStream(slot.target)) hash.update(chunk as Buffer);
      } catch {
        continue;
      }
      const digest = hash.digest("hex");
      if (digest !== slot.entry.h) continue;
      slot.verified = true;
      slot.sha256 = digest;
      same.push(i);
    }
    return same;
  }

  /** What is already here, per file, for acceptTransfer. */
  resumeMap(): Map<number, ResumeFile> {
    const map = new Map<number, ResumeFile>();
    this.slots.forEach((slot, i) => {
      if (slot.entry.d) return;
      map.set(i, {
        size: slot.entry.s,
        mtime: slot.entry.m,
        ranges: slot.resumeRanges,
        complete: slot.verified,
      });
    });
    return map;
  }

  /** Live ranges of the open sinks, used when the same transfer is announced again (a reconnect). */
  async refreshResumeFromSinks(): Promise<void> {
    for (const slot of this.slots) {
      if (!slot.sink || slot.verified) continue;
      const sink = await slot.sink.catch(() => null);
      slot.resumeRanges = sink ? sink.writtenRanges() : [];
      if (!sink) setSink(slot, null);
    }
  }

  write(file: number, offset: number, data: Buffer): Promise<void> {
    const ready = this.slots[file]?.ready;
    if (ready) return ready.write(offset, data);
    return this.sinkFor(file).then((sink) => sink.write(offset, data));
  }

  /** Verifies and renames a received file (or ensures a directory). */
  async finish(file: number, sha256: string | null): Promise<FinishResult | { ok: true }> {
    const slot = this.slots[file]!;
    if (slot.entry.d) {
      await ensureDirectory(slot.target);
      slot.verified = true;
      return { ok: true };
    }
    const sink = await this.sinkFor(file);
    const result = await sink.finish(sha256 ?? "", slot.entry.m / 1000);
    if (result.ok) {
      slot.verified = true;
      slot.sha256 = result.sha256;
    }
    return result;
  }

  /** The sender resends the file from scratch: drop the part file and start over. */
  restart(file: number): void {
    const slot = this.slots[file]!;
    const old = slot.sink;
    slot.resumeRanges = [];
    slot.verified = false;
    setSink(
      slot,
      (old ?? Promise.resolve(null))
        .then((sink) => sink?.abort(true))
        .catch(() => undefined)
        .then(() => FileSink.create({ targetPath: slot.target, transferId: this.id, size: slot.entry.s })),
    );
  }

  /** Fsyncs the open sinks and saves their durable ranges (plus verified files). */
  async checkpoint(store: CheckpointStore): Promise<void> {
    const files: Record<string, FileCheckpoint> = {};
    for (const [i, slot] of this.slots.entries()) {
      if (slot.entry.d) continue;
      const base = { size: slot.entry.s, mtimeMs: slot.entry.m / 1000 };
      if (slot.verified) {
        files[String(i)] = {
          ...base,
          ranges: [[0, slot.entry.s]],
          ...(slot.sha256 ? { sha256: slot.sha256 } : {}),
        };
        continue;
      }
      const sink = slot.sink ? await slot.sink.catch(() => null) : null;
      const ranges = sink ? await sink.checkpoint().catch(() => null) : slot.resumeRanges;
      if (ranges && ranges.length > 0) files[String(i)] = { ...base, ranges };
    }
    await store.save({ transferId: this.id, role: "receiver", savedAtMs: Date.now(), files });
  }

  /** Closes every open sink; `deletePartials` removes their part files (a cancelled transfer). */
  async close(deletePartials: boolean): Promise<void> {
    const sinks = this.slots.map((slot) => slot.sink).filter((s): s is Promise<FileSink> => s !== null);
    for (const slot of this.slots) setSink(slot, null);
    await Promise.all(sinks.map((s) => s.then((sink) => sink.abort(deletePartials)).catch(() => undefined)));
  }

  private sinkFor(file: number): Promise<FileSink> {
    const slot = this.slots[file];
    if (!slot) return Promise.reject(new RangeError(`no file ${file}`));
    if (!slot.sink) {
      const options = { targetPath: slot.target, transferId: this.id, size: slot.entry.s };
      const ranges = slot.resumeRanges;
      setSink(
        slot,
        ranges.length > 0
          ? FileSink.openExisting({ ...options, ranges }).catch((error: unknown) => {
              if (error instanceof FileSinkError && error.code === "PART_MISSING")
                return FileSink.create(options);
              throw error;
            })
          : FileSink.create(options),
      );
    }
    return slot.sink!;
  }

  private identity(slot: FileSlot): { size: number; mtimeMs: number } {
    return { size: slot.entry.s, mtimeMs: slot.entry.m / 1000 };
  }
}
