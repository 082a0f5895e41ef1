import { getRequestResultMethod, getRequestStatusMethod } from "../schema/server-methods.js";
import type { MethodRegistry } from "../rpc/registry.js";
import type { ApiServices } from "../services.js";

/** getRequestStatus, getRequestResult (api.md §2.3). */
export function registerRequestMethods(registry: MethodRegistry, services: ApiServices): void {
  registry.add(getRequestStatusMethod, ({ requestId }, ctx) =>
    services.requests.status(requestId, ctx.session),
  );
  registry.add(getRequestResultMethod, ({ requestId, timeoutSeconds }, ctx) =>
    services.requests.result(requestId, ctx.session, timeoutSeconds, ctx.shutdownSignal),
  );
}
