/**
 * Lifetime settings (api.md §5.18, server.md §13) and the result of one collection pass. Every
 * expiry is in seconds; `0` keeps those objects forever (for `eventLogMaxEntries`: no count limit).
 */
import { ServiceError } from "../errors.js";

export interface GarbageCollectSettingsValues {
  intervalSeconds: number;
  transferExpirySeconds: number;
  manifestExpirySeconds: number;
  recvTransferExpirySeconds: number;
  requestExpirySeconds: number;
  eventLogExpirySeconds: number;
  eventLogMaxEntries: number;
}

/** GarbageCollectSettings as the API shows it: the writable values plus the schedule. */
export interface GarbageCollectSettingsView extends GarbageCollectSettingsValues {
  lastRunTime: number | null;
  nextRunTime: number | null;
}

export const GC_SETTING_KEYS = [
  "intervalSeconds",
  "transferExpirySeconds",
  "manifestExpirySeconds",
  "recvTransferExpirySeconds",
  "requestExpirySeconds",
  "eventLogExpirySeconds",
  "eventLogMaxEntries",
] as const satisfies readonly (keyof GarbageCollectSettingsValues)[];

export const DEFAULT_GC_SETTINGS: Readonly<GarbageCollectSettingsValues> = {
  intervalSeconds: 3600,
  transferExpirySeconds: 172_800,
  manifestExpirySeconds: 172_800,
  recvTransferExpirySeconds: 3600,
  requestExpirySeconds: 3600,
  eventLogExpirySeconds: 604_800,
  eventLogMaxEntries: 100_000,
};

export const MIN_GC_INTERVAL_SECONDS = 60;

/** Records removed by one pass, by kind (GarbageCollectResult without `runTime`). */
export interface GarbageCollectCounts {
  transfers: number;
  manifests: number;
  apiTokens: number;
  sharedTokens: number;
  recvTransfers: number;
  requests: number;
  events: number;
}

export interface GarbageCollectResultValues extends GarbageCollectCounts {
  /** when the pass ran, microseconds since the epoch */
  runTime: number;
}

export function zeroCounts(): GarbageCollectCounts {
  return {
    transfers: 0,
    manifests: 0,
    apiTokens: 0,
    sharedTokens: 0,
    recvTransfers: 0,
    requests: 0,
    events: 0,
  };
}

/**
 * `current` with `patch` applied; INVALID_ARGUMENT (naming the parameter) for a non-integer, a
 * negative value or an interval below 60 s (api.md §2.8).
 */
export function applySettingsPatch(
  current: GarbageCollectSettingsValues,
  patch: Partial<GarbageCollectSettingsValues>,
): GarbageCollectSettingsValues {
  const next = { ...current };
  for (const key of GC_SETTING_KEYS) {
    const value = patch[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0)
      throw new ServiceError("INVALID_ARGUMENT", `${key} must be a non-negative integer`, key);
    next[key] = value;
  }
  if (next.intervalSeconds < MIN_GC_INTERVAL_SECONDS) {
    throw new ServiceError(
      "INVALID_ARGUMENT",
      `intervalSeconds must be at least ${MIN_GC_INTERVAL_SECONDS}`,
      "intervalSeconds",
    );
  }
  return next;
}

/** `time + seconds`, or null when `time` is null or `seconds` is 0 (kept forever). */
export function expiryAfter(time: number | null, seconds: number): number | null {
  if (time === null || seconds === 0) return null;
  return time + seconds * 1_000_000;
}

/** True when `expiryAfter(time, seconds)` has been reached at `now`. */
export function hasExpired(time: number | null, seconds: number, now: number): boolean {
  const expiry = expiryAfter(time, seconds);
  return expiry !== null && now >= expiry;
}
