/**
 * Sources (api.md §5.13): one per sending server, keyed by its serverUid, known from the sessions
 * it opened since start or from kept receive records. UDP counters are summed over its sessions
 * (the core connection objects are held until the session closes, then folded into totals).
 */
import type { ConnectionCounters } from "../../core/transport/counters.js";
import type { Connection } from "../../core/transport/connection.js";
import { bytesPerSecondToKbps } from "../../core/time.js";
import { toEpochMicros } from "../../io/drivers/clock.js";
import type { ReceiveTransferView } from "./recv-records.js";

export interface SourceView {
  activeTransferCount: number;
  authorized: boolean;
  aveRecvRate: number;
  aveRecvRateWindow: number;
  bytesRecv: number;
  cancelledTransferCount: number;
  completeTransferCount: number;
  encryptedConnectionState: "disconnected" | "negotiating" | "connected";
  encryptionEnabled: boolean;
  errorTransferCount: number;
  firstSeenTime: number;
  inactiveTransferCount: number;
  lastRecvTime: number | null;
  lastSendTime: number | null;
  packetsInvalid: number;
  packetsRecv: number;
  snapshotTime: number;
  sourceIP: string;
  sourcePort: number;
  sourcePublicKey: string | null;
  sourceServerId: string | null;
  sourceServerUid: string;
}

interface Totals {
  bytesRecv: number;
  packetsRecv: number;
  packetsInvalid: number;
  lastRecvTime: number | null;
  lastSendTime: number | null;
}

export class SourceTracker {
  readonly sessions = new Map<string, Connection>();
  private readonly retired: Totals = {
    bytesRecv: 0,
    packetsRecv: 0,
    packetsInvalid: 0,
    lastRecvTime: null,
    lastSendTime: null,
  };
  private activeSeconds = 0;
  private bytesWhileActive = 0;
  private readonly window: Array<{ bytes: number; seconds: number }> = [];
  private rateWindow = 0;
  view: SourceView;

  constructor(sourceServerUid: string, firstSeenTime: number) {
    this.view = {
      activeTransferCount: 0,
      authorized: false,
      aveRecvRate: 0,
      aveRecvRateWindow: 0,
      bytesRecv: 0,
      cancelledTransferCount: 0,
      completeTransferCount: 0,
      encryptedConnectionState: "disconnected",
      encryptionEnabled: false,
      errorTransferCount: 0,
      firstSeenTime,
      inactiveTransferCount: 0,
      lastRecvTime: null,
      lastSendTime: null,
      packetsInvalid: 0,
      packetsRecv: 0,
      snapshotTime: firstSeenTime,
      sourceIP: "",
      sourcePort: 0,
      sourcePublicKey: null,
      sourceServerId: null,
      sourceServerUid,
    };
  }

  opened(session: string, connection: Connection, ip: string, port: number): void {
    this.sessions.set(session, connection);
    const peer = connection.peer;
    this.view.sourceIP = ip;
    this.view.sourcePort = port;
    this.view.sourcePublicKey = peer?.publicKey ?? null;
    this.view.sourceServerId = peer?.serverId ?? null;
    this.view.encryptionEnabled = (peer?.cipher ?? "none") !== "none";
  }

  closed(session: string): void {
    const c = this.sessions.get(session);
    if (!c) return;
    this.sessions.delete(session);
    const t = this.retired;
    t.bytesRecv += c.counters.bytesRecv;
    t.packetsRecv += c.counters.packetsRecv;
    t.packetsInvalid += c.counters.packetsInvalid;
    t.lastRecvTime = latest(t.lastRecvTime, epoch(c.counters.lastRecvTime));
    t.lastSendTime = latest(t.lastSendTime, epoch(c.counters.lastSendTime));
  }

  /** Adds a record that came from this source (the first seen time goes back to its start). */
  noteRecord(r: ReceiveTransferView): void {
    this.view.firstSeenTime = Math.min(this.view.firstSeenTime, r.startTime);
    if (this.sessions.size === 0 && !this.view.sourceIP) {
      this.view.sourceIP = r.sourceIP;
      this.view.sourcePort = r.sourcePort;
      this.view.sourcePublicKey = r.sourcePublicKey;
      this.view.sourceServerId = r.sourceServerId;
      this.view.encryptionEnabled = r.encryptionEnabled;
    }
  }

  /**
   * Rebuilds the view: `records` are this source's receive records, `fileBytes` the file data its
   * transfers brought in `seconds`, `active` whether one of them was receiving.
   */
  update(
    now: number,
    records: readonly ReceiveTransferView[],
    fileBytes: number,
    seconds: number,
    active: boolean,
    authorized: boolean,
    rateWindowSeconds: number,
    peerTimeoutMicros: number,
  ): void {
    const v = this.view;
    const totals = { ...this.retired };
    for (const c of this.sessions.values()) addCounters(totals, c.counters);
    v.bytesRecv = totals.bytesRecv;
    v.packetsRecv = totals.packetsRecv;
    v.packetsInvalid = totals.packetsInvalid;
    v.lastRecvTime = latest(v.lastRecvTime, totals.lastRecvTime);
    v.lastSendTime = latest(v.lastSendTime, totals.lastSendTime);
    v.encryptedConnectionState = this.sessions.size > 0 ? "connected" : "disconnected";
    v.authorized = authorized;
    v.snapshotTime = now;
    const count = (status: string) => records.filter((r) => r.status === status).length;
    v.activeTransferCount = count("receiving");
    v.completeTransferCount = count("complete");
    v.errorTransferCount = count("error");
    v.cancelledTransferCount = count("cancelled");
    v.inactiveTransferCount = records.filter(
      (r) =>
        r.status === "suspended" ||
        (r.status === "receiving" && (r.lastRecvTime ?? r.startTime) < now - peerTimeoutMicros),
    ).length;
    if (active) {
      this.activeSeconds += seconds;
      this.bytesWhileActive += fileBytes;
      this.window.push({ bytes: fileBytes, seconds });
    }
    this.rateWindow = rateWindowSeconds;
    let ws = 0;
    let wb = 0;
    for (let i = this.window.length - 1; i >= 0; i--) {
      if (ws >= this.rateWindow) {
        this.window.splice(0, i + 1);
        break;
      }
      ws += this.window[i]!.seconds;
      wb += this.window[i]!.bytes;
    }
    v.aveRecvRate =
      this.activeSeconds > 0 ? bytesPerSecondToKbps(this.bytesWhileActive / this.activeSeconds) : 0;
    v.aveRecvRateWindow = active && ws > 0 ? bytesPerSecondToKbps(wb / ws) : 0;
  }
}

function addCounters(t: Totals, c: ConnectionCounters): void {
  t.bytesRecv += c.bytesRecv;
  t.packetsRecv += c.packetsRecv;
  t.packetsInvalid += c.packetsInvalid;
  t.lastRecvTime = latest(t.lastRecvTime, epoch(c.lastRecvTime));
  t.lastSendTime = latest(t.lastSendTime, epoch(c.lastSendTime));
}

function epoch(monotonic: number | null): number | null {
  return monotonic === null ? null : toEpochMicros(monotonic);
}

function latest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
