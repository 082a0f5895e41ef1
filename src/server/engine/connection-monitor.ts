/**
 * The Connection structure of one destination (the seed, api.md §5.7), built from the live data
 * path once per second into a snapshot, so API reads never touch the data path. Rates are kbps,
 * times microseconds since the epoch.
 */
import { senderStats } from "../../core/endpoint/stats.js";
import { bytesPerSecondToKbps } from "../../core/time.js";
import { toEpochMicros, epochMicrosNow } from "../../io/drivers/clock.js";
import type { UdpSender } from "../../io/drivers/udp-sender.js";

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
  rateControlMethod: string;
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
  rateControlMethod: string;
  /** kbps */
  sendRate: number;
  sendRateMin: number;
  sendRateMax: number;
}

export interface TransferCounts {
  queued: number;
  active: number;
}

interface Tick {
  bytesSent: number;
  dataPacketsSent: number;
  dataPacketsLost: number;
  active: boolean;
}

export class ConnectionMonitor {
  private latest: ConnectionStructure;
  private readonly creationTime = epochMicrosNow();
  private readonly ticks: Tick[] = [];
  private activeSeconds = 0;
  private bytesWhileActive = 0;
  private previous: Tick = { bytesSent: 0, dataPacketsSent: 0, dataPacketsLost: 0, active: false };
  private lastPeer: { serverId: string | null; serverUid: string | null } = {
    serverId: null,
    serverUid: null,
  };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sender: UdpSender,
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
    const stats = senderStats(this.sender.endpoint);
    const socket = this.sender.stats();
    const counts = this.counts();
    const c = stats.counters;
    if (stats.peerServerUid !== null || stats.peerServerId !== null) {
      this.lastPeer = { serverId: stats.peerServerId, serverUid: stats.peerServerUid };
    }
    // Per-second counters: the averages count only seconds in which a transfer was transferring.
    const tick: Tick = {
      bytesSent: c.bytesSent,
      dataPacketsSent: c.dataPacketsSent,
      dataPacketsLost: c.dataPacketsLost,
      active: counts.active > 0,
    };
    const sent = tick.bytesSent - this.previous.bytesSent;
    if (tick.active || this.previous.active) {
      this.activeSeconds++;
      this.bytesWhileActive += sent;
    }
    this.ticks.push({
      bytesSent: sent,
      dataPacketsSent: tick.dataPacketsSent - this.previous.dataPacketsSent,
      dataPacketsLost: tick.dataPacketsLost - this.previous.dataPacketsLost,
      active: tick.active,
    });
    while (this.ticks.length > this.windowSeconds) this.ticks.shift();
    this.previous = tick;
    const windowBytes = this.ticks.reduce((a, t) => a + t.bytesSent, 0);
    const windowSent = this.ticks.reduce((a, t) => a + t.dataPacketsSent, 0);
    const windowLost = this.ticks.reduce((a, t) => a + t.dataPacketsLost, 0);
    const ms = (micros: number | null) => (micros === null ? null : micros / 1000);
    const epoch = (micros: number | null) => (micros === null ? null : Math.round(toEpochMicros(micros)));
    return {
      connectionId: dest.connectionId,
      destinationIP: dest.destinationIP,
      destinationPort: dest.destinationPort,
      destinationPublicKey: null,
      encryptedConnectionState: stats.state,
      encryptionEnabled: stats.cipher !== null && stats.cipher !== "none",
      lastDestinationServerId: this.lastPeer.serverId,
      lastDestinationServerUid: this.lastPeer.serverUid,
      lastError: stats.lastError?.code ?? null,
      lastErrorMessage: stats.lastError
        ? `${dest.destinationIP}:${dest.destinationPort}: ${stats.lastError.message}`
        : null,
      lastRecvTime: epoch(c.lastRecvTime),
      lastSendTime: epoch(c.lastSendTime),
      numTransfersQueued: counts.queued,
      rateControllerActive: stats.rateControllerActive,
      rateControlMethod: dest.rateControlMethod,
      relayIP: null,
      relayPort: null,
      roundTripTimeMs: ms(stats.smoothedRtt),
      senderIP: socket.local.address,
      senderPort: socket.local.port,
      sendRate: dest.sendRate,
      sendRateAverage:
        this.activeSeconds > 0 ? Math.round((this.bytesWhileActive * 8) / 1000 / this.activeSeconds) : 0,
      sendRateAverageWindow: Math.round((windowBytes * 8) / 1000 / this.windowSeconds),
      sendRateMax: dest.sendRateMax,
      sendRateMin: dest.sendRateMin,
      snapshotTime: epochMicrosNow(),
      socketRecvBufferSize: socket.grantedRecvBufferSize,
      socketSendBufferSize: socket.grantedSendBufferSize,
      bottleneckRateEstimate:
        stats.bottleneckEstimate === null ? null : bytesPerSecondToKbps(stats.bottleneckEstimate),
      bytesRecv: c.bytesRecv,
      bytesSent: c.bytesSent,
      cipher: stats.cipher,
      connectTime: epoch(stats.connectTime),
      creationTime: this.creationTime,
      destinationAddress: dest.destinationAddress,
      destinationId: dest.destinationId,
      localPort: dest.localPort,
      lossPercentWindow: windowSent > 0 ? (windowLost / windowSent) * 100 : 0,
      numTransfersActive: counts.active,
      owner: dest.owner,
      pacingRate: stats.pacingRate === null ? 0 : bytesPerSecondToKbps(stats.pacingRate),
      packetsInvalid: c.packetsInvalid,
      packetsLost: c.dataPacketsLost,
      packetsRecv: c.packetsRecv,
      packetsRetransmitted: c.dataPacketsRetransmitted,
      packetsSent: c.packetsSent,
      protocolVersion: stats.protocolVersion,
      receiverRateCap: stats.receiverRateCap === null ? null : bytesPerSecondToKbps(stats.receiverRateCap),
      roundTripTimeMinMs: ms(stats.minRtt),
      roundTripTimeVarMs: ms(stats.rttVariance),
      sendRateWindowSeconds: this.windowSeconds,
    };
  }
}
