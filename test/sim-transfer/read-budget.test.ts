/**
 * The sender's read budget: file data held (read ahead, in flight, waiting for retransmission)
 * stays within twice the largest window so far (or the 16 MiB floor), plus one chunk being read;
 * new data is read only 50 ms of pacing ahead of the send cursor, so a window that is not used
 * (flow control, a start-up window sized from a high start rate) does not fill memory.
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

test("read-ahead follows the pacing rate, not an unused window (receiver window 4 MiB, start rate 2.5 Gbit/s)", () => {
  const r = runSimTransfer({
    seed: 5,
    rateMbit: 1000,
    rttMs: 100,
    lossPct: 1,
    queueBdp: 1,
    sendRateMbit: 2500,
    receiveBufferMiB: 4,
    files: [{ path: "f", size: 128 * MIB }],
    sampleEveryMs: 5,
    timeLimitS: 120,
  });
  assert.equal(r.outcome, "complete");
  let fastestPacing = 0;
  let largestWindow = 0;
  let highest = 0;
  for (const s of r.samples) {
    fastestPacing = Math.max(fastestPacing, s.pacingRate);
    largestWindow = Math.max(largestWindow, s.window);
    const aheadAllowed = Math.max(4 * MIB, fastestPacing * 0.05) + 512 * 1024;
    assert.ok(s.senderAhead <= aheadAllowed, `${s.senderAhead} bytes read ahead (allowed ${aheadAllowed})`);
    highest = Math.max(highest, s.senderBuffered);
  }
  // the window (start rate × RTT × gain) is far larger than what the receiver lets fly
  assert.ok(largestWindow > 40 * MIB, `window ${largestWindow}`);
  // in flight ≤ 4 MiB, read ahead ≤ 50 ms at 2.5 Gbit/s (15 MiB), and blocks awaiting retransmission
  assert.ok(highest <= 28 * MIB, `${highest} bytes held (2 × window would allow ${2 * largestWindow})`);
});
