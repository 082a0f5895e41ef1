import type { ServerState } from "../server-state.js";
import { apiTokensOf, sharedTokensOf } from "../tokens/index.js";
import { GarbageCollector, type GcTimer } from "./garbage-collector.js";
import { GcSettingsStore } from "./gc-store.js";
import { apiTokenCollector, eventLogCollector, sharedTokenCollector } from "./server-collectors.js";

export * from "./gc-settings.js";
export * from "./garbage-collector.js";
export {
  manifestExpiryTime,
  sendCollector,
  transferExpiryTime,
  type SendCollectorOptions,
} from "./send-collector.js";
export { recvCollector, type RecvRecordsForGc } from "./recv-collector.js";

const collectors = new WeakMap<ServerState, GarbageCollector>();

/**
 * The garbage collector of a server, made on first use with the collectors of the server state
 * (API and shared tokens, event log). `startServer` makes it first (passing `timer` in tests) and starts it;
 * the send and receive sides register their collectors on it.
 */
export function garbageCollectorOf(state: ServerState, opts: { timer?: GcTimer } = {}): GarbageCollector {
  let gc = collectors.get(state);
  if (gc === undefined) {
    gc = new GarbageCollector({
      store: new GcSettingsStore(state.database),
      clock: state.clock,
      events: state.events,
      logger: state.logger,
      timer: opts.timer,
    });
    gc.register(apiTokenCollector(apiTokensOf(state)));
    // before the send side's collector: a manifest only a just-expired token offered can go too
    gc.register(sharedTokenCollector(sharedTokensOf(state)));
    const log = state.events.eventLog;
    if (log !== null) gc.register(eventLogCollector(log));
    collectors.set(state, gc);
  }
  return gc;
}
