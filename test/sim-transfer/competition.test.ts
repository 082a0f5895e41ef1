import { test } from "node:test";
import assert from "node:assert/strict";
import { runCompetition } from "../../src/sim/transfer/competition.js";

const path = { rateMbit: 100, rttMs: 40, durationS: 60, measureFromS: 20 };

test("fair: two Slipstream flows and one TCP CUBIC flow share a bottleneck fairly", () => {
  const r = runCompetition({
    seed: "fair",
    ...path,
    flows: [
      { kind: "slipstream", method: "fair" },
      { kind: "slipstream", method: "fair" },
      { kind: "tcp", algorithm: "cubic" },
    ],
  });
  assert.ok(r.jain >= 0.9, `Jain index ${r.jain.toFixed(3)}, shares ${r.shares.map((x) => x.toFixed(2))}`);
  assert.ok(r.utilization > 0.85, `utilization ${r.utilization.toFixed(3)}`);
});

test("background leaves at least 80 % of the link to a competing TCP flow", () => {
  const r = runCompetition({
    seed: "background",
    ...path,
    flows: [
      { kind: "slipstream", method: "background" },
      { kind: "tcp", algorithm: "cubic" },
    ],
  });
  assert.ok(r.shares[1]! >= 0.8, `TCP got ${r.shares[1]!.toFixed(3)} of the link`);
  assert.ok(r.shares[0]! < 0.1, `background took ${r.shares[0]!.toFixed(3)}`);
});

test("background uses the link when it is alone", () => {
  const r = runCompetition({
    seed: "alone",
    ...path,
    durationS: 20,
    measureFromS: 10,
    flows: [{ kind: "slipstream", method: "background" }],
  });
  assert.ok(r.utilization > 0.85, `utilization ${r.utilization.toFixed(3)}`);
});
