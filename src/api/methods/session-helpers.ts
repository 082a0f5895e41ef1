import type { SessionRecord } from "../auth/sessions.js";
import type { MethodContext } from "../rpc/context.js";
import { ApiError } from "../rpc/errors.js";
import type { MethodRegistry } from "../rpc/registry.js";
import type { ApiServices } from "../services.js";

const servicesByRegistry = new WeakMap<MethodRegistry, ApiServices>();

/**
 * Remember the server services behind a registry. Extensions register their methods later with
 * the registry alone (the send methods get their SendService); those that need sessions, the
 * server state or ServerInfo (shared tokens) find them here.
 */
export function attachServices(registry: MethodRegistry, services: ApiServices): void {
  servicesByRegistry.set(registry, services);
}

/** The services of the server a registry belongs to; undefined for a registry on its own. */
export function servicesOf(registry: MethodRegistry): ApiServices | undefined {
  return servicesByRegistry.get(registry);
}

/** The caller's session; the dispatcher guarantees one for non-public methods. */
export function requireSession(ctx: MethodContext): SessionRecord {
  if (ctx.session === null) throw new ApiError("AUTH_REQUIRED", `method '${ctx.method}' needs a session`);
  return ctx.session;
}

/** Resolve after `ms`, or reject with UNAVAILABLE when the server shuts down first. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ApiError("UNAVAILABLE", "the server is shutting down"));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ApiError("UNAVAILABLE", "the server is shutting down"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
