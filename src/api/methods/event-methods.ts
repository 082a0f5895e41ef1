import { ApiError } from "../rpc/errors.js";
import type { MethodRegistry } from "../rpc/registry.js";
import { getEventLogMethod, subscribeMethod, unsubscribeMethod } from "../schema/server-methods.js";
import type { ApiServices } from "../services.js";
import { requireSession } from "./session-helpers.js";

/** getEventLog, subscribe, unsubscribe (api.md §2.4). */
export function registerEventMethods(registry: MethodRegistry, services: ApiServices): void {
  const { state, subscriptions } = services;

  registry.add(getEventLogMethod, (params, ctx) => {
    const session = requireSession(ctx);
    const log = state.events.eventLog;
    if (log === null) throw new ApiError("UNAVAILABLE", "the event log is disabled (--event-log=false)");
    return log.query({ ...params, owner: session.superuser ? null : session.user });
  });

  registry.add(subscribeMethod, (params, ctx) => {
    const session = requireSession(ctx);
    if (ctx.socketId === null)
      throw new ApiError("UNAVAILABLE", "subscribe needs a WebSocket connection (wss://…/ws)");
    return { subscriptionId: subscriptions.subscribe(ctx.socketId, session, params) };
  });

  registry.add(unsubscribeMethod, ({ subscriptionId }, ctx) => {
    subscriptions.unsubscribe(subscriptionId, requireSession(ctx));
    return null;
  });
}
