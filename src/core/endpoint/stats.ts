/**
 * The figures a sender's connection exposes for the server's 1-second snapshots, taken from the
 * live core state. Times are the driver's monotonic microseconds; rates are bytes per second.
 */
import type { Micros } from "../time.js";
import type { ConnectionCounters } from "../transport/counters.js";
import type { SenderEndpoint } from "./sender.js";
import type { ReceiverEndpoint } from "./receiver.js";
import type { Connection } from "../transport/connection.js";
import { AeadProtection, type ProtectionStats } from "../crypto/aead-protection.js";
import { encodePublicKey } from "../crypto/keys.js";

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
  /** negotiated cipher is not none; before a handshake, whether the configuration encrypts */
  encryptionEnabled: boolean;
  /** the receiver's key (base64url) the handshake requires: given, or learned on first use; null before */
  peerPublicKey: string | null;
  /** the live session learned peerPublicKey by trust on first use: the caller should pin it */
  peerKeyLearned: boolean;
  /** AEAD drops of the live session (replayed, too old, unauthentic) and key updates; null if none */
  protection: ProtectionStats | null;
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
    encryptionEnabled: endpoint.encryptionEnabled,
    peerPublicKey: endpoint.peerPublicKey ? encodePublicKey(endpoint.peerPublicKey) : null,
    peerKeyLearned: live?.peer?.keyLearned ?? false,
    protection: live ? protectionStats(live) : null,
    protocolVersion: live?.peer?.protocolVersion ?? null,
    peerServerId: live?.peer?.serverId ?? null,
    peerServerUid: live?.peer?.serverUid ?? null,
    connectTime: live?.connectTime ?? null,
    lastError: endpoint.lastError,
  };
}

function protectionStats(c: Connection): ProtectionStats | null {
  const p = c.packetProtection;
  return p instanceof AeadProtection ? { ...p.stats } : null;
}

/** What a receiver knows of one session's sender, e.g. to credit its transfers to the key's user. */
export interface ReceiverSessionStats {
  /** the initiator's static public key (base64url), proven by the handshake; null for a plain session */
  peerPublicKey: string | null;
  cipher: string;
  encryptionEnabled: boolean;
  protocolVersion: number;
  peerServerId: string | null;
  peerServerUid: string | null;
  protection: ProtectionStats | null;
  counters: ConnectionCounters;
}

export function receiverSessionStats(
  endpoint: ReceiverEndpoint,
  sessionId: string,
): ReceiverSessionStats | null {
  const c = endpoint.session(sessionId);
  if (!c?.peer) return null;
  return {
    peerPublicKey: c.peer.publicKey,
    cipher: c.peer.cipher,
    encryptionEnabled: c.peer.cipher !== "none",
    protocolVersion: c.peer.protocolVersion,
    peerServerId: c.peer.serverId,
    peerServerUid: c.peer.serverUid,
    protection: protectionStats(c),
    counters: c.counters,
  };
}
