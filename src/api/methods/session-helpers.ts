import type { SessionRecord } from "../auth/sessions.js";
import type { MethodContext } from "../rpc/context.js";
import { ApiError } from "../rpc/errors.js";

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
