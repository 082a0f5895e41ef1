/**
 * Blocks that arrive while the receiver is still deciding on a transfer (creating directories,
 * checking a receive token) are held and acknowledged, up to EARLY_DATA_LIMIT, and written once
 * the transfer is accepted: the first round of a transfer is not lost and sent again.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer } from "../../src/sim/transfer/run-transfer.js";

const MIB = 1024 * 1024;

test("a 40 ms decision on a lossless path: nothing lost, nothing sent twice, file identical", () => {
  const r = runSimTransfer({
    seed: 11,
    rateMbit: 100,
    rttMs: 50,
    lossPct: 0,
    queueBdp: 2,
    method: "fixed",
    sendRateMbit: 80,
    decisionDelayMs: 40,
    files: [{ path: "f", size: 8 * MIB }],
    verifySource: true,
  });
  assert.equal(r.outcome, "complete");
  assert.equal(r.packetsLost, 0);
  assert.equal(r.bytesRetransmitted, 0);
});

test("a decision slower than the early-data limit: the excess is dropped and resent, file identical", () => {
  const r = runSimTransfer({
    seed: 12,
    rateMbit: 1000,
    rttMs: 20,
    lossPct: 0,
    queueBdp: 2,
    method: "fixed",
    sendRateMbit: 800,
    decisionDelayMs: 300,
    files: [
      { path: "a", size: 24 * MIB },
      { path: "b", size: 3 * MIB },
    ],
    verifySource: true,
  });
  assert.equal(r.outcome, "complete");
  // more than EARLY_DATA_LIMIT arrived before the decision: the rest was not acknowledged
  assert.ok(r.packetsLost > 0, "the limit was reached");
});
