import type { ServerState } from "../server-state.js";
import { TriggerService, type TriggerSettings } from "./trigger-service.js";

export * from "./trigger-arguments.js";
export * from "./trigger-process.js";
export * from "./trigger-scripts.js";
export * from "./trigger-service.js";

const services = new WeakMap<ServerState, TriggerService>();

/**
 * Start the triggers of a server from its options and attach them to its events (startServer
 * does this before the extensions start, so `launch` and everything after reach them).
 */
export function startTriggers(
  state: ServerState,
  apiPort: () => number,
  overrides: Partial<TriggerSettings> = {},
): TriggerService {
  const o = state.options;
  const service = new TriggerService({
    dir: o.triggerDir,
    logEveryRun: o.triggerLog,
    timeoutSeconds: o.triggerTimeout,
    concurrency: o.triggerConcurrency,
    serverId: state.serverId,
    apiPort,
    logger: state.logger,
    ...overrides,
  });
  service.attach(state.events);
  services.set(state, service);
  return service;
}

/** The triggers of a running server (the send side tells them where destinations are). */
export function triggersOf(state: ServerState): TriggerService | undefined {
  return services.get(state);
}
