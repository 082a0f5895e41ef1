export { EventLoop, SimTimer, type EventId, type RunOptions, type RunResult } from "./event-loop.js";
export { Random } from "../core/util/random.js";
export {
  averageLossRate,
  bernoulli,
  gilbertElliott,
  noLoss,
  type GilbertElliottParams,
  type LossModel,
} from "./loss.js";
export {
  Link,
  LinkPacket,
  bdpBytes,
  type DropReason,
  type JitterDistribution,
  type LinkConfig,
  type LinkCounters,
  type Partition,
} from "./link.js";
export {
  Dumbbell,
  Network,
  hostOf,
  type DumbbellConfig,
  type NetworkCounters,
  type Path,
  type SimNode,
  type TraceEvent,
} from "./network.js";
export {
  TcpFlow,
  TcpReceiver,
  TcpSender,
  TCP_HEADER_BYTES,
  type TcpFlowOptions,
  type TcpSenderStats,
} from "./tcp.js";
export { Cubic, Reno, type TcpCongestionAlgorithm, type TcpCongestionControl } from "./tcp-congestion.js";
export { CounterSampler, bitsPerSecond, jainIndex } from "./stats.js";
