import type { ServerEvents } from "../server/events.js";
import type { ServerOptions } from "../server/options/definitions.js";
import type { ServerState } from "../server/server-state.js";
import type { SessionStore } from "./auth/sessions.js";
import type { MethodRegistry } from "./rpc/registry.js";
import type { EngineInfoProvider } from "./server-info.js";

export type ShutdownReason = "signal" | "terminate" | "close";

/** A running server, as returned by `startServer`. */
export interface ServerHandle {
  /** identity, options, logger, database, users, sandbox policy, events of the server */
  readonly state: ServerState;
  readonly options: ServerOptions;
  readonly serverId: string;
  readonly serverUid: string;
  /** address and port the API is bound to (the actual port when configured as 0) */
  readonly apiHost: string;
  readonly apiPort: number;
  /** `https://host:port` suitable for a local client */
  readonly url: string;
  /** SHA-256 of the API certificate, 64 hex characters */
  readonly fingerprint: string;
  /** add methods: `registry.add(spec, handler)`; `…Async` forms come for free */
  readonly registry: MethodRegistry;
  /** publish events (`emit`) and snapshots (`publishSnapshot`) to the log and subscribers */
  readonly events: ServerEvents;
  readonly sessions: SessionStore;
  /** replace parts of ServerInfo only the engine knows (receive ports, public key, limits, GC) */
  setEngineInfo(provider: Partial<EngineInfoProvider>): void;
  /** run during graceful shutdown, before the API closes (checkpoint transfers); 10 s in all */
  onShutdown(hook: (reason: ShutdownReason) => void | Promise<void>): void;
  /** re-read the users file now and reopen the log file (SIGHUP) */
  reload(): void;
  /** graceful shutdown; resolves when everything is closed */
  close(reason?: ShutdownReason): Promise<void>;
  /** resolves with the reason once the server has shut down (terminate(), signal, close()) */
  readonly closed: Promise<ShutdownReason>;
}

/**
 * Something plugged into the server at start (the transfer engine): `start` runs after the API is
 * bound and before runtime.json is written and `launch` fires, so it can bind its ports, register
 * methods and set engine info; `stop` runs at shutdown, in reverse order.
 */
export interface ServerExtension {
  readonly name: string;
  start(server: ServerHandle): void | Promise<void>;
  stop?(reason: ShutdownReason): void | Promise<void>;
}
