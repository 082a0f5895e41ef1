/**
 * The end-game (src/core/transfer/endgame.ts) in a whole transfer: a loss after the last new
 * block costs no extra round trip when an earlier loss left budget for copies. Without it, the
 * final block lost waits for a probe timeout and its round trip, and a retransmission lost in the
 * tail for another RTT; either ends the transfer about 2 RTT or more after the last new block.
 * Fixed rate (50 Mbit/s on 100 Mbit/s, 40 ms), so no queue and the send times are known.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer, type SimScenario } from "../../src/sim/transfer/run-transfer.js";
import { Connection } from "../../src/core/transport/connection.js";
import { HEADER_SIZE, parseHeader } from "../../src/core/wire/packet.js";
import { ChecksumProtection } from "../../src/core/wire/protection.js";
import { decodeFrames, FrameType } from "../../src/core/wire/frames.js";

const RTT_MS = 40;
const RATE_MBIT = 50;
const DATAGRAM = 1400;
const SIZE = 2 << 20;
const BLOCK = Connection.blockSizeFor(DATAGRAM);
const LAST = Math.ceil(SIZE / BLOCK) - 1;
/** blocks sent per RTT at the fixed rate */
const PER_RTT = (RTT_MS * 1000 * RATE_MBIT) / (DATAGRAM * 8);
/** blocks 100–111 are lost once each, early on: the budget for end-game copies */
const EARLY_LOSSES = Array.from({ length: 12 }, (_, i) => 100 + i);

/** The block a datagram from the sender carries, or -1. */
function blockOf(datagram: Uint8Array): number {
  const h = parseHeader(datagram);
  if (!h.ok) return -1;
  const payload = new ChecksumProtection().open(datagram, HEADER_SIZE, h.header.packetNumber);
  if (payload === null) return -1;
  for (const f of decodeFrames(payload)) if (f.type === FrameType.Data) return f.offset / BLOCK;
  return -1;
}

/** True for a datagram from the sender that carries control-stream data (a transfer announcement first). */
function carriesControl(datagram: Uint8Array): boolean {
  const h = parseHeader(datagram);
  if (!h.ok) return false;
  const payload = new ChecksumProtection().open(datagram, HEADER_SIZE, h.header.packetNumber);
  return payload !== null && decodeFrames(payload).some((f) => f.type === FrameType.Control);
}

/**
 * Runs the transfer dropping the first `drops.get(b)` copies of block b; returns how long after
 * the last new block first went out the transfer completed, in RTTs.
 */
function tailAfterLastBlock(drops: Map<number, number>): number {
  const seen = new Map<number, number>();
  let lastNewAt = -1;
  const middlebox: NonNullable<SimScenario["middlebox"]> = (datagram, now) => {
    const b = blockOf(datagram);
    if (b < 0) return [datagram];
    const copy = (seen.get(b) ?? 0) + 1;
    seen.set(b, copy);
    if (b === LAST && copy === 1) lastNewAt = now;
    return copy <= (drops.get(b) ?? 0) ? [] : [datagram];
  };
  const r = runSimTransfer({
    seed: 1,
    rateMbit: 100,
    rttMs: RTT_MS,
    method: "fixed",
    sendRateMbit: RATE_MBIT,
    datagramSize: DATAGRAM,
    files: [{ size: SIZE }],
    verifySource: true,
    timeLimitS: 30,
    middlebox,
  });
  assert.equal(r.outcome, "complete", r.senderError?.message);
  assert.equal(r.filesVerified, 1);
  assert.ok(lastNewAt > 0);
  // bounded: copies at most a quarter of the losses
  assert.ok(r.bytesRetransmitted <= 1.25 * r.packetsLost * BLOCK + BLOCK);
  return (r.duration - lastNewAt) / (RTT_MS * 1000);
}

/** a probe carrying the block: the probe timeout, then one round trip (2.08 RTT; 3.08 with a bare PING) */
const PROBE_TAIL_LIMIT_RTT = 2.6;

const early = (): Map<number, number> => new Map(EARLY_LOSSES.map((b) => [b, 1]));

test("baseline: with only early losses the transfer ends one RTT after the last new block", () => {
  const tail = tailAfterLastBlock(early());
  assert.ok(tail > 0.95 && tail < 1.1, `tail ${tail.toFixed(2)} RTT`);
});

test("the final block lost: its end-game copy arrives, no probe timeout", () => {
  const tail = tailAfterLastBlock(early().set(LAST, 1));
  assert.ok(tail < 1.3, `tail ${tail.toFixed(2)} RTT`);
});

test("a retransmission lost after the last new block: its second copy arrives, no extra RTT", () => {
  // sent 3/4 RTT before the last new block: found lost 1/4 RTT after it, when every block went out
  const block = LAST - Math.round(0.75 * PER_RTT);
  const tail = tailAfterLastBlock(early().set(block, 2));
  assert.ok(tail < 1.5, `tail ${tail.toFixed(2)} RTT`);
});

test("the final block lost with no budget for copies: the probe-timeout packet carries it", () => {
  const tail = tailAfterLastBlock(new Map([[LAST, 1]]));
  // a probe of a bare PING would need its round trip first, then the retransmission's
  assert.ok(tail < PROBE_TAIL_LIMIT_RTT, `tail ${tail.toFixed(2)} RTT`);
});

test("a lost transfer announcement is sent again some packets later, not after a probe timeout", () => {
  const run = (dropAnnouncement: boolean) => {
    let dropped = false;
    const r = runSimTransfer({
      seed: 1,
      rateMbit: 100,
      rttMs: 100,
      method: "fixed",
      sendRateMbit: 50,
      datagramSize: DATAGRAM,
      files: [{ size: SIZE }],
      verifySource: true,
      timeLimitS: 30,
      middlebox: (datagram) => {
        if (!dropAnnouncement || dropped || !carriesControl(datagram)) return [datagram];
        dropped = true;
        return [];
      },
    });
    assert.equal(r.outcome, "complete", r.senderError?.message);
    assert.equal(r.filesVerified, 1);
    assert.equal(dropped, dropAnnouncement);
    return r.duration;
  };
  const delay = (run(true) - run(false)) / 100_000;
  // the copy leaves 16 packets (3.6 ms at 50 Mbit/s) after the original; the data sent before it
  // is found lost by the ACKs that follow and resent: well under one RTT in all
  assert.ok(delay < 0.5, `a lost announcement cost ${delay.toFixed(2)} RTT`);
});
