/**
 * Several flows sharing one bottleneck: Slipstream senders (each with its own receiver) and TCP
 * model flows. Reports each flow's throughput over a measurement window and Jain's index.
 */
import type { RateControlMethod } from "../../core/congestion/controller.js";
import { DEFAULT_CONNECTION_CONFIG } from "../../core/transport/connection.js";
import { SenderEndpoint } from "../../core/endpoint/sender.js";
import { ReceiverEndpoint } from "../../core/endpoint/receiver.js";
import type { SendTransfer } from "../../core/transfer/send-transfer.js";
import { EventLoop } from "../event-loop.js";
import { Random } from "../../core/util/random.js";
import { Dumbbell, Network } from "../network.js";
import { bdpBytes } from "../link.js";
import { bernoulli, noLoss } from "../loss.js";
import { TcpFlow } from "../tcp.js";
import { jainIndex } from "../stats.js";
import { SimReceiverNode, SimSenderNode } from "./nodes.js";
import { SyntheticFile } from "./synthetic-files.js";

export type CompetingFlow =
  | { kind: "slipstream"; method: RateControlMethod; startS?: number }
  | { kind: "tcp"; algorithm: "reno" | "cubic"; startS?: number };

export interface CompetitionScenario {
  seed: number | string;
  rateMbit: number;
  rttMs: number;
  lossPct?: number;
  queueBdp?: number;
  flows: CompetingFlow[];
  durationS: number;
  /** throughput is measured from here to the end */
  measureFromS: number;
}

export interface CompetitionResult {
  throughputBps: number[];
  /** each flow's share of the bottleneck rate */
  shares: number[];
  jain: number;
  /** sum of throughputs over the bottleneck rate */
  utilization: number;
  peakQueueDelay: number;
}

export function runCompetition(s: CompetitionScenario): CompetitionResult {
  const rng = new Random(s.seed);
  const loop = new EventLoop();
  const network = new Network(loop, rng.fork("network"));
  const rateBps = s.rateMbit * 1e6;
  const rtt = s.rttMs * 1000;
  const queueBytes = Math.max(64 * 1024, Math.round((s.queueBdp ?? 1) * bdpBytes(rateBps, rtt)));
  const path = new Dumbbell(network, {
    forward: { rateBps, delay: rtt / 2, queueBytes, loss: s.lossPct ? bernoulli(s.lossPct / 100) : noLoss },
    reverse: { rateBps, delay: rtt / 2, queueBytes },
  });
  const delivered: Array<() => number> = [];
  const ids = rng.fork("ids");
  s.flows.forEach((flow, i) => {
    const left = `10.0.0.${i + 1}`;
    const right = `10.0.1.${i + 1}`;
    path.addFlow(left, right);
    const start = (flow.startS ?? 0) * 1e6;
    if (flow.kind === "tcp") {
      const tcp = new TcpFlow(network, {
        from: `${left}:1000`,
        to: `${right}:2000`,
        algorithm: flow.algorithm,
      });
      tcp.start(start);
      delivered.push(() => tcp.deliveredBytes);
      return;
    }
    const config = {
      ...DEFAULT_CONNECTION_CONFIG,
      rateControlMethod: flow.method,
      pacerMaxBurst: 0,
      windowRttFloor: 0,
    };
    const sender = new SenderEndpoint({
      config: { ...config },
      local: { serverId: null, serverUid: null },
      randomBytes: (n) => Uint8Array.from({ length: n }, () => ids.int(256)),
    });
    const receiver = new ReceiverEndpoint({
      config: { ...config },
      local: { serverId: null, serverUid: null },
    });
    const senderNode = new SimSenderNode(`${left}:5000`, `${right}:8886`, loop, network, sender, 50);
    const receiverNode = new SimReceiverNode(
      `${right}:8886`,
      loop,
      network,
      receiver,
      { writeRate: Infinity },
      false,
    );
    network.attach(senderNode);
    network.attach(receiverNode);
    const size = Math.ceil(((rateBps / 8) * s.durationS * 2) / 1e6) * 1e6;
    const id = `c0ffee${String(i).padStart(26, "0")}`;
    senderNode.sources.set(id, [new SyntheticFile(`${s.seed}:${i}`, size)]);
    let transfer: SendTransfer | null = null;
    loop.schedule(start, () => {
      transfer = sender.addTransfer(loop.now, {
        id,
        destinationPath: "",
        overwrite: "always",
        files: [{ path: `flow-${i}.bin`, size, mtime: 0 }],
      });
      senderNode.pump();
    });
    delivered.push(() => transfer?.bytesAcked ?? 0);
  });
  const from = s.measureFromS * 1e6;
  let atStart: number[] = [];
  loop.schedule(from, () => {
    atStart = delivered.map((d) => d());
  });
  loop.run({ until: s.durationS * 1e6 });
  const seconds = s.durationS - s.measureFromS;
  const throughputBps = delivered.map((d, i) => ((d() - (atStart[i] ?? 0)) * 8) / seconds);
  return {
    throughputBps,
    shares: throughputBps.map((t) => t / rateBps),
    jain: jainIndex(throughputBps),
    utilization: throughputBps.reduce((a, b) => a + b, 0) / rateBps,
    peakQueueDelay: path.forward.counters.peakQueueDelay,
  };
}
