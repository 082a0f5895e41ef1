/**
 * The sending side's records (server.md §13): transfer records `transferExpirySeconds` after
 * their endTime, then manifests `manifestExpirySeconds` after creation unless a remaining
 * (unfinished or unexpired) transfer or a live shared token still uses them. Destinations are
 * never collected.
 */
import type { ServerEvents } from "../events.js";
import { FINAL_STATUSES, type ManifestRecord, type TransferRecord } from "../send/records.js";
import type { SendService } from "../send/send-service.js";
import type { GcCollector } from "./garbage-collector.js";
import { expiryAfter, hasExpired, type GarbageCollectSettingsValues } from "./gc-settings.js";

export interface SendCollectorOptions {
  events: ServerEvents;
  /** a live shared token offers this manifest (it stays); none by default */
  isManifestShared?: (manifestId: string) => boolean;
}

type Expiries = Pick<GarbageCollectSettingsValues, "transferExpirySeconds" | "manifestExpirySeconds">;

export function sendCollector(service: SendService, opts: SendCollectorOptions): GcCollector {
  const shared = opts.isManifestShared ?? (() => false);
  return {
    name: "send",
    collect({ now, settings }) {
      const records = service.transfers.transfers;
      let transfers = 0;
      for (const t of [...records.values()]) {
        if (!FINAL_STATUSES.includes(t.status) || !hasExpired(t.endTime, settings.transferExpirySeconds, now))
          continue;
        records.delete(t.transferId);
        service.store.deleteTransfer(t.transferId);
        opts.events.emit("send.transferDeleted", { transferId: t.transferId, reason: "expired" }, t.owner);
        transfers++;
      }
      const used = new Set([...records.values()].map((t) => t.manifestId));
      let manifests = 0;
      for (const m of [...service.manifests.manifests.values()]) {
        if (m.status === "pending" || used.has(m.manifestId) || shared(m.manifestId)) continue;
        if (!hasExpired(m.creationTime, settings.manifestExpirySeconds, now)) continue;
        service.manifests.manifests.delete(m.manifestId);
        service.store.deleteManifest(m.manifestId);
        opts.events.emit("send.manifestDeleted", { manifestId: m.manifestId, reason: "expired" }, m.owner);
        manifests++;
      }
      return { transfers, manifests };
    },
  };
}

/** Transfer.expiryTime (api.md §5.10): endTime + transferExpirySeconds; null while unfinished. */
export function transferExpiryTime(t: TransferRecord, settings: Expiries): number | null {
  return FINAL_STATUSES.includes(t.status) ? expiryAfter(t.endTime, settings.transferExpirySeconds) : null;
}

/**
 * Manifest.expiryTime (api.md §5.8): the first pass may remove it at creation +
 * manifestExpirySeconds, or when the last transfer using it expires if that is later; null while
 * pending, shared, or used by a transfer that is unfinished or kept forever.
 */
export function manifestExpiryTime(
  m: ManifestRecord,
  transfers: Iterable<TransferRecord>,
  settings: Expiries,
  isShared = false,
): number | null {
  if (m.status === "pending" || isShared) return null;
  let expiry = expiryAfter(m.creationTime, settings.manifestExpirySeconds);
  for (const t of transfers) {
    if (expiry === null) return null;
    if (t.manifestId !== m.manifestId) continue;
    const transferExpiry = transferExpiryTime(t, settings);
    expiry = transferExpiry === null ? null : Math.max(expiry, transferExpiry);
  }
  return expiry;
}
