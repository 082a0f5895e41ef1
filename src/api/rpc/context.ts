import type { SessionRecord } from "../auth/sessions.js";

/** What the transport knows about the peer of a call. */
export interface CallContext {
  readonly transport: "http" | "websocket";
  /** `ip:port` (IPv6 as `[addr]:port`) */
  readonly clientAddress: string;
  /** the IP alone (throttling key) */
  readonly clientIp: string;
  /**
   * The session calls run with. `auth`, `superuser` and `logout` change it, and the change applies
   * to the later calls of the same batch (HTTP) or socket (WebSocket).
   */
  readonly binding: { session: SessionRecord | null };
  /** the WebSocket the call came on (subscriptions), or null over HTTP */
  readonly socketId: string | null;
  /** client sent a Slipstream-Api-Version outside the server's range */
  readonly apiVersionMismatch: string | null;
}

/** The context of a call that passed access checks: `session` is the live session or null for public calls. */
export interface MethodContext extends CallContext {
  readonly session: SessionRecord | null;
  /** the method name as called (with Async suffix if any) */
  readonly method: string;
  /** aborted when the server shuts down */
  readonly shutdownSignal: AbortSignal;
}
