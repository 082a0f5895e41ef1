import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventLoop } from "../../src/sim/event-loop.js";
import { CounterSampler, bitsPerSecond, jainIndex } from "../../src/sim/stats.js";

describe("stats", () => {
  it("computes Jain's fairness index", () => {
    assert.equal(jainIndex([5, 5, 5, 5]), 1);
    assert.equal(jainIndex([1, 0, 0, 0]), 0.25);
    assert.ok(Math.abs(jainIndex([1, 3]) - 16 / 20) < 1e-12);
    assert.equal(jainIndex([]), 1);
  });

  it("converts bytes over an interval to bits per second", () => {
    assert.equal(bitsPerSecond(125_000, 1_000_000), 1_000_000);
    assert.equal(bitsPerSecond(1, 0), 0);
  });

  it("samples counters and interpolates rates between samples", () => {
    const loop = new EventLoop();
    let bytes = 0;
    const tick = () => {
      bytes += 1250;
      loop.after(1000, tick);
    };
    loop.schedule(500, tick);
    const sampler = new CounterSampler(loop, 10_000, [() => bytes]);
    loop.run({ until: 100_000 });
    sampler.stop();
    assert.equal(sampler.times[3], 30_000);
    assert.equal(sampler.valueAt(0, 30_000), 30 * 1250);
    assert.equal(sampler.valueAt(0, 35_000), 35 * 1250);
    assert.equal(sampler.rateBps(0, 10_000, 90_000), 10_000_000);
  });
});
