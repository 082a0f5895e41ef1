import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BackgroundRateController } from "../../src/core/congestion/background.js";
import type { RateController } from "../../src/core/congestion/controller.js";
import { FairRateController } from "../../src/core/congestion/fair.js";
import { Driver } from "./events.js";
import { LinkModel, MBIT, MS, rate } from "./link-model.js";

const MSS = 1000;
const config = { maxDatagramSize: MSS, sendRate: 8 * MBIT, minRate: 0, maxRate: 100_000 * MBIT };
const LINK_MSS = 1400;
const linkConfig = { ...config, maxDatagramSize: LINK_MSS };

function windowDatagrams(c: RateController): number {
  return c.congestionWindow() / MSS;
}

describe("background (LEDBAT)", () => {
  it("targets 25 ms, at most a quarter of the base delay, at least 5 ms", () => {
    for (const [base, target] of [
      [200, 25],
      [40, 10],
      [4, 5],
    ] as const) {
      const c = new BackgroundRateController(config);
      new Driver(c, MSS, base * MS).round();
      assert.equal(c.baseDelay(), base * MS);
      assert.equal(c.targetDelay(), target * MS);
    }
  });

  it("grows without queueing delay, shrinks to the minimum above target, grows again", () => {
    const c = new BackgroundRateController(config);
    const d = new Driver(c, MSS, 50 * MS);
    // target = 12.5 ms
    d.round();
    const w1 = windowDatagrams(c);
    for (let i = 0; i < 3; i++) d.round();
    assert.ok(windowDatagrams(c) > 4 * w1, "slow start while there is no queue");

    for (let i = 0; i < 15; i++) d.round({ rttNow: 90 * MS });
    assert.ok(windowDatagrams(c) <= 5, `window ${windowDatagrams(c)} after 15 RTTs of 40 ms queueing`);
    assert.equal(c.stateName(), "avoidance");

    const low = windowDatagrams(c);
    for (let i = 0; i < 10; i++) d.round();
    const regrown = windowDatagrams(c);
    assert.ok(regrown > low + 4, `regrew only to ${regrown}`);
    for (let i = 0; i < 20; i++) d.round();
    assert.ok(windowDatagrams(c) > 2 * regrown, "spare capacity is taken quickly after a few quiet rounds");
  });

  it("holds still just below target and shrinks just above it", () => {
    const c = new BackgroundRateController(config);
    const d = new Driver(c, MSS, 50 * MS);
    for (let i = 0; i < 4; i++) d.round();
    d.round({ rttNow: 62 * MS }); // queueing 12 ms: above 3/4 of the target, slow start ends
    const w = windowDatagrams(c);
    for (let i = 0; i < 5; i++) d.round({ rttNow: 61 * MS });
    assert.ok(windowDatagrams(c) >= w && windowDatagrams(c) < w + 1, "at most gain × off_target per RTT");
    for (let i = 0; i < 5; i++) d.round({ rttNow: 70 * MS });
    assert.ok(windowDatagrams(c) < 0.5 * w);
  });

  it("halves on loss, once per round trip", () => {
    const c = new BackgroundRateController(config);
    const d = new Driver(c, MSS, 50 * MS);
    for (let i = 0; i < 3; i++) d.round();
    const w = c.congestionWindow();
    d.loss(20 * MS);
    assert.equal(c.congestionWindow(), w / 2);
    d.now += 5 * MS;
    d.loss(30 * MS);
    assert.equal(c.congestionWindow(), w / 2);
    d.now += 50 * MS;
    d.loss(10 * MS);
    assert.equal(c.congestionWindow(), w / 4);
  });

  it("uses an idle link on its own", () => {
    const link = new LinkModel({ capacity: 100 * MBIT, baseRtt: 40 * MS, bufferBytes: 500_000 });
    const flow = link.addFlow(new BackgroundRateController(linkConfig), LINK_MSS);
    link.run(2_000 * MS);
    const d0 = flow.delivered;
    link.run(8_000 * MS);
    assert.ok(rate(flow.delivered - d0, 6_000 * MS) > 0.9 * 100 * MBIT);
  });

  /** Share of the link the second (fair) flow gets from 1 s after it joins a running first flow. */
  function joinerShare(first: RateController, baseRtt: number): number {
    const link = new LinkModel({ capacity: 100 * MBIT, baseRtt, bufferBytes: (100 * MBIT * baseRtt) / 1e6 });
    const a = link.addFlow(first, LINK_MSS);
    const b = link.addFlow(new FairRateController(linkConfig), LINK_MSS, 3_000 * MS);
    link.run(4_000 * MS);
    const [a0, b0] = [a.delivered, b.delivered];
    link.run(14_000 * MS);
    return (b.delivered - b0) / (a.delivered - a0 + b.delivered - b0);
  }

  for (const baseRtt of [10 * MS, 40 * MS, 100 * MS]) {
    it(`leaves at least 80 % of the link to a loss-based flow (RTT ${baseRtt / MS} ms)`, () => {
      const share = joinerShare(new BackgroundRateController(linkConfig), baseRtt);
      assert.ok(share >= 0.8, `the loss-based flow got ${(share * 100).toFixed(1)} %`);
    });
  }

  it("(control: a fair flow in its place keeps far more)", () => {
    const share = joinerShare(new FairRateController(linkConfig), 40 * MS);
    assert.ok(share < 0.6, `the joining flow got ${(share * 100).toFixed(1)} %`);
  });
});
