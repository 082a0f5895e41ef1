import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdaptiveRateController, type AdaptiveTuning } from "../../src/core/congestion/adaptive.js";
import { FairRateController } from "../../src/core/congestion/fair.js";
import { FixedRateController } from "../../src/core/congestion/fixed.js";
import { lossEvent } from "./events.js";
import { LinkModel, MBIT, MS, rate, type LinkOptions } from "./link-model.js";

const MSS = 1400;
const START_RATE = 10 * MBIT;

function adaptive(tuning: Partial<AdaptiveTuning> = {}, maxRate = 10_000 * MBIT): AdaptiveRateController {
  return new AdaptiveRateController(
    { maxDatagramSize: MSS, sendRate: START_RATE, minRate: 0.1 * MBIT, maxRate },
    tuning,
  );
}

/** A link with one adaptive flow; `bdps` is the buffer in bandwidth-delay products. */
function setup(mbit: number, rttMs: number, bdps: number, c = adaptive(), extra: Partial<LinkOptions> = {}) {
  const capacity = mbit * MBIT;
  const bufferBytes = Math.max((capacity * rttMs * MS * bdps) / 1e6, 10 * MSS);
  const link = new LinkModel({ capacity, baseRtt: rttMs * MS, bufferBytes, ...extra });
  const flow = link.addFlow(c, MSS);
  return { link, flow, c, capacity };
}

describe("adaptive", () => {
  for (const [mbit, rttMs] of [
    [100, 40],
    [400, 10],
    [50, 150],
  ] as const) {
    it(`converges to ${mbit} Mbit/s (RTT ${rttMs} ms) from 10 Mbit/s within 20 rounds`, () => {
      const { link, flow, c, capacity } = setup(mbit, rttMs, 1);
      let converged = -1;
      for (let round = 1; round <= 20 && converged < 0; round++) {
        link.run(round * rttMs * MS);
        const close = Math.abs(c.bandwidthEstimate() / capacity - 1) < 0.1;
        if (close && c.stateName() === "probe_bw") converged = round;
      }
      assert.ok(converged > 0, `not converged after 20 rounds: ${c.bandwidthEstimate() / MBIT} Mbit/s`);
      const start = link.now;
      const d0 = flow.delivered;
      for (let round = 1; round <= 40; round++) {
        link.run(start + round * rttMs * MS);
        const pacing = c.pacingRate() / capacity;
        assert.ok(pacing >= 0.7 && pacing <= 1.3, `pacing ${pacing} × capacity in ${c.stateName()}`);
      }
      const utilization = rate(flow.delivered - d0, link.now - start) / capacity;
      assert.ok(utilization > 0.95, `utilization ${utilization}`);
    });
  }

  it("bounds its own queue to about one RTT when the buffer is deep", () => {
    const { link, flow } = setup(100, 40, 8);
    link.run(3_000 * MS);
    flow.resetRttStats();
    const lost = flow.lostBytes;
    link.run(8_000 * MS);
    assert.ok(flow.maxRttSeen <= 2 * 40 * MS + 1 * MS, `max RTT ${flow.maxRttSeen / MS} ms`);
    assert.equal(flow.lostBytes, lost);
  });

  it("holds ≥ 92 % of the bottleneck at 1 % random loss (a loss-based controller does not)", () => {
    const goodput = (c: AdaptiveRateController | FairRateController): number => {
      const { link, flow, capacity } = setup(100, 40, 1, c as AdaptiveRateController, { randomLoss: 0.01 });
      link.run(3_000 * MS);
      const d0 = flow.delivered;
      link.run(13_000 * MS);
      return rate(flow.delivered - d0, 10_000 * MS) / capacity;
    };
    const adaptiveShare = goodput(adaptive());
    assert.ok(adaptiveShare >= 0.92, `adaptive goodput ${adaptiveShare}`);
    const fairShare = goodput(
      new FairRateController({ maxDatagramSize: MSS, sendRate: START_RATE, minRate: 0, maxRate: 1e12 }),
    );
    assert.ok(fairShare < 0.6, `fair goodput ${fairShare}`);
  });

  function capacityDrop(tuning: Partial<AdaptiveTuning>) {
    const { link, flow, c } = setup(100, 100, 4, adaptive(tuning));
    link.run(3_000 * MS);
    link.capacity = 40 * MBIT;
    link.run(4_500 * MS);
    const estimate = c.bandwidthEstimate();
    flow.resetRttStats();
    link.run(5_000 * MS);
    return { estimate, maxRtt: flow.maxRttSeen, lost: flow.lostBytes };
  }

  it("backs off when queueing delay rises (capacity halves, deep buffer)", () => {
    const withReaction = capacityDrop({});
    assert.ok(withReaction.estimate <= 1.1 * 40 * MBIT, `estimate ${withReaction.estimate / MBIT} Mbit/s`);
    assert.ok(withReaction.maxRtt <= 1.3 * 100 * MS, `queue not drained: RTT ${withReaction.maxRtt / MS} ms`);
    assert.equal(withReaction.lost, 0);
    // control: without the delay reaction the max filter keeps the stale estimate (rounds last 500 ms)
    const without = capacityDrop({ queueDelayCooldownRounds: Infinity });
    assert.ok(without.estimate >= 1.5 * 40 * MBIT);
    assert.ok(without.maxRtt > 3 * 100 * MS);
  });

  function crossTraffic(tuning: Partial<AdaptiveTuning>) {
    const { link, flow } = setup(100, 100, 4, adaptive(tuning));
    link.run(3_000 * MS);
    const cbr = new FixedRateController({
      maxDatagramSize: MSS,
      sendRate: 50 * MBIT,
      minRate: 0,
      maxRate: 1e12,
    });
    link.addFlow(cbr, MSS, 3_000 * MS);
    link.run(8_000 * MS);
    flow.resetRttStats();
    const d0 = flow.delivered;
    link.run(11_000 * MS);
    const share = rate(flow.delivered - d0, 3_000 * MS) / (100 * MBIT);
    return { share, minRtt: flow.minRttSeen, maxRtt: flow.maxRttSeen };
  }

  it("gives way to unresponsive cross traffic without keeping a standing queue", () => {
    const r = crossTraffic({});
    assert.ok(r.share > 0.4 && r.share < 0.6, `share ${r.share}`);
    assert.ok(r.maxRtt < 1.75 * 100 * MS, `RTT up to ${r.maxRtt / MS} ms`);
    assert.ok(r.minRtt < 1.2 * 100 * MS, `the queue never empties: RTT ≥ ${r.minRtt / MS} ms`);
    const without = crossTraffic({ queueDelayCooldownRounds: Infinity });
    assert.ok(without.minRtt > 1.5 * 100 * MS, `(control) RTT ≥ ${without.minRtt / MS} ms`);
  });

  function policer(tuning: Partial<AdaptiveTuning>) {
    const { link, flow, c } = setup(100, 100, 0, adaptive(tuning));
    link.run(3_000 * MS);
    link.capacity = 40 * MBIT;
    link.run(3_600 * MS);
    const early = c.bandwidthEstimate();
    link.run(6_000 * MS);
    const [lost0, sent0] = [flow.lostBytes, flow.sentBytes];
    link.run(7_000 * MS);
    return {
      early,
      late: c.bandwidthEstimate(),
      lossRate: (flow.lostBytes - lost0) / (flow.sentBytes - sent0),
    };
  }

  it("cuts the estimate after heavy-loss rounds (policer, no queue to see)", () => {
    const r = policer({});
    assert.ok(r.early <= 60 * MBIT, `estimate ${r.early / MBIT} Mbit/s 600 ms after the drop`);
    assert.ok(r.late >= 0.75 * 40 * MBIT && r.late <= 1.1 * 40 * MBIT, `estimate ${r.late / MBIT}`);
    assert.ok(r.lossRate < 0.05, `loss rate ${r.lossRate}`);
    const without = policer({ heavyLossFraction: Infinity });
    assert.ok(without.early >= 90 * MBIT);
  });

  it("ignores app-limited samples unless they raise the estimate", () => {
    const run = (mark: boolean): number => {
      const { link, flow, c } = setup(100, 40, 1);
      flow.markAppLimited = mark;
      link.run(2_000 * MS);
      flow.appRate = 10 * MBIT;
      link.run(5_000 * MS);
      return c.bandwidthEstimate();
    };
    assert.ok(run(true) >= 90 * MBIT, "the estimate survives 75 app-limited rounds");
    assert.ok(run(false) <= 20 * MBIT, "(control: unmarked samples do lower it)");
  });

  it("re-measures the min RTT after 10 s without a refresh, briefly, with a 4-datagram window", () => {
    const { link, c } = setup(20, 40, 1);
    link.run(3_000 * MS);
    // route change: the old minimum never comes back (below the standing-queue threshold of 60 ms)
    link.baseRtt = 50 * MS;
    const probeTimes: number[] = [];
    for (let t = 3_000 * MS; t < 16_000 * MS; t += 5 * MS) {
      link.run(t);
      if (c.stateName() === "probe_rtt") {
        probeTimes.push(t);
        assert.equal(c.congestionWindow(), 4 * MSS);
      }
    }
    assert.ok(probeTimes.length > 0, "never probed");
    const first = probeTimes[0]!;
    const duration = probeTimes[probeTimes.length - 1]! - first;
    assert.ok(first >= 12_500 * MS && first <= 13_500 * MS, `probe_rtt at ${first / MS} ms`);
    assert.ok(duration >= 190 * MS && duration <= 400 * MS, `probe_rtt lasted ${duration / MS} ms`);
    assert.ok(Math.abs(c.minRttEstimate() - 50 * MS) < 2 * MS);
  });

  it("adopts a much longer path instead of mistaking it for a standing queue", () => {
    const utilization = (tuning: Partial<AdaptiveTuning>): number => {
      const { link, flow, c, capacity } = setup(100, 40, 1, adaptive(tuning));
      link.run(3_000 * MS);
      link.baseRtt = 100 * MS;
      link.run(3_500 * MS);
      const d0 = flow.delivered;
      link.run(8_500 * MS);
      if (tuning.queueDrainMinShrink === undefined) assert.ok(c.minRttEstimate() >= 100 * MS);
      return rate(flow.delivered - d0, 5_000 * MS) / capacity;
    };
    assert.ok(utilization({}) > 0.95);
    // control: without checking that draining shortened the RTT, each reaction cuts the estimate
    // to a window-limited delivery rate, and the window with it
    assert.ok(utilization({ queueDrainMinShrink: -Infinity }) < 0.6);
  });

  it("does not probe the min RTT while it keeps being refreshed", () => {
    const { link, c } = setup(20, 40, 1);
    for (let t = 0; t < 25_000 * MS; t += 5 * MS) {
      link.run(t);
      assert.notEqual(c.stateName(), "probe_rtt");
    }
  });

  it("searches again when the maximum is raised", () => {
    const { link, c } = setup(100, 40, 1, adaptive({}, 20 * MBIT));
    link.run(2_000 * MS);
    assert.ok(c.bandwidthEstimate() <= 20 * MBIT);
    c.setRates(START_RATE, 0.1 * MBIT, 1_000 * MBIT);
    link.run(2_000 * MS + 15 * 40 * MS);
    assert.ok(c.bandwidthEstimate() >= 90 * MBIT, `estimate ${c.bandwidthEstimate() / MBIT}`);
  });

  it("halves the estimate and restarts the search on persistent congestion", () => {
    const { link, c, capacity } = setup(100, 40, 1);
    link.run(2_000 * MS);
    assert.equal(c.stateName(), "probe_bw");
    const before = c.bandwidthEstimate();
    c.onLoss(lossEvent({ now: link.now, lostBytes: 100 * MSS, persistentCongestion: true }));
    assert.equal(c.bandwidthEstimate(), before / 2);
    assert.equal(c.stateName(), "startup");
    link.run(2_000 * MS + 15 * 40 * MS);
    assert.ok(c.bandwidthEstimate() >= 0.9 * capacity);
  });
});
