/**
 * The sender's read budget follows its congestion window: file data held (read ahead, in flight,
 * waiting for retransmission) stays within twice the largest window so far (or the 16 MiB floor),
 * plus one chunk being read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer } from "../../src/sim/transfer/run-transfer.js";

const MIB = 1024 * 1024;

for (const [rateMbit, rttMs, lossPct] of [
  [1000, 100, 1],
  [200, 300, 3],
] as const) {
  test(`${rateMbit} Mbit/s, ${rttMs} ms, ${lossPct} %: sender memory stays within 2 × the window`, () => {
    const r = runSimTransfer({
      seed: 3,
      rateMbit,
      rttMs,
      lossPct,
      queueBdp: 2,
      files: [{ path: "f", size: 192 * MIB }],
      sampleEveryMs: 10,
      timeLimitS: 120,
    });
    assert.equal(r.outcome, "complete");
    let largestWindow = 0;
    let highest = 0;
    for (const s of r.samples) {
      largestWindow = Math.max(largestWindow, s.window);
      // windows are sampled every 10 ms and may peak between samples: 5 % and two chunks of slack
      const allowed = Math.max(16 * MIB, 2.1 * largestWindow) + 512 * 1024;
      assert.ok(
        s.senderBuffered <= allowed,
        `${s.senderBuffered} bytes held at ${s.t / 1e3} ms (allowed ${allowed})`,
      );
      highest = Math.max(highest, s.senderBuffered);
    }
    assert.ok(highest > 16 * MIB, `the budget was exercised (highest ${highest} bytes)`);
  });
}
