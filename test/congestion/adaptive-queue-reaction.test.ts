import assert from "node:assert/strict";
import { test } from "node:test";
import { AdaptiveRateController } from "../../src/core/congestion/adaptive.js";
import type { AckEvent } from "../../src/core/congestion/controller.js";

const MS = 1000;
const MBIT = 1e6 / 8;

/**
 * Drives the controller with one ACK per millisecond of a flow delivering `rate` bytes/s at the
 * given RTT. `compressed` ACKs carry no valid delivery-rate sample (interval below the min RTT,
 * as when a burst is acknowledged within microseconds) although bytes keep being delivered.
 */
function driver(c: AdaptiveRateController) {
  let now = 0;
  let delivered = 0;
  let drainEntries = 0;
  let wasDrain = false;
  /** returns the highest bandwidth estimate seen meanwhile */
  const step = (ms: number, rate: number, rtt: number, compressed = false): number => {
    let highest = 0;
    for (let i = 0; i < ms; i++) {
      now += MS;
      const acked = (rate * MS) / 1e6;
      delivered += acked;
      const ev: AckEvent = {
        now,
        ackedBytes: acked,
        largestAckedSentTime: now - rtt,
        latestRtt: rtt,
        smoothedRtt: rtt,
        minRtt: 40 * MS,
        bytesInFlight: 0.5 * ((rate * 40 * MS) / 1e6),
        totalDelivered: delivered,
        rateSample: {
          deliveryRate: compressed ? 0 : rate,
          isAppLimited: false,
          interval: compressed ? 0 : rtt,
          delivered: acked,
          priorDelivered: Math.max(0, delivered - (rate * rtt) / 1e6),
          rtt,
        },
      };
      c.onAck(ev);
      highest = Math.max(highest, c.bandwidthEstimate());
      const isDrain = c.stateName() === "drain";
      if (isDrain && !wasDrain) drainEntries++;
      wasDrain = isDrain;
    }
    return highest;
  };
  return Object.assign(step, { drains: () => drainEntries });
}

test("a reaction to a standing queue lowers the bandwidth estimate, never raises it", () => {
  const c = new AdaptiveRateController({
    maxDatagramSize: 1400,
    sendRate: 100 * MBIT,
    minRate: 0.1 * MBIT,
    maxRate: 10_000 * MBIT,
  });
  const run = driver(c);
  run(3_000, 100 * MBIT, 40 * MS);
  assert.equal(c.stateName(), "probe_bw");
  const before = c.bandwidthEstimate();
  assert.ok(Math.abs(before - 100 * MBIT) < 0.05 * 100 * MBIT, `estimate ${before / MBIT} Mbit/s`);
  // Queues that keep coming back while ACKs arrive compressed: twice the estimate is delivered
  // in bursts, none of it as a valid rate sample.
  let highest = 0;
  const drainsBefore = run.drains();
  for (let k = 0; k < 6; k++) {
    highest = Math.max(highest, run(400, 200 * MBIT, 90 * MS, true));
    highest = Math.max(highest, run(400, 100 * MBIT, 40 * MS));
  }
  const drains = run.drains() - drainsBefore;
  assert.ok(drains >= 3, `the queues were reacted to (${drains} drains)`);
  assert.ok(highest <= before * 1.01, `estimate rose from ${before / MBIT} to ${highest / MBIT} Mbit/s`);
});
