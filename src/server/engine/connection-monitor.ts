/**
 * The Connection structure of one destination (the seed, api.md §5.7), built from the live data
 * path once per second into a snapshot, so API reads never touch the data path. Rates are kbps,
 * times microseconds since the epoch.
 */
import { senderStats } from "../../core/endpoint/stats.js";
import { bytesPerSecondToKbps } from "../../core/time.js";
import { toEpochMicros, epochMicrosNow } from "../../io/drivers/clock.js";
import type { UdpSender } from "../../io/drivers/udp-sender.js";
import type { RateControl } from "../send/records.js";

export interface ConnectionStructure {
  connectionId: string;
  destinationIP: string;
  destinationPort: number;
  destinationPublicKey: string | null;
  encryptedConnectionState: "disconnected" | "negotiating" | "connected";
  encryptionEnabled: boolean;
  lastDestinationServerId: string | null;
  lastDestinationServerUid: string | null;
  lastError: string | null;
  lastErrorMessage: string | null;
  lastRecvTime: number | null;
  lastSendTime: number | null;
  numTransfersQueued: number;
  rateControllerActive: boolean;
  rateControlMethod: RateControl;
  relayIP: string | null;
  relayPort: number | null;
  roundTripTimeMs: number | null;
  senderIP: string;
  senderPort: number;
  sendRate: number;
  sendRateAverage: number;
  sendRateAverageWindow: number;
  sendRateMax: number;
  sendRateMin: number;
  snapshotTime: number;
  socketRecvBufferSize: number;
  socketSendBufferSize: number;
  // added fields
  bottleneckRateEstimate: number | null;
  bytesRecv: number;
  bytesSent: number;
  cipher: string | null;
  connectTime: number | null;
  creationTime: number;
  destinationAddress: string;
  destinationId: string;
  localPort: number;
  lossPercentWindow: number;
  numTransfersActive: number;
  owner: string;
  pacingRate: number;
  packetsInvalid: number;
  packetsLost: number;
  packetsRecv: number;
  packetsRetransmitted: number;
  packetsSent: number;
  protocolVersion: number | null;
  receiverRateCap: number | null;
  roundTripTimeMinMs: number | null;
  roundTripTimeVarMs: number | null;
  sendRateWindowSeconds: number;
}

/** What the destination object says about its connection (configuration, not measurement). */
export interface DestinationView {
  connectionId: string;
  destinationId: string;
  destinationAddress: string;
  destinationIP: string;
  destinationPort: number;
  localPort: number;
  owner: string;
  rateControlMethod: RateControl;
  /** kbps */
  sendRate: number;
  sendRateMin: number;
  sendRateMax: number;
  destinationPublicKey?: string | null;
  relayIP?: string | null;
  relayPort?: number | null;
  /** an error outside the session (DNS, socket bind); takes precedence over the session's */
  linkError?: { code: string; message: string } | null;
}

export interface TransferCounts {
  queued: number;
  active: number;
}

const NO_COUNTERS = {
  bytesSent: 0,
  bytesRecv: 0,
  packetsSent: 0,
  packetsRecv: 0,
  packetsInvalid: 0,
  dataPacketsSent: 0,
  dataPacketsLost: 0,
  dataPacketsRetransmitted: 0,
};
type Cumulative = typeof NO_COUNTERS;

interface Tick {
  bytesSent: number;
  dataPacketsSent: number;
  dataPacketsLost: number;
  active: boolean;
  /** seconds this tick covers, measured (a late timer must not inflate the rates) */
  seconds: number;
}

export class ConnectionMonitor {
  private latest: ConnectionStructure;
  private readonly creationTime = epochMicrosNow();
  private readonly ticks: Tick[] = [];
  private activeSeconds = 0;
  private bytesWhileActive = 0;
  private previous: Tick = {
    bytesSent: 0,
    dataPacketsSent: 0,
    dataPacketsLost: 0,
    active: false,
    seconds: 0,
  };
  private lastBuild = performance.now();
  private lastPeer: { serverId: string | null; serverUid: string | null } = {
    serverId: null,
    serverUid: null,
  };
  private timer: NodeJS.Timeout | null = null;
  /** totals of senders replaced since (a reconnect with new settings opens a new socket) */
  private base: Cumulative = { ...NO_COUNTERS };
  private current: UdpSender | null = null;
  private currentTotals: Cumulative = { ...NO_COUNTERS };
  private lastTimes = { send: null as number | null, recv: null as number | null };

  /** `sender` may be absent (address not resolved yet, socket not bound) or replaced over time. */
  constructor(
    private readonly sender: () => UdpSender | null,
    private readonly destination: () => DestinationView,
    private readonly counts: () => TransferCounts,
    private readonly windowSeconds = 5,
  ) {
    this.latest = this.build();
  }

  /** Starts the once-per-second snapshots; `onSnapshot` sees each new one. */
  start(onSnapshot?: (c: ConnectionStructure) => void): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.latest = this.build();
      onSnapshot?.(this.latest);
    }, 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The latest snapshot: what the API returns. */
  get snapshot(): ConnectionStructure {
    return this.latest;
  }

  private build(): ConnectionStructure {
    const dest = this.destination();
    const sender = this.sender();
    if (sender !== this.current) {
      this.base = add(this.base, this.currentTotals);
      this.current = sender;
      this.currentTotals = { ...NO_COUNTERS };
    }
    const stats = sender ? senderStats(sender.endpoint) : null;
    const socket = sender?.stats() ?? null;
    const counts = this.counts();
    if (stats) {
      const t = stats.counters;
      this.currentTotals = {
        bytesSent: t.bytesSent,
        bytesRecv: t.bytesRecv,
        packetsSent: t.packetsSent,
        packetsRecv: t.packetsRecv,
        packetsInvalid: t.packetsInvalid,
        dataPacketsSent: t.dataPacketsSent,
        dataPacketsLost: t.dataPacketsLost,
        dataPacketsRetransmitted: t.dataPacketsRetransmitted,
      };
      this.lastTimes = {
        send: t.lastSendTime === null ? this.lastTimes.send : toEpochMicros(t.lastSendTime),
        recv: t.lastRecvTime === null ? this.lastTimes.recv : toEpochMicros(t.lastRecvTime),
      };
    }
    const c = add(this.base, this.currentTotals);
    const error = dest.linkError ?? stats?.lastError ?? null;
    if (stats && (stats.peerServerUid !== null || stats.peerServerId !== null)) {
      this.lastPeer = { serverId: stats.peerServerId, serverUid: stats.peerServerUid };
    }
    // Per-second counters: the averages count only seconds in which a transfer was transferring.
    const now = performance.now();
    const seconds = (now - this.lastBuild) / 1000;
    this.lastBuild = now;
    const tick: Tick = {
      bytesSent: c.bytesSent,
      dataPacketsSent: c.dataPacketsSent,
      dataPacketsLost: c.dataPacketsLost,
      active: counts.active > 0,
      seconds,
    };
    const sent = tick.bytesSent - this.previous.bytesSent;
    if (tick.active || this.previous.active) {
      this.activeSeconds += seconds;
      this.bytesWhileActive += sent;
    }
    this.ticks.push({
      bytesSent: sent,
      dataPacketsSent: tick.dataPacketsSent - this.previous.dataPacketsSent,
      dataPacketsLost: tick.dataPacketsLost - this.previous.dataPacketsLost,
      active: tick.active,
      seconds,
    });
    while (this.ticks.length > this.windowSeconds) this.ticks.shift();
    this.previous = tick;
    const windowSeconds = this.ticks.reduce((a, t) => a + t.seconds, 0);
    const windowBytes = this.ticks.reduce((a, t) => a + t.bytesSent, 0);
    const windowSent = this.ticks.reduce((a, t) => a + t.dataPacketsSent, 0);
    const windowLost = this.ticks.reduce((a, t) => a + t.dataPacketsLost, 0);
    const ms = (micros: number | null) => (micros === null ? null : micros / 1000);
    const epoch = (micros: number | null) => (micros === null ? null : Math.round(toEpochMicros(micros)));
    return {
      connectionId: dest.connectionId,
      destinationIP: dest.destinationIP,
      destinationPort: dest.destinationPort,
      destinationPublicKey: dest.destinationPublicKey ?? null,
      encryptedConnectionState: stats?.state ?? "disconnected",
      encryptionEnabled: stats?.encryptionEnabled ?? false,
      lastDestinationServerId: this.lastPeer.serverId,
      lastDestinationServerUid: this.lastPeer.serverUid,
      lastError: error?.code ?? null,
      lastErrorMessage: error
        ? `${dest.destinationIP || dest.destinationAddress}:${dest.destinationPort}: ${error.message}`
        : null,
      lastRecvTime: this.lastTimes.recv === null ? null : Math.round(this.lastTimes.recv),
      lastSendTime: this.lastTimes.send === null ? null : Math.round(this.lastTimes.send),
      numTransfersQueued: counts.queued,
      rateControllerActive: stats?.rateControllerActive ?? dest.rateControlMethod !== "fixed",
      rateControlMethod: dest.rateControlMethod,
      relayIP: dest.relayIP ?? null,
      relayPort: dest.relayPort ?? null,
      roundTripTimeMs: ms(stats?.smoothedRtt ?? null),
      senderIP: socket?.local.address ?? "",
      senderPort: socket?.local.port ?? 0,
      sendRate: dest.sendRate,
      sendRateAverage:
        this.activeSeconds > 0 ? Math.round((this.bytesWhileActive * 8) / 1000 / this.activeSeconds) : 0,
      sendRateAverageWindow: windowSeconds > 0 ? Math.round((windowBytes * 8) / 1000 / windowSeconds) : 0,
      sendRateMax: dest.sendRateMax,
      sendRateMin: dest.sendRateMin,
      snapshotTime: epochMicrosNow(),
      socketRecvBufferSize: socket?.grantedRecvBufferSize ?? 0,
      socketSendBufferSize: socket?.grantedSendBufferSize ?? 0,
      bottleneckRateEstimate:
        stats?.bottleneckEstimate == null ? null : bytesPerSecondToKbps(stats.bottleneckEstimate),
      bytesRecv: c.bytesRecv,
      bytesSent: c.bytesSent,
      cipher: stats?.cipher ?? null,
      connectTime: epoch(stats?.connectTime ?? null),
      creationTime: this.creationTime,
      destinationAddress: dest.destinationAddress,
      destinationId: dest.destinationId,
      localPort: dest.localPort,
      lossPercentWindow: windowSent > 0 ? (windowLost / windowSent) * 100 : 0,
      numTransfersActive: counts.active,
      owner: dest.owner,
      pacingRate: stats?.pacingRate == null ? 0 : bytesPerSecondToKbps(stats.pacingRate),
      packetsInvalid: c.packetsInvalid,
      packetsLost: c.dataPacketsLost,
      packetsRecv: c.packetsRecv,
      packetsRetransmitted: c.dataPacketsRetransmitted,
      packetsSent: c.packetsSent,
      protocolVersion: stats?.protocolVersion ?? null,
      receiverRateCap: stats?.receiverRateCap == null ? null : bytesPerSecondToKbps(stats.receiverRateCap),
      roundTripTimeMinMs: ms(stats?.minRtt ?? null),
      roundTripTimeVarMs: ms(stats?.rttVariance ?? null),
      sendRateWindowSeconds: this.windowSeconds,
    };
  }
}

function add(a: Cumulative, b: Cumulative): Cumulative {
  const sum = { ...a };
  for (const key of Object.keys(sum) as (keyof Cumulative)[]) sum[key] += b[key];
  return sum;
}
