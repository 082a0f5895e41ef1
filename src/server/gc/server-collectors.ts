/**
 * Collectors for what lives in the server state itself: the event log (by age and count), API and
 * shared tokens (deleted at the first pass after their expiryTime; they stop working at it).
 */
import type { EventLog } from "../event-log.js";
import type { ApiTokenStore, SharedTokenStore } from "../tokens/index.js";
import type { GcCollector } from "./garbage-collector.js";

export function eventLogCollector(log: EventLog): GcCollector {
  return {
    name: "eventLog",
    collect: ({ now, settings }) => ({
      events: log.prune(
        settings.eventLogExpirySeconds === 0 ? null : now - settings.eventLogExpirySeconds * 1_000_000,
        settings.eventLogMaxEntries === 0 ? null : settings.eventLogMaxEntries,
      ),
    }),
  };
}

export function apiTokenCollector(store: ApiTokenStore): GcCollector {
  return { name: "apiTokens", collect: ({ now }) => ({ apiTokens: store.deleteExpired(now) }) };
}

export function sharedTokenCollector(store: SharedTokenStore): GcCollector {
  return { name: "sharedTokens", collect: ({ now }) => ({ sharedTokens: store.deleteExpired(now) }) };
}
