/**
 * Receiving side of one transfer within a session: which blocks arrived (duplicates are never
 * written twice), which files are complete and verified, and the replies to the sender.
 */
import type { DataFrame } from "../wire/frames.js";
import { Bitset } from "../util/bitset.js";
import type { ByteRanges, FileEntry } from "./messages.js";

export type RecvFileStatus = "receiving" | "verifying" | "ok" | "failed";

export interface RecvFile {
  entry: FileEntry;
  blocks: number;
  received: Bitset;
  /** the sender's SHA-256, once its fileEnd arrived */
  sha256: string | null;
  status: RecvFileStatus;
  /** verification failures so far */
  attempts: number;
}

export interface ResumeFile {
  size: number;
  mtime: number;
  /** byte ranges already on disk */
  ranges: ByteRanges;
  /** the file was verified and renamed into place */
  complete: boolean;
}

export type RecvTransferState = "announcing" | "pending" | "receiving";

/** A sender's receiveToken as it arrived in the start message (api.md §3.4). */
export interface ReceiveTokenCredentials {
  token: string;
  password: string | null;
}

export class RecvTransfer {
  state: RecvTransferState = "announcing";
  readonly files: RecvFile[] = [];
  bytesReceived = 0;
  /** set from the start message; never logged */
  receiveToken: ReceiveTokenCredentials | null = null;
  /** blocks that arrived while the transfer was being decided on, taken when it is accepted */
  early: DataFrame[] = [];
  earlyBytes = 0;

  constructor(
    readonly n: number,
    readonly id: string,
    readonly blockSize: number,
    readonly destinationPath: string,
    readonly overwrite: string,
  ) {}

  addFiles(entries: FileEntry[]): void {
    for (const entry of entries) {
      const blocks = entry.d ? 0 : Math.ceil(entry.s / this.blockSize);
      this.files.push({
        entry,
        blocks,
        received: new Bitset(blocks),
        sha256: null,
        status: "receiving",
        attempts: 0,
      });
    }
  }

  get totalBytes(): number {
    return this.files.reduce((a, f) => a + (f.entry.d ? 0 : f.entry.s), 0);
  }

  /** Applies what is already on disk; returns the accept message's `have` and `done`. */
  applyResume(resume: ReadonlyMap<number, ResumeFile> | undefined): {
    have: Array<{ f: number; r: ByteRanges }>;
    done: number[];
  } {
    const have: Array<{ f: number; r: ByteRanges }> = [];
    const done: number[] = [];
    this.files.forEach((f, i) => {
      const r = resume?.get(i);
      if (!r || f.entry.d || r.size !== f.entry.s || r.mtime !== f.entry.m) return;
      if (r.complete) {
        f.status = "ok";
        for (let b = 0; b < f.blocks; b++) f.received.set(b);
        done.push(i);
        return;
      }
      for (const [start, end] of r.ranges) {
        for (let b = Math.ceil(start / this.blockSize); b < f.blocks; b++) {
          if (Math.min((b + 1) * this.blockSize, f.entry.s) > end) break;
          f.received.set(b);
        }
      }
      const ranges = this.rangesOf(f);
      if (ranges.length > 0) have.push({ f: i, r: ranges });
      this.bytesReceived += ranges.reduce((a, [s, e]) => a + e - s, 0);
    });
    return { have, done };
  }

  /** Byte ranges of the blocks received so far. */
  rangesOf(f: RecvFile): ByteRanges {
    const out: ByteRanges = [];
    for (const [s, e] of f.received.runs())
      out.push([s * this.blockSize, Math.min(e * this.blockSize, f.entry.s)]);
    return out;
  }

  /** Expected length of a block, or -1 when (file, offset) does not name a block. */
  blockLength(file: number, offset: number): number {
    const f = this.files[file];
    if (!f || f.entry.d || offset % this.blockSize !== 0 || offset >= f.entry.s) return -1;
    return Math.min(this.blockSize, f.entry.s - offset);
  }

  /** True when every block arrived and the sender's hash is known: time to verify. */
  readyToVerify(f: RecvFile): boolean {
    return f.status === "receiving" && f.received.full && (f.sha256 !== null || !!f.entry.d);
  }

  get finished(): boolean {
    return this.files.every((f) => f.status === "ok" || f.status === "failed");
  }
}
