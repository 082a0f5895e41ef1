import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdaptiveRateController, type AdaptiveTuning } from "../../src/core/congestion/adaptive.js";
import { LinkModel, MBIT, MS } from "./link-model.js";

const MSS = 1400;

function adaptive(tuning: Partial<AdaptiveTuning> = {}): AdaptiveRateController {
  return new AdaptiveRateController(
    { maxDatagramSize: MSS, sendRate: 10 * MBIT, minRate: 0.1 * MBIT, maxRate: 10_000 * MBIT },
    tuning,
  );
}

describe("adaptive start-up", () => {
  /** ms after capacity went from 20 to 200 Mbit/s until the estimate reached 90 % of it */
  function capacityRise(tuning: Partial<AdaptiveTuning>): number {
    const c = adaptive(tuning);
    const link = new LinkModel({ capacity: 20 * MBIT, baseRtt: 100 * MS, bufferBytes: 200 * MBIT * 0.1 });
    link.addFlow(c, MSS);
    link.run(3_000 * MS);
    link.capacity = 200 * MBIT;
    for (let t = 3_000 * MS; t <= 15_000 * MS; t += 50 * MS) {
      link.run(t);
      if (c.bandwidthEstimate() >= 0.9 * 200 * MBIT) return (t - 3_000 * MS) / MS;
    }
    return Infinity;
  }

  it("searches as startup does when a probe's extra sending all comes back as delivery", () => {
    const ms = capacityRise({});
    assert.ok(ms <= 2_000, `estimate at 90 % of the new capacity after ${ms} ms`);
    // control: +25 % per eight-round cycle takes several seconds for a tenfold rise
    assert.ok(capacityRise({ probeStartupGrowth: Infinity }) >= 5_000);
  });

  it("does not return to startup while the link is full", () => {
    const c = adaptive();
    const link = new LinkModel({ capacity: 100 * MBIT, baseRtt: 40 * MS, bufferBytes: 100 * MBIT * 0.04 });
    link.addFlow(c, MSS);
    link.run(2_000 * MS);
    for (let t = 2_000 * MS; t <= 20_000 * MS; t += 5 * MS) {
      link.run(t);
      assert.notEqual(c.stateName(), "startup", `startup again at ${t / MS} ms`);
    }
  });

  it("on a policer (no buffer), ends startup a round after the loss, not three", () => {
    const link = new LinkModel({ capacity: 100 * MBIT, baseRtt: 40 * MS, bufferBytes: 10 * MSS });
    const flow = link.addFlow(adaptive(), MSS);
    link.run(3_000 * MS);
    const bdpPackets = (100 * MBIT * 0.04) / MSS;
    assert.ok(flow.lostBytes / MSS <= 3 * bdpPackets, `${flow.lostBytes / MSS} packets lost in startup`);
  });

  /** Highest RTT and lost bytes during the first 3 s with a deep (8 BDP) buffer. */
  function deepBufferStart(tuning: Partial<AdaptiveTuning>) {
    const link = new LinkModel({
      capacity: 100 * MBIT,
      baseRtt: 40 * MS,
      bufferBytes: 8 * 100 * MBIT * 0.04,
    });
    const flow = link.addFlow(adaptive(tuning), MSS);
    link.run(3_000 * MS);
    return { maxRtt: flow.maxRttSeen, lost: flow.lostBytes };
  }

  it("keeps startup's queue within about one RTT in a deep buffer, without loss", () => {
    const r = deepBufferStart({});
    assert.ok(r.maxRtt <= 2 * 40 * MS + 2 * MS, `max RTT ${r.maxRtt / MS} ms`);
    assert.equal(r.lost, 0);
    // control: with the pacing gain as window gain and only the delivery rate to go by, startup
    // queues almost two BDPs
    const late = deepBufferStart({ startupQueueThreshold: Infinity, startupWindowGain: 2 / Math.LN2 });
    assert.ok(late.maxRtt >= 2.5 * 40 * MS, `(control) max RTT ${late.maxRtt / MS} ms`);
  });
});
