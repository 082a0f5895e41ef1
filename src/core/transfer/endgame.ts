/**
 * The end-game of a transfer, once every block went out: retransmissions go out twice, and the
 * newest unacknowledged blocks get a second copy, newest first.
 *
 * Why: a loss is found about one RTT after the lost packet left (when the ACKs of the packets
 * after it come back), so a block lost in the last RTT, or a retransmission lost after the last
 * new block, adds up to a whole RTT to the transfer, and the link is otherwise idle meanwhile.
 * - A retransmission sent then is lost with the path's loss rate, which costs another RTT: a
 *   second copy makes that a loss of both. Worth about loss rate × RTT per copy.
 * - A copy of the block sent j packets before the last one leaves j packets after it, while the
 *   ACK clock reveals that block's fate only about RTT − j after it: copies help until the two
 *   meet, at the newest half of the flight, where the scan stops (at the first acknowledged block
 *   it meets). Each copy shortens the tail by about one packet's transmission time: cheap
 *   insurance, but less per copy, so it takes at most NEWEST_COPY_SHARE and leaves the rest to
 *   the repeats.
 * Copies are bounded by the losses so far: a clean path gets none, and retransmissions stay
 * within (1 + ENDGAME_LOSS_SHARE) × the losses plus spurious ones.
 */

/** end-game copies per block lost so far in the transfer */
export const ENDGAME_LOSS_SHARE = 0.25;
/** of that, newest-first copies take at most this much: the rest is kept for repeats */
export const NEWEST_COPY_SHARE = 0.2;

/** What the end-game needs to know about the transfer's files. */
export interface EndgameFiles {
  readonly files: ReadonlyArray<{
    readonly blocks: number;
    readonly status: string;
    readonly acked: { has(block: number): boolean };
  }>;
  /** true when the block's data is in memory (it always is for a block sent and unacknowledged) */
  hasBlockData(file: number, block: number): boolean;
}

export class Endgame {
  /** blocks declared lost over the transfer's life: the budget */
  blocksLost = 0;
  /** end-game copies sent */
  copiesSent = 0;
  private file = -1;
  private block = -1;
  private done = false;

  /** Starts over (new connection, or a file sent again from the start). */
  reset(): void {
    this.file = -1;
    this.block = -1;
    this.done = false;
  }

  private budgetLeft(share: number): boolean {
    return this.copiesSent < Math.floor(this.blocksLost * share);
  }

  /** A retransmission after every block went out: true when it should go out twice. */
  repeat(): boolean {
    if (!this.budgetLeft(ENDGAME_LOSS_SHARE)) return false;
    this.copiesSent++;
    return true;
  }

  /** The next block to copy, newest first, or null; call only when nothing else is left to send. */
  peek(t: EndgameFiles): [number, number] | null {
    if (this.done || !this.budgetLeft(NEWEST_COPY_SHARE)) return null;
    if (this.file < 0) {
      this.file = t.files.length - 1;
      this.block = (t.files[this.file]?.blocks ?? 0) - 1;
    }
    while (this.file >= 0) {
      const f = t.files[this.file]!;
      if (this.block < 0 || f.status === "failed") {
        this.file--;
        this.block = (t.files[this.file]?.blocks ?? 0) - 1;
        continue;
      }
      // the ACK clock got here first: copies further back would arrive after it reveals losses
      if (f.status !== "pending" || f.acked.has(this.block) || !t.hasBlockData(this.file, this.block)) break;
      return [this.file, this.block];
    }
    this.done = true;
    return null;
  }

  /** The block from `peek` went out. */
  onCopySent(block: number): void {
    this.copiesSent++;
    this.block = block - 1;
  }
}
