import { z } from "zod";
import { defineMethod, noParams, params, structure, TimestampSchema } from "./define.js";
import { GarbageCollectSettingsSchema } from "./structures.js";

const GC = "Garbage collection";
const removed = (what: string) => z.number().int().describe(`${what} removed by the pass`);

export const GarbageCollectResultSchema = structure(
  "GarbageCollectResult",
  "Records removed by one collection pass (api.md §5.18).",
  z.object({
    transfers: removed("sending-side transfer records"),
    manifests: removed("manifests"),
    apiTokens: removed("API tokens"),
    sharedTokens: removed("shared tokens"),
    recvTransfers: removed("receive records"),
    requests: removed("async request records"),
    events: removed("event-log entries"),
    runTime: TimestampSchema.describe("when the pass ran"),
  }),
);

const expiry = (what: string) =>
  z.number().int().min(0).optional().describe(`${what}; 0 = never; omitted = unchanged`);

export const getGarbageCollectSettingsMethod = defineMethod({
  name: "getGarbageCollectSettings",
  section: GC,
  access: "superuser",
  summary: "The lifetime settings and the time of the last and next pass.",
  params: noParams,
  result: GarbageCollectSettingsSchema,
});

export const updateGarbageCollectSettingsMethod = defineMethod({
  name: "updateGarbageCollectSettings",
  section: GC,
  access: "superuser",
  summary: "Changes the given settings (omitted ones are unchanged); persisted.",
  params: params({
    intervalSeconds: z.number().int().min(60).optional().describe("time between passes (≥ 60)"),
    transferExpirySeconds: expiry("transfer records removed this long after endTime"),
    manifestExpirySeconds: expiry("manifests removed this long after creation, unless referenced"),
    recvTransferExpirySeconds: expiry(
      "receive records (and part files of failed ones) removed this long after they end",
    ),
    requestExpirySeconds: expiry("async request records kept this long after completion"),
    eventLogExpirySeconds: expiry("event-log entries older than this are removed"),
    eventLogMaxEntries: expiry("oldest event-log entries beyond this count are removed"),
  }),
  result: GarbageCollectSettingsSchema,
  errors: ["INVALID_ARGUMENT"],
});

export const garbageCollectMethod = defineMethod({
  name: "garbageCollect",
  section: GC,
  access: "superuser",
  summary: "Runs a collection pass now; the periodic schedule is not shifted.",
  params: noParams,
  result: GarbageCollectResultSchema,
});

/** The methods of api.md §2.8. */
export const gcMethods = [
  getGarbageCollectSettingsMethod,
  updateGarbageCollectSettingsMethod,
  garbageCollectMethod,
] as const;
