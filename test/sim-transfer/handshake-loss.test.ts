/**
 * A lost handshake packet costs one handshake retry (1 s), never a peer timeout: the encrypted
 * and the plain handshake, losing the first Initial, the first reply, or the first packets after
 * it, on a 200 ms path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer, type SimScenario } from "../../src/sim/transfer/run-transfer.js";

const dropNth = (drops: readonly number[]): NonNullable<SimScenario["middlebox"]> => {
  let i = 0;
  return (d) => (drops.includes(i++) ? [] : [d]);
};

const cases: Array<[string, Partial<SimScenario>]> = [
  ["no loss", {}],
  ["the first Initial", { middlebox: dropNth([0]) }],
  ["the first reply", { reverseMiddlebox: dropNth([0]) }],
  ["the first Initial and its retry", { middlebox: dropNth([0, 1]) }],
  ["the first two packets back", { reverseMiddlebox: dropNth([0, 1]) }],
  ["the first packets after the handshake", { middlebox: dropNth([1, 2, 3]) }],
];

for (const encrypted of [true, false]) {
  for (const [what, extra] of cases) {
    test(`${encrypted ? "encrypted" : "plain"}: losing ${what} delays the transfer by retries, not a timeout`, () => {
      const r = runSimTransfer({
        seed: 7,
        rateMbit: 100,
        rttMs: 200,
        files: [{ path: "f", size: 4 << 20 }],
        timeLimitS: 60,
        ...(encrypted ? { encryption: {} } : {}),
        ...extra,
      });
      assert.equal(r.outcome, "complete", r.senderError?.message);
      assert.equal(r.filesMismatched, 0);
      // 4 MiB at 100 Mbit/s with start-up takes about 1.5 s; each lost handshake packet adds the
      // 1 s (then 2 s) retry; a peer timeout (15 s) would be far beyond this
      assert.ok(r.duration < 6e6, `took ${(r.duration / 1e6).toFixed(2)} s`);
    });
  }
}
