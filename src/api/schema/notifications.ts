import { z } from "zod";
import { IdSchema } from "./define.js";
import { EventLogEntrySchema } from "./structures.js";

/** Pushed notifications (api.md §1.8), WebSocket only: JSON-RPC notifications from the server. */
export const notificationSchemas = {
  event: {
    summary: "a new event-log entry the session may see and the subscription selects",
    params: z.object({ subscriptionId: IdSchema, entry: EventLogEntrySchema }),
  },
  snapshot: {
    summary: "the latest statistics snapshot of a selected object, once per second while it changes",
    params: z.object({
      subscriptionId: IdSchema,
      type: z.enum(["transfer", "connection", "recvTransfer", "source"]),
      object: z
        .record(z.unknown())
        .describe("the structure: Transfer, Connection, ReceiveTransfer or Source"),
    }),
  },
  subscriptionLost: {
    summary: "the client fell more than 10,000 events behind; the subscription is removed",
    params: z.object({ subscriptionId: IdSchema, reason: z.string() }),
  },
} as const;

export type EventNotificationParams = z.infer<typeof notificationSchemas.event.params>;
export type SnapshotNotificationParams = z.infer<typeof notificationSchemas.snapshot.params>;
export type SubscriptionLostParams = z.infer<typeof notificationSchemas.subscriptionLost.params>;

export type NotificationMethod = keyof typeof notificationSchemas;
export const NOTIFICATION_METHODS = Object.keys(notificationSchemas) as NotificationMethod[];
