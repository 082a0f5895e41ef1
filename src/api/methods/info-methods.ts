import { echoMethod, getServerInfoMethod, sleepMethod, terminateMethod } from "../schema/server-methods.js";
import type { MethodRegistry } from "../rpc/registry.js";
import type { ApiServices } from "../services.js";
import { delay } from "./session-helpers.js";

/** getServerInfo, echo, sleep, terminate (api.md §2.2). */
export function registerInfoMethods(registry: MethodRegistry, services: ApiServices): void {
  registry.add(getServerInfoMethod, (_params, ctx) => services.info.build(ctx.session));
  registry.add(echoMethod, ({ text }) => text);
  registry.add(sleepMethod, async ({ milliseconds }, ctx) => {
    await delay(milliseconds, ctx.shutdownSignal);
    return null;
  });
  registry.add(terminateMethod, () => {
    services.requestShutdown("terminate");
    return null;
  });
}
