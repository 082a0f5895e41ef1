import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Micros } from "../../src/core/time.js";
import { EventLoop } from "../../src/sim/event-loop.js";
import { bdpBytes, type LinkConfig } from "../../src/sim/link.js";
import { bernoulli } from "../../src/sim/loss.js";
import { Dumbbell, Network } from "../../src/sim/network.js";
import { Random } from "../../src/core/util/random.js";
import { CounterSampler, jainIndex } from "../../src/sim/stats.js";
import { TcpFlow, type TcpFlowOptions } from "../../src/sim/tcp.js";
import type { TcpCongestionAlgorithm } from "../../src/sim/tcp-congestion.js";

const ALGORITHMS: TcpCongestionAlgorithm[] = ["reno", "cubic"];

interface Experiment {
  rateBps: number;
  rtt: Micros;
  forward?: Partial<LinkConfig>;
  flows: Array<Omit<TcpFlowOptions, "from" | "to"> & { startAt?: Micros }>;
  measureFrom: Micros;
  measureTo: Micros;
}

/** TCP flows over a dumbbell with a 1-BDP drop-tail queue; returns each flow's goodput (bit/s) */
function runFlows(experiment: Experiment, seed = 1) {
  const { rateBps, rtt } = experiment;
  const loop = new EventLoop();
  const network = new Network(loop, new Random(seed));
  const dumbbell = new Dumbbell(network, {
    forward: { rateBps, delay: rtt / 2, queueBytes: bdpBytes(rateBps, rtt), ...experiment.forward },
    reverse: { rateBps, delay: rtt / 2 },
  });
  const flows = experiment.flows.map((options, i) => {
    dumbbell.addFlow(`10.1.0.${i}`, `10.2.0.${i}`);
    const flow = new TcpFlow(network, { ...options, from: `10.1.0.${i}:4000`, to: `10.2.0.${i}:80` });
    flow.start(options.startAt ?? 0);
    return flow;
  });
  const sampler = new CounterSampler(
    loop,
    100_000,
    flows.map((flow) => () => flow.deliveredBytes),
  );
  loop.run({ until: experiment.measureTo });
  const goodput = flows.map((_, i) => sampler.rateBps(i, experiment.measureFrom, experiment.measureTo));
  return { goodput, flows, dumbbell, loop };
}

describe("TCP model", () => {
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: fills a 100 Mbit/s, 40 ms path without random loss`, () => {
      const { goodput, flows, dumbbell } = runFlows({
        rateBps: 100e6,
        rtt: 40_000,
        flows: [{ algorithm }],
        measureFrom: 2_000_000,
        measureTo: 10_000_000,
      });
      assert.ok(goodput[0]! > 0.9 * 100e6, `goodput ${goodput[0]}`);
      assert.ok(goodput[0]! <= 100e6 * 1.02);
      assert.equal(dumbbell.forward.counters.droppedLoss, 0);
      assert.ok(flows[0]!.sender.stats.fastRecoveries >= 1, "the queue overflowed at least once");
    });

    it(`${algorithm}: collapses to a few Mbit/s at 1 % loss and 100 ms RTT on 1 Gbit/s (Mathis)`, () => {
      const mss = 1460;
      const { goodput, flows } = runFlows({
        rateBps: 1e9,
        rtt: 100_000,
        forward: { loss: bernoulli(0.01) },
        flows: [{ algorithm, mss }],
        measureFrom: 10_000_000,
        measureTo: 70_000_000,
      });
      const mathis = (1.22 * mss * 8) / (0.1 * Math.sqrt(0.01));
      assert.ok(
        goodput[0]! > 0.5 * mathis && goodput[0]! < 2.5 * mathis,
        `goodput ${goodput[0]} vs ${mathis}`,
      );
      const stats = flows[0]!.sender.stats;
      assert.ok(stats.retransmits > 0.005 * stats.segmentsSent, `${stats.retransmits} retransmits`);
    });

    it(`${algorithm}: two flows share a bottleneck fairly`, () => {
      const { goodput, dumbbell } = runFlows({
        rateBps: 50e6,
        rtt: 40_000,
        flows: [
          { algorithm, startAt: 0 },
          { algorithm, startAt: 500_000 },
        ],
        // CUBIC's congestion epochs last seconds at this BDP, so convergence takes a while
        measureFrom: 10_000_000,
        measureTo: 40_000_000,
      });
      const total = goodput[0]! + goodput[1]!;
      assert.ok(total > 0.9 * 50e6, `total ${total}`);
      assert.ok(jainIndex(goodput) >= 0.9, `shares ${goodput.join(", ")}`);
      assert.ok(dumbbell.forward.counters.droppedQueue > 0);
    });
  }

  it("completes a finite transfer over a badly impaired path", () => {
    const { flows, loop } = runFlows({
      rateBps: 20e6,
      rtt: 30_000,
      forward: {
        loss: bernoulli(0.03),
        reorderProb: 0.02,
        reorderDelay: 5_000,
        duplicateProb: 0.01,
        corruptProb: 0.01,
        jitter: 2_000,
        partitions: [{ start: 500_000, end: 900_000 }],
      },
      flows: [{ algorithm: "cubic", bytes: 2_000_000 }],
      measureFrom: 0,
      measureTo: 60_000_000,
    });
    const flow = flows[0]!;
    assert.ok(flow.done, `delivered ${flow.deliveredBytes}`);
    assert.equal(flow.deliveredBytes, 2_000_000);
    assert.ok(flow.sender.stats.timeouts >= 1, "the partition forces a retransmission timeout");
    assert.ok(loop.now === 60_000_000);
  });

  it("stops sending new data when stopped", () => {
    const { flows } = runFlows({
      rateBps: 10e6,
      rtt: 20_000,
      flows: [{ algorithm: "reno" }],
      measureFrom: 0,
      measureTo: 100_000,
    });
    const flow = flows[0]!;
    flow.stop();
    const sent = flow.sender.stats.segmentsSent;
    flow.sender.start();
    assert.ok(sent > 10);
    assert.equal(flow.sender.stats.segmentsSent, sent);
  });
});
