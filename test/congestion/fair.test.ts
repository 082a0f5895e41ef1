import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CUBIC_BETA, CUBIC_C, FairRateController } from "../../src/core/congestion/fair.js";
import { ackEvent, Driver, lossEvent } from "./events.js";
import { LinkModel, MBIT, MS, rate } from "./link-model.js";

const MSS = 1000;

function fair(sendRate = 10 * MBIT): FairRateController {
  return new FairRateController({ maxDatagramSize: MSS, sendRate, minRate: 0, maxRate: 100_000 * MBIT });
}

describe("fair (CUBIC)", () => {
  it("starts at sendRate and slow-starts by doubling per RTT at pacing gain 2", () => {
    const c = fair(8 * MBIT); // 1 MB/s
    assert.equal(c.pacingRate(), 1_000_000);
    const d = new Driver(c, MSS);
    d.round();
    const w1 = c.congestionWindow();
    assert.ok(w1 >= 100_000 * 1.9, `window after first round ${w1}`); // 1 MB/s × 100 ms, doubled
    d.round();
    assert.ok(Math.abs(c.congestionWindow() / w1 - 2) < 0.1);
    assert.equal(c.stateName(), "slow_start");
    assert.ok(Math.abs(c.pacingRate() - (2 * c.congestionWindow()) / 0.1) < 1);
  });

  it("reduces by β = 0.7 once per loss episode", () => {
    const c = fair();
    const d = new Driver(c, MSS);
    for (let i = 0; i < 3; i++) d.round();
    const w = c.congestionWindow();
    d.loss(50 * MS);
    assert.equal(c.congestionWindow(), w * CUBIC_BETA);
    assert.equal(c.stateName(), "recovery");
    // more losses from the same flight: ignored
    d.now += 10 * MS;
    d.loss(60 * MS);
    d.loss(20 * MS);
    assert.equal(c.congestionWindow(), w * CUBIC_BETA);
    // ACKs of packets sent before the reduction do not grow the window
    c.onAck(
      ackEvent({
        now: d.now,
        largestAckedSentTime: d.now - 100 * MS,
        smoothedRtt: 100 * MS,
        bytesInFlight: w,
      }),
    );
    assert.equal(c.congestionWindow(), w * CUBIC_BETA);
    d.round();
    assert.equal(c.stateName(), "avoidance");
    assert.ok(Math.abs(c.pacingRate() - (1.2 * c.congestionWindow()) / 0.1) < 1);
    // a loss of a packet sent after the reduction is a new episode
    const w2 = c.congestionWindow();
    d.loss(50 * MS);
    assert.ok(Math.abs(c.congestionWindow() - w2 * CUBIC_BETA) < 1);
  });

  it("grows along the cubic curve back to W_max and beyond", () => {
    const c = fair();
    const d = new Driver(c, MSS);
    while (c.congestionWindow() < 1000 * MSS) d.round();
    const wMax = c.congestionWindow() / MSS;
    d.loss(50 * MS);
    d.round(); // recovery round
    const start = d.now;
    const k = Math.cbrt((wMax * (1 - CUBIC_BETA)) / CUBIC_C);
    const at = (t: number): number => {
      while (d.now - start < t * 1e6) d.round();
      return c.congestionWindow() / MSS;
    };
    const w0 = c.congestionWindow() / MSS;
    const wHalfK = at(k / 2);
    const wK = at(k);
    const w15K = at(1.5 * k);
    const w2K = at(2 * k);
    const expected = (t: number): number => CUBIC_C * (t - k) ** 3 + wMax;
    assert.ok(Math.abs(wK / wMax - 1) < 0.03, `W(K) = ${wK}, W_max = ${wMax}`);
    assert.ok(Math.abs(wHalfK / expected(k / 2) - 1) < 0.05, `W(K/2) = ${wHalfK}`);
    assert.ok(Math.abs(w2K / expected(2 * k) - 1) < 0.05, `W(2K) = ${w2K} vs ${expected(2 * k)}`);
    // concave before K, convex after
    assert.ok(wHalfK - w0 > wK - wHalfK);
    assert.ok(w2K - w15K > w15K - wK);
  });

  it("follows the Reno-friendly estimate when it is ahead of CUBIC (short RTT, small window)", () => {
    const c = fair(0.08 * MBIT);
    const d = new Driver(c, MSS, 2 * MS);
    for (let i = 0; i < 3; i++) d.round();
    d.loss(1 * MS);
    d.round();
    const w0 = c.congestionWindow() / MSS;
    for (let i = 0; i < 100; i++) d.round();
    // 100 RTTs = 0.2 s: the CUBIC curve alone would add about 4 datagrams; Reno-friendly growth
    // adds 0.53 per RTT until W_est regains the pre-loss window (≈ 45 RTTs), then 1 per RTT.
    const grown = c.congestionWindow() / MSS - w0;
    assert.ok(grown > 65 && grown < 90, `grew ${grown} datagrams`);
  });

  it("does not grow while the window is not in use", () => {
    const c = fair();
    const d = new Driver(c, MSS);
    d.round();
    const w = c.congestionWindow();
    d.round({ inFlightFraction: 0.1 });
    assert.equal(c.congestionWindow(), w);
  });

  it("leaves slow start when the RTT rises (HyStart++)", () => {
    const c = fair();
    const d = new Driver(c, MSS, 100 * MS);
    d.round();
    d.round();
    d.round({ rttNow: 120 * MS });
    assert.equal(c.stateName(), "avoidance");
  });

  it("drops to the minimum window on persistent congestion", () => {
    const c = fair();
    const d = new Driver(c, MSS);
    for (let i = 0; i < 4; i++) d.round();
    c.onLoss(lossEvent({ now: d.now, largestLostSentTime: d.now - 10 * MS, persistentCongestion: true }));
    assert.equal(c.congestionWindow(), 4 * MSS);
  });

  it("fills a bottleneck link on its own", () => {
    const link = new LinkModel({ capacity: 100 * MBIT, baseRtt: 40 * MS, bufferBytes: 500_000 });
    const flow = link.addFlow(fair(), 1400);
    link.run(2_000 * MS);
    const d0 = flow.delivered;
    link.run(10_000 * MS);
    assert.ok(rate(flow.delivered - d0, 8_000 * MS) > 0.9 * 100 * MBIT);
  });
});
