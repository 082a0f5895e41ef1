import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bdpBytes } from "../../src/sim/link.js";
import { averageLossRate, bernoulli, gilbertElliott, type LossModel } from "../../src/sim/loss.js";
import { idOf, pointToPoint, sendSeries } from "./helpers.js";

/** lengths of runs of consecutive lost ids among 0..count-1 */
function lossBursts(receivedIds: Set<number>, count: number): number[] {
  const bursts: number[] = [];
  let run = 0;
  for (let i = 0; i < count; i++) {
    if (!receivedIds.has(i)) run++;
    else if (run > 0) {
      bursts.push(run);
      run = 0;
    }
  }
  if (run > 0) bursts.push(run);
  return bursts;
}

function lossRun(loss: LossModel, count: number, seed: number) {
  const setup = pointToPoint({ rateBps: Infinity, delay: 1000, loss }, seed);
  sendSeries(setup, count, 64, 10);
  setup.loop.run();
  const ids = new Set(setup.receiver.received.map((r) => idOf(r.data)));
  const bursts = lossBursts(ids, count);
  const lost = count - ids.size;
  return { lost, meanBurst: lost / bursts.length, counters: setup.link.counters };
}

describe("Link timing", () => {
  it("serializes at the configured rate, then adds the propagation delay (exact times)", () => {
    // 1,250 bytes at 10 Mbit/s take exactly 1 ms to serialize
    const setup = pointToPoint({ rateBps: 10_000_000, delay: 50_000 });
    sendSeries(setup, 1000, 1250, 0);
    setup.loop.run();
    const arrivals = setup.receiver.received;
    assert.equal(arrivals.length, 1000);
    arrivals.forEach((r, i) => {
      assert.equal(idOf(r.data), i);
      assert.equal(r.at, 50_000 + (i + 1) * 1000);
    });
    const c = setup.link.counters;
    assert.equal(c.delivered, 1000);
    assert.equal(c.bytesDelivered, 1_250_000);
    assert.equal(c.peakQueueBytes, 999 * 1250, "all but the first wait behind the one on the wire");
    assert.equal(c.peakQueueDelay, 999 * 1000);
  });

  it("does not queue packets spaced wider than their serialization time", () => {
    const setup = pointToPoint({ rateBps: 10_000_000, delay: 20_000 });
    sendSeries(setup, 100, 1250, 2000, 500);
    setup.loop.run();
    setup.receiver.received.forEach((r, i) => assert.equal(r.at, 500 + i * 2000 + 1000 + 20_000));
    assert.equal(setup.link.counters.peakQueueBytes, 0);
    assert.equal(setup.link.counters.peakQueueDelay, 0);
  });

  it("has only propagation delay at an infinite rate", () => {
    const setup = pointToPoint({ rateBps: Infinity, delay: 7_500 });
    sendSeries(setup, 10, 1500, 0);
    setup.loop.run();
    assert.deepEqual(
      setup.receiver.received.map((r) => r.at),
      new Array(10).fill(7_500),
    );
  });

  it("drops at the tail once the queue is full and records the peak queueing delay", () => {
    const setup = pointToPoint({ rateBps: 10_000_000, delay: 10_000, queueBytes: 10 * 1250 });
    sendSeries(setup, 100, 1250, 0);
    setup.loop.run({ until: 5_000 });
    assert.equal(setup.link.queuedBytes(), 5 * 1250, "packets 0-5 have started by 5 ms, 6-10 wait");
    setup.loop.run();
    const c = setup.link.counters;
    assert.deepEqual(
      setup.receiver.received.map((r) => idOf(r.data)),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(c.droppedQueue, 89);
    assert.equal(c.peakQueueBytes, 12_500);
    assert.equal(c.peakQueueDelay, 10_000);
  });

  it("computes the bandwidth-delay product", () => {
    assert.equal(bdpBytes(1e9, 100_000), 12_500_000);
  });

  it("re-times waiting packets when the rate changes at run time", () => {
    const setup = pointToPoint({ rateBps: 10_000_000, delay: 0 });
    sendSeries(setup, 10, 1250, 0);
    setup.loop.schedule(2_500, () => setup.link.setRate(20_000_000));
    setup.loop.run();
    // packets 0-2 are on the wire or done at 2.5 ms (2 ends at 3 ms); the rest take 0.5 ms each
    assert.deepEqual(
      setup.receiver.received.map((r) => r.at),
      [1000, 2000, 3000, 3500, 4000, 4500, 5000, 5500, 6000, 6500],
    );
  });

  it("keeps packets in order when the delay shrinks at run time", () => {
    const setup = pointToPoint({ rateBps: Infinity, delay: 50_000 });
    sendSeries(setup, 100, 100, 1000);
    setup.loop.schedule(9_500, () => setup.link.setDelay(10_000));
    setup.loop.run();
    const received = setup.receiver.received;
    received.forEach((r, i) => assert.equal(idOf(r.data), i));
    // packets 0-9 keep 50 ms; later ones cannot overtake packet 9 (arriving at 59 ms)
    assert.equal(received[9]!.at, 59_000);
    assert.equal(received[10]!.at, 59_000);
    assert.equal(received[60]!.at, 70_000);
  });

  it("spreads delays with jitter", () => {
    for (const distribution of ["uniform", "normal"] as const) {
      const setup = pointToPoint({
        rateBps: Infinity,
        delay: 20_000,
        jitter: 2_000,
        jitterDistribution: distribution,
      });
      sendSeries(setup, 2000, 1000, 20_000);
      setup.loop.run();
      const delays = setup.receiver.received.map((r, i) => r.at - i * 20_000);
      const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
      const sd = Math.sqrt(delays.reduce((a, b) => a + (b - mean) ** 2, 0) / delays.length);
      assert.ok(Math.abs(mean - 20_000) < 150, `${distribution} mean ${mean}`);
      // uniform ±2 ms has σ = 2/√3 ms; normal has σ = 2 ms
      const expectedSd = distribution === "uniform" ? 2000 / Math.sqrt(3) : 2000;
      assert.ok(Math.abs(sd - expectedSd) < 0.1 * expectedSd, `${distribution} sd ${sd}`);
      if (distribution === "uniform")
        assert.ok(Math.min(...delays) >= 18_000 && Math.max(...delays) <= 22_000);
    }
  });

  it("never reorders packets because of jitter", () => {
    for (const distribution of ["uniform", "normal"] as const) {
      const setup = pointToPoint({
        rateBps: 100e6,
        delay: 20_000,
        jitter: 5_000,
        jitterDistribution: distribution,
      });
      sendSeries(setup, 2000, 1000, 100);
      setup.loop.run();
      const received = setup.receiver.received;
      assert.equal(received.length, 2000);
      received.forEach((r, i) => assert.equal(idOf(r.data), i));
      assert.equal(setup.link.counters.reordered, 0);
    }
  });
});

describe("Link loss", () => {
  it("drops at the Bernoulli rate within statistical bounds", () => {
    const n = 100_000;
    const { lost, counters } = lossRun(bernoulli(0.05), n, 11);
    // expected 5,000, σ ≈ 69
    assert.ok(Math.abs(lost - 5000) < 350, `lost ${lost}`);
    assert.equal(counters.droppedLoss, lost);
    assert.equal(counters.sent, n);
  });

  it("Gilbert–Elliott loss comes in longer bursts than Bernoulli loss at the same rate", () => {
    const model = gilbertElliott({ pGoodToBad: 0.01, pBadToGood: 0.25, lossInGood: 0, lossInBad: 1 });
    const rate = averageLossRate(model);
    const n = 100_000;
    const ge = lossRun(model, n, 5);
    const bern = lossRun(bernoulli(rate), n, 5);
    assert.ok(Math.abs(ge.lost / n - rate) < 0.01, `GE loss ${ge.lost / n} vs ${rate}`);
    assert.ok(Math.abs(bern.lost / n - rate) < 0.005);
    assert.ok(ge.meanBurst > 3 && ge.meanBurst < 5, `GE mean burst ${ge.meanBurst} (expected 4)`);
    assert.ok(bern.meanBurst < 1.1, `Bernoulli mean burst ${bern.meanBurst}`);
  });

  it("applies a new loss model at run time", () => {
    const setup = pointToPoint({ rateBps: Infinity, delay: 100 });
    sendSeries(setup, 2000, 100, 10);
    setup.loop.schedule(10_000 - 5, () => setup.link.setLoss(bernoulli(1)));
    setup.loop.run();
    assert.equal(setup.receiver.received.length, 1000);
    assert.equal(setup.link.counters.droppedLoss, 1000);
  });

  it("drops everything sent or arriving during a partition", () => {
    const setup = pointToPoint({
      rateBps: Infinity,
      delay: 5_000,
      partitions: [{ start: 100_000, end: 200_000 }],
    });
    sendSeries(setup, 300, 100, 1000);
    setup.loop.run();
    const ids = setup.receiver.received.map((r) => idOf(r.data));
    // sent at i ms, arriving at i + 5 ms: lost when either lies in [100, 200) ms
    const expected = Array.from({ length: 300 }, (_, i) => i).filter((i) => i + 5 < 100 || i >= 200);
    assert.deepEqual(ids, expected);
    assert.equal(setup.link.counters.droppedPartition, 105);
    for (const r of setup.receiver.received) assert.ok(r.at < 100_000 || r.at >= 200_000);
  });
});

describe("Link impairments", () => {
  it("reorders packets at the configured rate", () => {
    const n = 20_000;
    const setup = pointToPoint({ rateBps: Infinity, delay: 10_000, reorderProb: 0.1, reorderDelay: 3_000 });
    sendSeries(setup, n, 200, 1000);
    setup.loop.run();
    const ids = setup.receiver.received.map((r) => idOf(r.data));
    assert.equal(ids.length, n);
    const reordered = setup.link.counters.reordered;
    assert.ok(Math.abs(reordered - 2000) < 200, `reordered ${reordered}`);
    // a held-back packet arrives after exactly the three sent within the next 3 ms
    let late = 0;
    for (let i = 1; i < ids.length; i++) if (ids[i]! < ids[i - 1]!) late++;
    assert.ok(late > 0.8 * reordered && late <= reordered, `${late} inversions`);
  });

  it("duplicates packets at the configured rate, as independent copies", () => {
    const n = 20_000;
    const setup = pointToPoint({ rateBps: Infinity, delay: 1000, duplicateProb: 0.05 });
    const sent = sendSeries(setup, n, 300, 10, 0, true);
    setup.loop.run();
    const received = setup.receiver.received;
    const duplicated = setup.link.counters.duplicated;
    assert.equal(received.length, n + duplicated);
    assert.ok(Math.abs(duplicated - 1000) < 150, `duplicated ${duplicated}`);
    for (let i = 1; i < received.length; i++) {
      if (idOf(received[i]!.data) !== idOf(received[i - 1]!.data)) continue;
      assert.notEqual(received[i]!.data.buffer, received[i - 1]!.data.buffer);
      assert.deepEqual(received[i]!.data, sent.get(idOf(received[i]!.data)));
    }
  });

  it("corrupts exactly one bit of a copy, at the configured rate", () => {
    const n = 20_000;
    const setup = pointToPoint({ rateBps: Infinity, delay: 1000, corruptProb: 0.02 });
    const originals: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      setup.loop.schedule(i * 10, () => {
        const datagram = new Uint8Array(64).fill(0xa5);
        datagram[0] = i & 0xff;
        datagram[1] = i >> 8;
        originals.push(datagram);
        setup.network.send(setup.from, setup.to, datagram);
      });
    }
    setup.loop.run();
    let corrupted = 0;
    setup.receiver.received.forEach((r, i) => {
      const original = originals[i]!;
      let bits = 0;
      for (let b = 0; b < 64; b++) bits += popcount(r.data[b]! ^ original[b]!);
      if (bits > 0) {
        corrupted++;
        assert.equal(bits, 1);
        assert.notEqual(r.data.buffer, original.buffer, "the sender's buffer is not modified");
      }
    });
    assert.equal(corrupted, setup.link.counters.corrupted);
    originals.forEach((original, i) => {
      assert.equal(original[0]! | (original[1]! << 8), i);
      assert.ok(
        original.subarray(2).every((b) => b === 0xa5),
        "the sender's buffer is not modified",
      );
    });
    assert.ok(Math.abs(corrupted - 400) < 80, `corrupted ${corrupted}`);
  });
});

function popcount(x: number): number {
  let bits = 0;
  for (; x !== 0; x &= x - 1) bits++;
  return bits;
}
