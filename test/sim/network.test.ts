import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { EventLoop } from "../../src/sim/event-loop.js";
import { gilbertElliott } from "../../src/sim/loss.js";
import { Dumbbell, Network, hostOf, type TraceEvent } from "../../src/sim/network.js";
import { Random } from "../../src/core/util/random.js";
import { TcpFlow } from "../../src/sim/tcp.js";
import { Recorder, idOf, numbered } from "./helpers.js";

describe("Network", () => {
  it("extracts hosts from addresses", () => {
    assert.equal(hostOf("10.0.0.1:5000"), "10.0.0.1");
    assert.equal(hostOf("[::1]:5000"), "[::1]");
    assert.equal(hostOf("[::1]"), "[::1]");
    assert.equal(hostOf("server"), "server");
  });

  it("routes by host over each direction's link and counts undeliverable datagrams", () => {
    const loop = new EventLoop();
    const network = new Network(loop, new Random(1));
    const path = network.connect(
      "10.0.0.1",
      "10.0.0.2",
      { rateBps: Infinity, delay: 1000 },
      { rateBps: Infinity, delay: 3000 },
    );
    const a = new Recorder("10.0.0.1:1");
    const b = new Recorder("10.0.0.2:2");
    const b2 = new Recorder("10.0.0.2:3");
    [a, b, b2].forEach((node) => network.attach(node));
    network.send(a.address, b.address, numbered(1, 100));
    network.send(a.address, b2.address, numbered(2, 100));
    network.send(b.address, a.address, numbered(3, 100));
    network.send(a.address, "10.0.0.2:4", numbered(4, 100));
    network.send(a.address, "10.0.0.9:1", numbered(5, 100));
    loop.run();
    assert.deepEqual(
      b.received.map((r) => [r.at, idOf(r.data), r.from]),
      [[1000, 1, a.address]],
    );
    assert.deepEqual(
      b2.received.map((r) => [r.at, idOf(r.data)]),
      [[1000, 2]],
    );
    assert.deepEqual(
      a.received.map((r) => [r.at, idOf(r.data), r.from]),
      [[3000, 3, b.address]],
    );
    assert.deepEqual(network.counters, {
      sent: 5,
      delivered: 3,
      droppedNoRoute: 1,
      droppedUnknownDestination: 1,
    });
    assert.equal(path.forward.counters.sent, 3);
    assert.equal(path.reverse.counters.sent, 1);
  });

  it("shares one bottleneck between dumbbell flows, each with its own access delay", () => {
    const loop = new EventLoop();
    const network = new Network(loop, new Random(1));
    const dumbbell = new Dumbbell(network, {
      forward: { rateBps: 8_000_000, delay: 10_000 },
      reverse: { rateBps: Infinity, delay: 20_000 },
    });
    dumbbell.addFlow("10.1.0.1", "10.2.0.1", 0);
    dumbbell.addFlow("10.1.0.2", "10.2.0.2", 5_000);
    const r1 = new Recorder("10.2.0.1:80");
    const r2 = new Recorder("10.2.0.2:80");
    const back = new Recorder("10.1.0.2:1");
    [r1, r2, back].forEach((node) => network.attach(node));
    // 1,000 bytes at 8 Mbit/s: 1 ms each, alternating flows through the same queue
    for (let i = 0; i < 4; i++) {
      network.send("10.1.0.1:1", r1.address, numbered(i, 1000));
      network.send("10.1.0.2:1", r2.address, numbered(i, 1000));
    }
    network.send(r2.address, back.address, numbered(9, 100));
    loop.run();
    assert.deepEqual(
      r1.received.map((r) => r.at),
      [11_000, 13_000, 15_000, 17_000],
    );
    assert.deepEqual(
      r2.received.map((r) => r.at),
      [17_000, 19_000, 21_000, 23_000],
    );
    assert.deepEqual(
      back.received.map((r) => r.at),
      [25_000],
    );
    assert.equal(dumbbell.forward.counters.peakQueueBytes, 7000);
  });
});

/** a busy, impaired scenario; returns a digest of everything that happened */
function scenario(seed: string): { digest: string; events: number } {
  const loop = new EventLoop();
  const network = new Network(loop, new Random(seed));
  const dumbbell = new Dumbbell(network, {
    forward: {
      rateBps: 20e6,
      delay: 15_000,
      jitter: 2_000,
      queueBytes: 60_000,
      loss: gilbertElliott({ pGoodToBad: 0.01, pBadToGood: 0.3, lossInGood: 0.001, lossInBad: 0.5 }),
      reorderProb: 0.01,
      reorderDelay: 4_000,
      duplicateProb: 0.01,
      corruptProb: 0.01,
      partitions: [{ start: 1_500_000, end: 1_700_000 }],
    },
    reverse: { rateBps: 20e6, delay: 15_000, jitter: 1_000, jitterDistribution: "normal" },
  });
  dumbbell.addFlow("10.1.0.1", "10.2.0.1", 1_000);
  dumbbell.addFlow("10.1.0.2", "10.2.0.2", 3_000);
  const tcp = new TcpFlow(network, { from: "10.1.0.1:1", to: "10.2.0.1:80", algorithm: "cubic" });
  tcp.start(0);
  const sink = new Recorder("10.2.0.2:80");
  network.attach(sink);
  const rng = new Random(seed).fork("app");
  for (let i = 0; i < 2000; i++) {
    loop.schedule(i * 1000, () => network.send("10.1.0.2:1", sink.address, numbered(i, 200 + rng.int(1000))));
  }
  const hash = createHash("sha256");
  network.trace = (e: TraceEvent) => hash.update(JSON.stringify(e));
  loop.run({ until: 3_000_000 });
  for (const r of sink.received) hash.update(`${r.at}:${Buffer.from(r.data).toString("hex")}`);
  hash.update(JSON.stringify([dumbbell.forward.counters, dumbbell.reverse.counters, network.counters]));
  hash.update(JSON.stringify([tcp.deliveredBytes, tcp.sender.stats, tcp.cwndBytes]));
  return { digest: hash.digest("hex"), events: loop.eventsRun };
}

describe("Determinism", () => {
  it("replays identically for the same seed and differently for another", () => {
    const first = scenario("alpha");
    assert.ok(first.events > 5_000);
    assert.deepEqual(scenario("alpha"), first);
    assert.notEqual(scenario("beta").digest, first.digest);
  });
});
