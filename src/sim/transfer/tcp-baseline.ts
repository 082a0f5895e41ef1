/** A TCP flow (the simulator's Reno/CUBIC model) alone on the same path, for comparisons. */
import { EventLoop } from "../event-loop.js";
import { Random } from "../../core/util/random.js";
import { Network } from "../network.js";
import { bdpBytes } from "../link.js";
import { bernoulli, noLoss } from "../loss.js";
import { TcpFlow } from "../tcp.js";

export function tcpBaselineBps(opts: {
  rateMbit: number;
  rttMs: number;
  lossPct: number;
  algorithm: "reno" | "cubic";
  seconds: number;
  seed?: string;
}): number {
  const loop = new EventLoop();
  const network = new Network(loop, new Random(opts.seed ?? "tcp-baseline"));
  const rateBps = opts.rateMbit * 1e6;
  const rtt = opts.rttMs * 1000;
  const queueBytes = Math.max(64 * 1024, bdpBytes(rateBps, rtt));
  network.connect(
    "10.0.1.1",
    "10.0.1.2",
    { rateBps, delay: rtt / 2, queueBytes, loss: opts.lossPct ? bernoulli(opts.lossPct / 100) : noLoss },
    { rateBps, delay: rtt / 2, queueBytes },
  );
  const flow = new TcpFlow(network, {
    from: "10.0.1.1:1000",
    to: "10.0.1.2:2000",
    algorithm: opts.algorithm,
  });
  flow.start(0);
  loop.run({ until: opts.seconds * 1e6 });
  return (flow.deliveredBytes * 8) / opts.seconds;
}
