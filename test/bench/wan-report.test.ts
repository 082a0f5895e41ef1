import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ceilingMbit,
  formatTable,
  median,
  summarize,
  verifyPath,
  type FlowMeasurement,
  type SystemName,
} from "../../bench/wan/report.js";
import { expandProfiles, parseProfile } from "../../bench/wan/profiles.js";
import { bytesAt } from "../../bench/wan/flows.js";
import { goodputChart } from "../../bench/wan/chart.js";

const target = { rateMbit: 200, rttMs: 100, lossPct: 1 };

function flow(
  system: SystemName,
  goodputMbit: number,
  extra: Partial<FlowMeasurement> = {},
): FlowMeasurement {
  return {
    system,
    verifiedBytes: 1,
    seconds: 1,
    goodputMbit,
    capped: false,
    retransmitRatio: 0.01,
    cpuSender: 0.5,
    cpuReceiver: 0.25,
    payloadPerPacket: 1448,
    wirePerPacket: 1514,
    ...extra,
  };
}

test("median of odd and even counts, NaN when empty", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test("ceiling is C × (1 − p) × payload/wire", () => {
  assert.equal(ceilingMbit(1000, 0, 1, 1), 1000);
  assert.ok(Math.abs(ceilingMbit(1000, 1, 1341, 1442) - 1000 * 0.99 * (1341 / 1442)) < 1e-9);
  assert.ok(Math.abs(ceilingMbit(200, 3, 1448, 1514) - 200 * 0.97 * (1448 / 1514)) < 1e-9);
});

test("a path within tolerance is accepted", () => {
  const v = verifyPath(target, {
    rttsMs: [100.8, 101.1, 101.0],
    lossProbeSent: 40000,
    lossProbeLost: 410,
    rateMbit: 197,
  });
  assert.equal(v.ok, true, v.problems.join("; "));
  assert.equal(v.rttMs, 101.0);
  assert.ok(Math.abs(v.lossPct - 1.025) < 1e-9);
});

test("a path that is off is refused, saying by how much", () => {
  const v = verifyPath(target, {
    rttsMs: [104, 104, 104],
    lossProbeSent: 40000,
    lossProbeLost: 2000,
    rateMbit: 150,
  });
  assert.equal(v.ok, false);
  assert.equal(v.problems.length, 3);
  assert.match(v.problems[0]!, /RTT 104\.00 ms, target 100 ms \(\+4\.0 %/);
  assert.match(v.problems[1]!, /loss 5\.000 %, target 1 % \(off by 4\.000 points/);
  assert.match(v.problems[2]!, /rate 150\.0 Mbit\/s, target 200 \(-25\.0 %/);
});

test("loss tolerance: 0 % allows 0.05 points; small samples widen by the standard error", () => {
  const zero = { ...target, lossPct: 0 };
  const base = { rttsMs: [100.5], rateMbit: 200 };
  assert.equal(verifyPath(zero, { ...base, lossProbeSent: 10000, lossProbeLost: 4 }).ok, true);
  assert.equal(verifyPath(zero, { ...base, lossProbeSent: 10000, lossProbeLost: 10 }).ok, false);
  // 0.1 % over 20 000 probes: 20 expected, 3 standard errors ≈ 0.067 points
  const small = { ...target, lossPct: 0.1 };
  assert.equal(verifyPath(small, { ...base, lossProbeSent: 20000, lossProbeLost: 32 }).ok, true);
  assert.equal(verifyPath(small, { ...base, lossProbeSent: 20000, lossProbeLost: 40 }).ok, false);
});

test("an RTT below the target by more than 1 ms is refused (a delay line only adds)", () => {
  const v = verifyPath(target, { rttsMs: [98.5], lossProbeSent: 40000, lossProbeLost: 400, rateMbit: 200 });
  assert.equal(v.ok, false);
});

test("summaries take medians and ratios from the same run", () => {
  const runs = [
    { run: 0, flows: [flow("slipstream", 180), flow("tcp-bbr", 150)] },
    { run: 1, flows: [flow("slipstream", 160), flow("tcp-bbr", 80, { capped: true })] },
    { run: 2, flows: [flow("slipstream", 170), flow("tcp-bbr", 170)] },
  ];
  const [slip, bbr] = summarize(target, runs);
  assert.equal(slip!.system, "slipstream");
  assert.equal(slip!.goodputMbit, 170);
  // per-run ratios 1.2, 2, 1 → median 1.2 (not 170 / 150)
  assert.equal(slip!.ratioTo["tcp-bbr"], 1.2);
  assert.equal(bbr!.cappedRuns, 1);
  assert.ok(Math.abs(slip!.shareOfCeiling - 170 / ceilingMbit(200, 1, 1448, 1514)) < 1e-12);
});

test("the table has a row per system and a ratio column per system", () => {
  const runs = [
    {
      run: 0,
      flows: [flow("slipstream", 180), flow("tcp-cubic", 1.5, { capped: true, retransmitRatio: null })],
    },
  ];
  const table = formatTable(summarize(target, runs)).split("\n");
  assert.equal(table.length, 4);
  assert.equal(
    table[0],
    "| system | goodput Mbit/s | % of ceiling | capped | retx % | CPU snd | CPU rcv | ÷ slip | ÷ cubic |",
  );
  assert.equal(table[2], "| slipstream | 180 | 95.1 | 0/1 | 1.00 | 0.50 | 0.25 |  | 120× |");
  assert.match(table[3]!, /^\| tcp-cubic \| 1\.50 \| 0\.8 \| 1\/1 \| – \|/);
});

test("profiles parse and expand", () => {
  assert.deepEqual(parseProfile("100ms-1pct"), {
    kind: "transfer",
    name: "100ms-1pct",
    rttMs: 100,
    lossPct: 1,
  });
  assert.deepEqual(parseProfile("300ms-0.1pct"), {
    kind: "transfer",
    name: "300ms-0.1pct",
    rttMs: 300,
    lossPct: 0.1,
  });
  assert.equal(parseProfile("fairness-100ms").kind, "fairness");
  assert.throws(() => parseProfile("fast"), /unknown profile/);
  assert.equal(expandProfiles(["all"]).length, 17);
  assert.deepEqual(
    expandProfiles(["key", "100ms-1pct"]).map((p) => p.name),
    ["100ms-1pct", "200ms-1pct", "300ms-3pct", "fairness-100ms"],
  );
});

test("bytes at a time are interpolated between progress samples", () => {
  const progress = [
    { t: 1000, bytes: 0 },
    { t: 1500, bytes: 100 },
    { t: 2000, bytes: 300 },
  ];
  assert.equal(bytesAt(progress, 500), 0);
  assert.equal(bytesAt(progress, 1750), 200);
  assert.equal(bytesAt(progress, 9000), 300);
});

test("the chart is an SVG with one panel per RTT and hollow capped points", () => {
  const svg = goodputChart(
    [
      { system: "slipstream", rttMs: 100, lossPct: 0, goodputMbit: 180, capped: false },
      { system: "slipstream", rttMs: 100, lossPct: 1, goodputMbit: 170, capped: false },
      { system: "tcp-cubic", rttMs: 200, lossPct: 1, goodputMbit: 0.9, capped: true },
    ],
    "t <1>",
    200,
  );
  assert.match(svg, /^<svg /);
  assert.match(svg, /<\/svg>\n$/);
  assert.equal((svg.match(/RTT \d+ ms/g) ?? []).length, 2);
  assert.match(svg, /t &lt;1>/);
  assert.match(svg, /fill="white" stroke="#7f7f7f"/);
});

test("flows during which the emulator fell behind are left out of medians and ratios", () => {
  const runs = [
    {
      run: 0,
      flows: [flow("slipstream", 180, { emulatorLate: 0.01 }), flow("tcp-bbr", 150, { emulatorLate: 0 })],
    },
    {
      run: 1,
      flows: [flow("slipstream", 60, { emulatorLate: 0.2 }), flow("tcp-bbr", 160, { emulatorLate: 0.02 })],
    },
  ];
  const [slip, bbr] = summarize(target, runs);
  assert.equal(slip!.goodputMbit, 180);
  assert.equal(slip!.runs, 1);
  assert.equal(slip!.discardedRuns, 1);
  assert.equal(slip!.ratioTo["tcp-bbr"], 1.2);
  assert.equal(bbr!.goodputMbit, 155);
  assert.match(formatTable([slip!, bbr!]), /\| slipstream \(1 left out\) \|/);
});
