/**
 * The figures a sender's connection exposes for the server's 1-second snapshots, taken from the
 * live core state. Times are the driver's monotonic microseconds; rates are bytes per second.
 */
import type { Micros } from "../time.js";
import type { ConnectionCounters } from "../transport/counters.js";
import type { SenderEndpoint } from "./sender.js";

export interface SenderStats {
  state: "disconnected" | "negotiating" | "connected";
  counters: ConnectionCounters;
  smoothedRtt: Micros | null;
  rttVariance: Micros | null;
  /** minimum RTT sample of roughly the last 10 to 20 seconds */
  minRtt: Micros | null;
  pacingRate: number | null;
  deliveryRate: number | null;
  /** `adaptive`: the controller's bottleneck estimate */
  bottleneckEstimate: number | null;
  /** data packets declared lost ÷ data packets sent, over the connection's life */
  lossRate: number;
  bytesInFlight: number;
  congestionWindow: number | null;
  receiverRateCap: number | null;
  controllerState: string | null;
  rateControllerActive: boolean;
  cipher: string | null;
  protocolVersion: number | null;
  peerServerId: string | null;
  peerServerUid: string | null;
  connectTime: Micros | null;
  lastError: { code: string; message: string } | null;
}

export function senderStats(endpoint: SenderEndpoint): SenderStats {
  const counters = endpoint.totals();
  const c = endpoint.connection && endpoint.connection.state !== "closed" ? endpoint.connection : null;
  const live = c?.state === "established" ? c : null;
  const controller = c?.rateController ?? null;
  return {
    state: endpoint.state,
    counters,
    smoothedRtt: live?.rtt.hasSample ? live.rtt.smoothed : null,
    rttVariance: live?.rtt.hasSample ? live.rtt.variance : null,
    minRtt: live?.rtt.recentMin() ?? null,
    pacingRate: live ? live.pacingRate() : null,
    deliveryRate: live && live.deliveryRate > 0 ? live.deliveryRate : null,
    bottleneckEstimate: controller?.bottleneckEstimate?.() ?? null,
    lossRate: counters.dataPacketsSent > 0 ? counters.dataPacketsLost / counters.dataPacketsSent : 0,
    bytesInFlight: c?.bytesInFlight ?? 0,
    congestionWindow: controller?.congestionWindow() ?? null,
    receiverRateCap: live?.receiverRateCap() ?? null,
    controllerState: controller?.stateName() ?? null,
    rateControllerActive: controller ? controller.active : endpoint.rateControlMethod !== "fixed",
    cipher: live?.peer?.cipher ?? null,
    protocolVersion: live?.peer?.protocolVersion ?? null,
    peerServerId: live?.peer?.serverId ?? null,
    peerServerUid: live?.peer?.serverUid ?? null,
    connectTime: live?.connectTime ?? null,
    lastError: endpoint.lastError,
  };
}
