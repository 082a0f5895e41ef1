/**
 * Sending side of one transfer: which blocks of which files are acknowledged, what to send next
 * (retransmissions first, then new blocks in file order, so many small files stream back to
 * back), which chunks to read, and the SHA-256 of every file computed from the chunks as read.
 */
import { createHash, type Hash } from "node:crypto";
import { Bitset } from "../util/bitset.js";
import { writeDataFrame } from "../wire/frames.js";
import { Endgame } from "./endgame.js";
import { FILES_PER_MESSAGE, type ByteRanges, type ControlMessage, type FileEntry } from "./messages.js";

export type Overwrite = "always" | "never" | "differs";

/** how far back a probe looks for an unacknowledged block (the newest ones are the likely ones) */
const PROBE_SCAN_BLOCKS = 256;

export interface TransferFileSpec {
  /** target path relative to the destination path */
  path: string;
  size: number;
  /** microseconds since the epoch */
  mtime: number;
  isDirectory?: boolean;
  /** SHA-256 of the source (hex), known beforehand for overwrite "differs" */
  sha256?: string;
}

export interface TransferSpec {
  /** 32 lowercase hex characters */
  id: string;
  destinationPath: string;
  overwrite: Overwrite;
  files: TransferFileSpec[];
  /** the receiver may hold part of it (e.g. a sender restarted): wait for its accept before sending */
  resumed?: boolean;
  /** an API token of the receiving server (api.md §3.4); travels only on an encrypted session */
  receiveToken?: { token: string; password: string | null };
}

/**
 * Why `spec` must not be announced on a session with or without encryption, or null when it may.
 * A receiveToken is a credential: it never goes out in the clear.
 */
export function receiveTokenRefusal(spec: TransferSpec, encrypted: boolean): string | null {
  return spec.receiveToken !== undefined && !encrypted
    ? "a receiveToken is only sent on an encrypted session, and the session to the receiver is not encrypted"
    : null;
}

export type FileStatus = "pending" | "ok" | "failed";

export interface TransferProgress {
  bytesTotal: number;
  /** file bytes the receiver holds (acknowledged blocks) */
  bytesAcked: number;
  /** file bytes put into DATA packets, retransmissions included */
  bytesSent: number;
  bytesRetransmitted: number;
  /** DATA frames sent (one block each), retransmissions included */
  blocksSent: number;
  blocksRetransmitted: number;
  /** bytes of the DATA frames sent (frame headers included, packet headers not) */
  frameBytesSent: number;
  blocksAcked: number;
  blocksTotal: number;
  filesTotal: number;
  filesComplete: number;
  filesFailed: number;
}

/** Target size of a read: a whole number of blocks close to this. */
export const CHUNK_TARGET_BYTES = 256 * 1024;

/** How much file data a transfer may read. */
export interface ReadBudget {
  /** bytes read for new data not yet sent: what keeps the pacer fed through a slow read */
  ahead: number;
  /** all bytes held (read ahead, in flight, awaiting retransmission): the memory bound */
  hold: number;
}

export interface SendFile {
  readonly spec: TransferFileSpec;
  blocks: number;
  acked: Bitset;
  sent: Bitset;
  ackedPerChunk: Uint16Array;
  hash: Hash;
  /** next chunk index to feed into the hash */
  hashChunk: number;
  sha256: string | null;
  status: FileStatus;
  errorCode: string | null;
  errorMessage: string | null;
}

export interface ReadRequest {
  file: number;
  offset: number;
  length: number;
}

export interface SendTransferSink {
  sendControl(message: ControlMessage): void;
  requestRead(transfer: SendTransfer, request: ReadRequest): void;
}

export class SendTransfer {
  readonly files: SendFile[];
  /** session-local number; changes with every connection */
  n = -1;
  blockSize = 0;
  chunkBlocks = 1;
  /** the receiver accepted the transfer on the current connection */
  accepted = false;
  /** data may flow on the current connection */
  private active = false;
  private announcedBefore = false;
  bytesAcked = 0;
  bytesSent = 0;
  bytesRetransmitted = 0;
  blocksSent = 0;
  blocksRetransmitted = 0;
  frameBytesSent = 0;
  readonly totalBytes: number;

  private curFile = 0;
  private curBlock = 0;
  private retransmitQueue: number[] = [];
  private retransmitHead = 0;
  private readonly chunks = new Map<number, Map<number, Uint8Array>>();
  private readonly pendingReads = new Set<string>();
  private readFile = 0;
  private readChunk = 0;
  /** file data held: read ahead, in flight, or waiting for retransmission or hashing */
  bufferedBytes = 0;
  /** chunks read (or being read) for new data none of which has been sent yet, and their bytes */
  private readonly aheadChunks = new Map<string, number>();
  aheadBytes = 0;
  /** the chunk new data was last sent from (leaveAhead once per chunk, not per block) */
  private newDataFile = -1;
  private newDataChunk = -1;
  /** once every block went out: retransmissions twice, copies of the newest blocks (see Endgame) */
  readonly endgame = new Endgame();

  constructor(
    readonly spec: TransferSpec,
    private readonly sink: SendTransferSink,
    /** how much file data may be read ahead and held, asked each time */
    private readonly readBudget: () => ReadBudget,
  ) {
    this.files = spec.files.map((f) => ({
      spec: f,
      blocks: 0,
      acked: new Bitset(0),
      sent: new Bitset(0),
      ackedPerChunk: new Uint16Array(0),
      hash: createHash("sha256"),
      hashChunk: 0,
      sha256: null,
      status: "pending",
      errorCode: null,
      errorMessage: null,
    }));
    this.totalBytes = spec.files.reduce((a, f) => a + (f.isDirectory ? 0 : f.size), 0);
  }

  /** Progress figures for snapshots. */
  progress(): TransferProgress {
    let blocksAcked = 0;
    let blocksTotal = 0;
    let filesComplete = 0;
    let filesFailed = 0;
    for (const f of this.files) {
      blocksAcked += f.acked.size;
      blocksTotal += f.blocks;
      if (f.status === "ok") filesComplete++;
      else if (f.status === "failed") filesFailed++;
    }
    return {
      bytesTotal: this.totalBytes,
      bytesAcked: this.bytesAcked,
      bytesSent: this.bytesSent,
      bytesRetransmitted: this.bytesRetransmitted,
      blocksSent: this.blocksSent,
      blocksRetransmitted: this.blocksRetransmitted,
      frameBytesSent: this.frameBytesSent,
      blocksAcked,
      blocksTotal,
      filesTotal: this.files.length,
      filesComplete,
      filesFailed,
    };
  }

  get id(): string {
    return this.spec.id;
  }

  get finished(): boolean {
    return this.files.every((f) => f.status !== "pending");
  }

  /**
   * Announces the transfer on a (new) connection. A fresh transfer starts sending at once (the
   * receiver does not acknowledge data before it accepts); a resumed one waits for the accept,
   * which says what the receiver already holds. On a new connection the receiver is the
   * authority on what arrived, so acknowledgements start over. `encrypted`: the session's cipher
   * is not `none`; the receiveToken goes out only then (the caller refuses it otherwise).
   */
  announce(n: number, blockSize: number, encrypted = false): void {
    this.n = n;
    this.accepted = false;
    if (this.blockSize !== blockSize) this.setBlockSize(blockSize);
    this.bytesAcked = 0;
    for (const f of this.files) {
      if (f.status !== "pending") continue;
      f.acked.clearAll();
      f.ackedPerChunk.fill(0);
    }
    this.curFile = 0;
    this.curBlock = 0;
    this.retransmitQueue = [];
    this.retransmitHead = 0;
    this.endgame.reset();
    this.readFile = 0;
    this.readChunk = 0;
    // Sending before the accept saves a round trip on a fresh transfer; on a resumed one it would
    // resend what the receiver already holds, so that waits for the accept.
    // With overwrite "differs" the accept says which files the receiver already has identical.
    this.active = !this.announcedBefore && !this.spec.resumed && this.spec.overwrite !== "differs";
    this.announcedBefore = true;
    const entries: FileEntry[] = this.spec.files.map((f) =>
      f.isDirectory
        ? { p: f.path, s: 0, m: f.mtime, d: 1 }
        : { p: f.path, s: f.size, m: f.mtime, ...(f.sha256 ? { h: f.sha256 } : {}) },
    );
    for (let i = 0; i < Math.max(1, entries.length); i += FILES_PER_MESSAGE) {
      const files = entries.slice(i, i + FILES_PER_MESSAGE);
      const more = i + FILES_PER_MESSAGE < entries.length;
      this.sink.sendControl(
        i === 0
          ? {
              t: "start",
              n,
              id: this.spec.id,
              blockSize,
              path: this.spec.destinationPath,
              overwrite: this.spec.overwrite,
              files,
              more,
              ...this.receiveTokenFields(encrypted),
            }
          : { t: "files", n, files, more },
      );
    }
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i]!;
      if (f.status !== "pending" || f.spec.isDirectory) continue;
      if (f.sha256 !== null) this.sink.sendControl({ t: "fileEnd", n, f: i, sha256: f.sha256 });
      else if (f.blocks === 0) this.finishHash(i);
    }
    this.pumpReads();
  }

  /** The start message's token fields: only on an encrypted session (see receiveTokenRefusal). */
  private receiveTokenFields(encrypted: boolean): { rt?: string; rtp?: string | null } {
    const rt = this.spec.receiveToken;
    return rt === undefined || !encrypted ? {} : { rt: rt.token, rtp: rt.password };
  }

  private setBlockSize(blockSize: number): void {
    this.blockSize = blockSize;
    this.chunkBlocks = Math.max(1, Math.floor(CHUNK_TARGET_BYTES / blockSize));
    for (const f of this.files) {
      f.blocks = f.spec.isDirectory ? 0 : Math.ceil(f.spec.size / blockSize);
      f.acked = new Bitset(f.blocks);
      f.sent = new Bitset(f.blocks);
      f.ackedPerChunk = new Uint16Array(Math.ceil(f.blocks / this.chunkBlocks));
    }
    this.chunks.clear();
    this.pendingReads.clear();
    this.aheadChunks.clear();
    this.aheadBytes = 0;
    this.newDataFile = -1;
    this.bufferedBytes = 0;
    for (const f of this.files) this.resetHash(f);
  }

  private resetHash(f: SendFile): void {
    f.hash = createHash("sha256");
    f.hashChunk = 0;
    f.sha256 = null;
  }

  /**
   * The receiver's answer: what it already holds (byte ranges; a block counts when wholly
   * covered) and which files it already verified. This replaces what we believed was acknowledged.
   */
  onAccept(have: Array<{ f: number; r: ByteRanges }>, done: number[]): void {
    this.accepted = true;
    this.active = true;
    for (const { f: index, r } of have) {
      const f = this.files[index];
      if (!f || f.status !== "pending") continue;
      for (const [start, end] of r) {
        for (let b = Math.ceil(start / this.blockSize); b < f.blocks; b++) {
          if (Math.min((b + 1) * this.blockSize, f.spec.size) > end) break;
          if (this.markAcked(f, b)) this.maybeRelease(index, Math.floor(b / this.chunkBlocks));
        }
      }
    }
    for (const index of done) this.onFileOk(index);
    this.pumpReads();
  }

  private markAcked(f: SendFile, block: number): boolean {
    if (!f.acked.set(block)) return false;
    const c = Math.floor(block / this.chunkBlocks);
    f.ackedPerChunk[c] = f.ackedPerChunk[c]! + 1;
    this.bytesAcked += this.blockLength(f, block);
    return true;
  }

  private blockLength(f: SendFile, block: number): number {
    return Math.min(this.blockSize, f.spec.size - block * this.blockSize);
  }

  private chunkBlockCount(f: SendFile, chunk: number): number {
    return Math.min(this.chunkBlocks, f.blocks - chunk * this.chunkBlocks);
  }

  private getChunk(file: number, chunk: number): Uint8Array | undefined {
    return this.chunks.get(file)?.get(chunk);
  }

  private request(file: number, chunk: number, newData: boolean): void {
    const key = `${file}:${chunk}`;
    if (this.pendingReads.has(key) || this.getChunk(file, chunk)) return;
    const f = this.files[file]!;
    const offset = chunk * this.chunkBlocks * this.blockSize;
    const length = Math.min(this.chunkBlocks * this.blockSize, f.spec.size - offset);
    this.pendingReads.add(key);
    this.bufferedBytes += length;
    if (newData) {
      this.aheadChunks.set(key, length);
      this.aheadBytes += length;
    }
    this.sink.requestRead(this, { file, offset, length });
  }

  /** The chunk's data is no longer waiting to be sent for the first time. */
  private leaveAhead(key: string): void {
    const length = this.aheadChunks.get(key);
    if (length === undefined) return;
    this.aheadChunks.delete(key);
    this.aheadBytes -= length;
  }

  /** Reads ahead in file order while the read budget allows. */
  pumpReads(): void {
    if (!this.active) return;
    const budget = this.readBudget();
    while (
      this.aheadBytes < budget.ahead &&
      this.bufferedBytes < budget.hold &&
      this.readFile < this.files.length
    ) {
      const f = this.files[this.readFile]!;
      const chunks = f.ackedPerChunk.length;
      if (f.status !== "pending" || this.readChunk >= chunks) {
        this.readFile++;
        this.readChunk = 0;
        continue;
      }
      const c = this.readChunk++;
      // A chunk already acknowledged and hashed needs no read.
      if (c < f.hashChunk && f.ackedPerChunk[c] === this.chunkBlockCount(f, c)) continue;
      this.request(this.readFile, c, true);
    }
  }

  /** A read finished. Data must be exactly the requested range. */
  onRead(file: number, offset: number, data: Uint8Array): void {
    const chunk = Math.floor(offset / (this.chunkBlocks * this.blockSize));
    const key = `${file}:${chunk}`;
    if (!this.pendingReads.delete(key)) return; // stale (reset since)
    const f = this.files[file]!;
    const expected = Math.min(this.chunkBlocks * this.blockSize, f.spec.size - offset);
    this.bufferedBytes -= expected;
    if (f.status !== "pending" || data.length !== expected) {
      this.leaveAhead(key);
      return;
    }
    let map = this.chunks.get(file);
    if (!map) this.chunks.set(file, (map = new Map()));
    map.set(chunk, data);
    this.bufferedBytes += data.length;
    this.advanceHash(file);
    this.maybeRelease(file, chunk);
    this.pumpReads();
  }

  private advanceHash(file: number): void {
    const f = this.files[file]!;
    const chunks = f.ackedPerChunk.length;
    while (f.hashChunk < chunks) {
      const data = this.getChunk(file, f.hashChunk);
      if (!data) return;
      f.hash.update(data);
      const done = f.hashChunk++;
      this.maybeRelease(file, done);
    }
    if (f.sha256 === null) this.finishHash(file);
  }

  private finishHash(file: number): void {
    const f = this.files[file]!;
    f.sha256 = f.hash.digest("hex");
    this.sink.sendControl({ t: "fileEnd", n: this.n, f: file, sha256: f.sha256 });
  }

  private maybeRelease(file: number, chunk: number): void {
    const f = this.files[file]!;
    if (chunk >= f.hashChunk || f.ackedPerChunk[chunk] !== this.chunkBlockCount(f, chunk)) return;
    const map = this.chunks.get(file);
    const data = map?.get(chunk);
    if (!map || !data) return;
    map.delete(chunk);
    this.bufferedBytes -= data.length;
    this.leaveAhead(`${file}:${chunk}`);
    if (map.size === 0) this.chunks.delete(file);
  }

  private dropChunks(file: number): void {
    const map = this.chunks.get(file);
    if (map) for (const d of map.values()) this.bufferedBytes -= d.length;
    this.chunks.delete(file);
    for (const key of [...this.pendingReads]) {
      if (key.startsWith(`${file}:`)) this.pendingReads.delete(key);
    }
    for (const key of [...this.aheadChunks.keys()]) {
      if (key.startsWith(`${file}:`)) this.leaveAhead(key);
    }
  }

  /** The next retransmission whose data is at hand, dropping stale entries. */
  private peekRetransmit(): [number, number] | null {
    while (this.retransmitHead < this.retransmitQueue.length) {
      const file = this.retransmitQueue[this.retransmitHead]!;
      const block = this.retransmitQueue[this.retransmitHead + 1]!;
      const f = this.files[file]!;
      if (f.status !== "pending" || block >= f.blocks || f.acked.has(block)) {
        this.retransmitHead += 2;
        continue;
      }
      const chunk = Math.floor(block / this.chunkBlocks);
      if (!this.getChunk(file, chunk)) {
        this.request(file, chunk, false);
        return null;
      }
      return [file, block];
    }
    if (this.retransmitHead > 0) {
      this.retransmitQueue = [];
      this.retransmitHead = 0;
    }
    return null;
  }

  /** The next new block whose data is at hand; moves the cursor past finished files and acked blocks. */
  private peekNew(): [number, number] | null {
    while (this.curFile < this.files.length) {
      const f = this.files[this.curFile]!;
      const b = f.status === "pending" ? f.acked.nextClear(this.curBlock) : -1;
      if (b < 0) {
        this.curFile++;
        this.curBlock = 0;
        continue;
      }
      this.curBlock = b;
      const chunk = Math.floor(b / this.chunkBlocks);
      if (!this.getChunk(this.curFile, chunk)) {
        this.request(this.curFile, chunk, true);
        return null;
      }
      return [this.curFile, b];
    }
    return null;
  }

  hasData(): boolean {
    if (!this.active) return false;
    return this.peekRetransmit() !== null || this.peekNew() !== null;
  }

  /** Every block went out at least once (the new-data cursor is past the last file). */
  private allSentOnce(): boolean {
    return this.peekNew() === null && this.curFile >= this.files.length;
  }

  /** An end-game copy could be sent (only when hasData is false). */
  hasEndgameData(): boolean {
    return this.active && this.peekEndgame() !== null;
  }

  private peekEndgame(): [number, number] | null {
    if (this.retransmitHead < this.retransmitQueue.length || !this.allSentOnce()) return null;
    return this.endgame.peek(this);
  }

  /** For the end-game: the block's chunk is in memory. */
  hasBlockData(file: number, block: number): boolean {
    return this.getChunk(file, Math.floor(block / this.chunkBlocks)) !== undefined;
  }

  /**
   * The newest block sent and not yet acknowledged whose data is still in memory, looking back at
   * most PROBE_SCAN_BLOCKS from the newest block sent; null when there is none.
   */
  private newestUnacked(): [number, number] | null {
    let file = Math.min(this.curFile, this.files.length - 1);
    let block = file === this.curFile ? this.curBlock - 1 : (this.files[file]?.blocks ?? 0) - 1;
    for (let scanned = 0; file >= 0 && scanned < PROBE_SCAN_BLOCKS; scanned++) {
      const f = this.files[file]!;
      if (block < 0 || f.status !== "pending") {
        file--;
        block = (this.files[file]?.blocks ?? 0) - 1;
        continue;
      }
      if (f.sent.has(block) && !f.acked.has(block) && this.hasBlockData(file, block)) return [file, block];
      block--;
    }
    return null;
  }

  /**
   * Writes the next block as a DATA frame; returns [end position, was a retransmission], or null.
   * `room` must fit a whole block plus the frame header. `mode` "endgame": only an end-game copy;
   * "probe": only a copy of the newest unacknowledged block, for a probe-timeout packet (which
   * otherwise carries a bare PING, and a lost last block would cost another round trip).
   */
  writeNext(
    buf: Uint8Array,
    pos: number,
    mode: "next" | "endgame" | "probe" = "next",
  ): { end: number; file: number; block: number; retransmission: boolean } | null {
    if (!this.active) return null;
    let next: [number, number] | null;
    let fromQueue = true;
    if (mode === "endgame") {
      next = this.peekEndgame();
      if (!next) return null;
      this.endgame.onCopySent(next[1]);
    } else if (mode === "probe") {
      next = this.newestUnacked();
      if (!next) return null;
    } else if ((next = this.peekRetransmit())) this.retransmitHead += 2;
    else {
      next = this.peekNew();
      fromQueue = false;
      if (!next) return null;
      this.curBlock = next[1] + 1;
    }
    const [file, block] = next;
    const f = this.files[file]!;
    const chunk = Math.floor(block / this.chunkBlocks);
    const data = this.getChunk(file, chunk)!;
    const start = (block - chunk * this.chunkBlocks) * this.blockSize;
    const len = this.blockLength(f, block);
    const end = writeDataFrame(buf, pos, {
      transfer: this.n,
      file,
      offset: block * this.blockSize,
      data: data.subarray(start, start + len),
    });
    if (!fromQueue && (chunk !== this.newDataChunk || file !== this.newDataFile)) {
      // the first new block from this chunk: it no longer counts as read ahead
      this.newDataFile = file;
      this.newDataChunk = chunk;
      this.leaveAhead(`${file}:${chunk}`);
    }
    const retransmission = fromQueue || !f.sent.set(block);
    this.bytesSent += len;
    this.blocksSent++;
    this.frameBytesSent += end - pos;
    if (retransmission) {
      this.bytesRetransmitted += len;
      this.blocksRetransmitted++;
    }
    return { end, file, block, retransmission };
  }

  onBlockAcked(file: number, block: number): void {
    const f = this.files[file];
    if (!f || f.status !== "pending" || block >= f.blocks) return;
    if (this.markAcked(f, block)) {
      this.maybeRelease(file, Math.floor(block / this.chunkBlocks));
      this.pumpReads();
    }
  }

  onBlockLost(file: number, block: number): void {
    const f = this.files[file];
    if (!f || f.status !== "pending" || block >= f.blocks || f.acked.has(block)) return;
    this.endgame.blocksLost++;
    this.retransmitQueue.push(file, block);
    if (this.allSentOnce() && this.endgame.repeat()) this.retransmitQueue.push(file, block);
  }

  onFileOk(file: number): void {
    const f = this.files[file];
    if (!f || f.status !== "pending") return;
    f.status = "ok";
    for (let b = 0; b < f.blocks; b++) this.markAcked(f, b);
    this.dropChunks(file);
  }

  onFileFailed(file: number, code: string, message: string): void {
    const f = this.files[file];
    if (!f || f.status !== "pending") return;
    f.status = "failed";
    f.errorCode = code;
    f.errorMessage = message;
    this.dropChunks(file);
  }

  /** The receiver's hash differed: send the whole file again, read afresh. */
  onFileRetry(file: number): void {
    const f = this.files[file];
    if (!f || f.status !== "pending") return;
    this.bytesAcked -= f.spec.size - this.unackedBytes(f);
    f.acked.clearAll();
    f.ackedPerChunk.fill(0);
    this.dropChunks(file);
    this.newDataFile = -1;
    this.endgame.reset();
    this.resetHash(f);
    if (this.curFile > file) {
      this.curFile = file;
      this.curBlock = 0;
    } else if (this.curFile === file) this.curBlock = 0;
    if (this.readFile >= file) {
      this.readFile = file;
      this.readChunk = 0;
    }
    if (f.blocks === 0) this.finishHash(file);
    this.pumpReads();
  }

  private unackedBytes(f: SendFile): number {
    let bytes = 0;
    for (let b = 0; b < f.blocks; b++) if (!f.acked.has(b)) bytes += this.blockLength(f, b);
    return bytes;
  }

  /** A source file could not be read: it fails, the others go on. */
  onReadFailed(file: number, code: string, message: string): void {
    this.onFileFailed(file, code, message);
  }

  /** Pending reads and cached chunks are dropped (transfer paused or ended). */
  release(): void {
    this.chunks.clear();
    this.pendingReads.clear();
    this.aheadChunks.clear();
    this.aheadBytes = 0;
    this.newDataFile = -1;
    this.bufferedBytes = 0;
    this.accepted = false;
    this.active = false;
  }
}
