/**
 * The end-game of a send transfer (src/core/transfer/endgame.ts): once every block went out,
 * a retransmission goes out twice and the newest unacknowledged blocks get a second copy, newest
 * first, up to the first acknowledged block; both bounded by the losses so far.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SendTransfer, type ReadRequest } from "../../../src/core/transfer/send-transfer.js";
import { ENDGAME_LOSS_SHARE, NEWEST_COPY_SHARE } from "../../../src/core/transfer/endgame.js";

const BLOCK = 1000;
const BLOCKS = 100;

/** A one-file transfer of BLOCKS blocks whose data is in memory. */
function transfer(): SendTransfer {
  const reads: ReadRequest[] = [];
  const t = new SendTransfer(
    {
      id: "e".repeat(32),
      destinationPath: "",
      overwrite: "always",
      files: [{ path: "f.bin", size: BLOCK * BLOCKS, mtime: 1 }],
    },
    { sendControl: () => undefined, requestRead: (_t, r) => reads.push(r) },
    () => ({ ahead: 1 << 24, hold: 1 << 24 }),
  );
  t.announce(1, BLOCK);
  for (const r of reads.splice(0)) t.onRead(r.file, r.offset, new Uint8Array(r.length));
  return t;
}

const buf = new Uint8Array(2 * BLOCK);

/** Sends up to `n` blocks; returns [block, retransmission] of each. */
function send(t: SendTransfer, n: number, endgame = false): Array<[number, boolean]> {
  const out: Array<[number, boolean]> = [];
  for (let i = 0; i < n; i++) {
    const r = t.writeNext(buf, 0, endgame ? "endgame" : "next");
    if (!r) break;
    out.push([r.block, r.retransmission]);
  }
  return out;
}

function blocks(sent: Array<[number, boolean]>): number[] {
  return sent.map(([b]) => b);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/**
 * Sends blocks 0–49, loses `lost` of them (before everything went out: retransmitted once), sends
 * the retransmissions and blocks 50–99, then acknowledges every block below `unackedFrom`.
 */
function tail(lost: number, unackedFrom: number): SendTransfer {
  const t = transfer();
  assert.deepEqual(blocks(send(t, 50)), range(0, 50));
  for (const b of range(0, lost)) t.onBlockLost(0, b);
  const sent = send(t, 200);
  assert.deepEqual(blocks(sent), [...range(0, lost), ...range(50, BLOCKS)], "each loss is sent once");
  for (const b of range(0, unackedFrom)) t.onBlockAcked(0, b);
  assert.equal(t.hasData(), false);
  return t;
}

test("a clean transfer sends no end-game copies", () => {
  const t = transfer();
  assert.equal(send(t, 200).length, BLOCKS);
  for (const b of range(0, 60)) t.onBlockAcked(0, b);
  assert.equal(t.hasEndgameData(), false);
  assert.deepEqual(send(t, 10, true), []);
  assert.equal(t.bytesRetransmitted, 0);
});

test("end-game copies go newest first, at most NEWEST_COPY_SHARE of the losses so far", () => {
  const t = tail(20, 60);
  const budget = Math.floor(20 * NEWEST_COPY_SHARE);
  assert.ok(budget > 0 && budget < 40);
  assert.equal(t.hasEndgameData(), true);
  const copies = send(t, 100, true);
  assert.deepEqual(blocks(copies), range(BLOCKS - budget, BLOCKS).reverse());
  assert.ok(copies.every(([, retransmission]) => retransmission));
  assert.equal(t.hasEndgameData(), false);
});

test("end-game copies stop at the first acknowledged block (the ACK clock got there first)", () => {
  const t = tail(40, 94); // a budget of 8 copies, 6 blocks unacknowledged
  assert.deepEqual(blocks(send(t, 100, true)), range(94, BLOCKS).reverse());
  t.onBlockLost(0, 80); // acknowledged already: nothing to do
  assert.deepEqual(send(t, 10, true), []);
});

test("end-game copies wait while a retransmission is due, and never come from writeNext without the flag", () => {
  const t = tail(20, 60);
  t.onBlockLost(0, 70);
  assert.equal(t.hasData(), true);
  assert.equal(t.hasEndgameData(), false);
  assert.deepEqual(send(t, 10, true), []);
  assert.deepEqual(blocks(send(t, 10)), [70, 70], "the retransmission goes out twice");
  assert.deepEqual(send(t, 10), []);
  assert.equal(blocks(send(t, 10, true))[0], 99);
});

test("after every block went out, a retransmission goes out twice while the budget lasts", () => {
  const t = tail(12, 60);
  // the newest-first copies take their share (2 of 12 × 0.2); the repeats get the rest of 12 × 0.25
  assert.deepEqual(blocks(send(t, 100, true)), [99, 98]);
  t.onBlockLost(0, 61); // 13 losses: 3 copies allowed, 2 sent
  t.onBlockLost(0, 62); // 14 losses: still 3
  assert.deepEqual(blocks(send(t, 10)), [61, 61, 62]);
  assert.equal(t.endgame.copiesSent, Math.floor(14 * ENDGAME_LOSS_SHARE));
  assert.ok(t.bytesRetransmitted <= (1 + ENDGAME_LOSS_SHARE) * t.endgame.blocksLost * BLOCK);
});
