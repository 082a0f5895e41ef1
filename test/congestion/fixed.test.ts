import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FixedRateController } from "../../src/core/congestion/fixed.js";
import { LinkModel, MBIT, MS } from "./link-model.js";
import { ackEvent, lossEvent } from "./events.js";

const MSS = 1400;

describe("fixed", () => {
  it("paces at sendRate whatever losses and delay it sees", () => {
    const c = new FixedRateController({
      maxDatagramSize: MSS,
      sendRate: 10 * MBIT,
      minRate: 0,
      maxRate: 1000 * MBIT,
    });
    for (let i = 1; i <= 100; i++) {
      c.onAck(
        ackEvent({ now: i * 10 * MS, latestRtt: 50 * MS + i * 10 * MS, smoothedRtt: 50 * MS + i * 10 * MS }),
      );
      c.onLoss(lossEvent({ now: i * 10 * MS, lostBytes: 100 * MSS, persistentCongestion: i % 10 === 0 }));
      assert.equal(c.pacingRate(), 10 * MBIT);
    }
    assert.equal(c.stateName(), "fixed");
  });

  it("keeps sending at sendRate into a link half as fast", () => {
    const link = new LinkModel({ capacity: 5 * MBIT, baseRtt: 30 * MS, bufferBytes: 50_000 });
    const c = new FixedRateController({
      maxDatagramSize: MSS,
      sendRate: 10 * MBIT,
      minRate: 0,
      maxRate: 1000 * MBIT,
    });
    const flow = link.addFlow(c, MSS);
    link.run(5_000 * MS);
    assert.ok(flow.lostBytes > 0.4 * flow.sentBytes, "half the packets are lost");
    assert.equal(c.pacingRate(), 10 * MBIT);
    // the window never held it back: it sent at the configured rate
    assert.ok(flow.sentBytes > 0.95 * 10 * MBIT * 5);
  });

  it("bounds bytes in flight by rate × max(2 srtt, 100 ms), at least 64 datagrams", () => {
    const c = new FixedRateController({
      maxDatagramSize: MSS,
      sendRate: 10 * MBIT,
      minRate: 0,
      maxRate: 1000 * MBIT,
    });
    c.onAck(ackEvent({ smoothedRtt: 300 * MS }));
    assert.equal(c.congestionWindow(), 10 * MBIT * 0.6);
    c.onAck(ackEvent({ smoothedRtt: 10 * MS }));
    assert.equal(c.congestionWindow(), 10 * MBIT * 0.1);
    c.setRates(0.1 * MBIT, 0, 1000 * MBIT);
    assert.equal(c.congestionWindow(), 64 * MSS);
    assert.equal(c.pacingRate(), 0.1 * MBIT);
  });
});
