import { defaultsEnv, defaultServerOptions, type ServerConfig } from "../server/options/parse.js";
import type { ServerOptions } from "../server/options/definitions.js";
import { OPTION_DEFINITIONS } from "../server/options/table.js";
import { errnoCode, StartupError } from "../server/errors.js";
import { removeRuntimeFile, writeRuntimeFile } from "../server/runtime-file.js";
import { openServerState, type ServerStateDeps } from "../server/server-state.js";
import { garbageCollectorOf, type GcTimer } from "../server/gc/index.js";
import { startTriggers, type TriggerSettings } from "../server/triggers/index.js";
import { VERSION } from "../server/version.js";
import { SessionStore } from "./auth/sessions.js";
import { LoginThrottle } from "./auth/throttle.js";
import { UsersWatcher } from "./auth/users-watch.js";
import type { ServerExtension, ServerHandle, ShutdownReason } from "./extension.js";
import { ApiServer } from "./http/api-server.js";
import { SubscriptionHub, type SubscriptionLimits } from "./http/subscriptions.js";
import { registerServerMethods } from "./methods/index.js";
import { AsyncRequestStore } from "./rpc/async-requests.js";
import { Dispatcher } from "./rpc/dispatcher.js";
import { MethodRegistry } from "./rpc/registry.js";
import { ServerInfoBuilder } from "./server-info.js";
import type { ApiServices } from "./services.js";

export interface StartServerDeps extends ServerStateDeps {
  /** delay before a failed login is answered; default 1000 ms */
  failureDelayMs?: number;
  /** plugged in after the API is bound, before runtime.json and `launch` */
  extensions?: readonly ServerExtension[];
  subscriptionLimits?: Partial<SubscriptionLimits>;
  /** milliseconds between users-file checks; default 5000 */
  usersPollMs?: number;
  /** runs the periodic collection passes (tests pass a fake); default unref'd setTimeout */
  gcTimer?: GcTimer;
  /** trigger settings that are not options (tests shorten the SIGTERM → SIGKILL grace) */
  triggers?: Partial<TriggerSettings>;
}

const SHUTDOWN_HOOK_BUDGET_MS = 8_000;

function toConfig(input: ServerOptions | ServerConfig | Partial<ServerOptions>): ServerConfig {
  if ("options" in input && "sources" in input) return input as ServerConfig;
  const options = defaultServerOptions(input as Partial<ServerOptions>, defaultsEnv());
  const sources = {} as ServerConfig["sources"];
  for (const key of Object.keys(OPTION_DEFINITIONS) as (keyof ServerOptions)[]) {
    sources[key] = key in input ? "command-line" : "default";
  }
  if (options.ephemeral) {
    options.persistentDestinations = false;
    options.persistentTransfers = false;
  }
  return { options, sources, configFile: null };
}

function displayHost(host: string): string {
  if (host === "::" || host === "0.0.0.0") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}

async function withinBudget(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/**
 * Start a Slipstream server: state dir, users, database, event log, HTTPS/WebSocket API with the
 * server methods, then the extensions (the transfer engine), runtime.json and the `launch` event.
 * Accepts parsed command-line configuration or plain options (missing ones take their defaults).
 */
export async function startServer(
  input: ServerOptions | ServerConfig | Partial<ServerOptions>,
  deps: StartServerDeps = {},
): Promise<ServerHandle> {
  const config = toConfig(input);
  const state = await openServerState(config, deps);
  const { options, logger, clock } = state;
  const shutdown = new AbortController();
  const sessions = new SessionStore(clock, options.apiSessionIdleTimeout);
  const registry = new MethodRegistry();
  let apiAddress = { host: options.apiHost ?? "::", port: options.apiPort };
  const info = new ServerInfoBuilder(state, () => apiAddress);
  const gc = garbageCollectorOf(state, { timer: deps.gcTimer });
  const requests = new AsyncRequestStore(clock, () => gc.current.requestExpirySeconds);
  gc.register({
    name: "requests",
    collect: () => {
      const before = requests.size;
      requests.sweep();
      return { requests: before - requests.size };
    },
  });
  const subscriptions = new SubscriptionHub(state.events, sessions, logger, deps.subscriptionLimits);
  const usersWatcher = new UsersWatcher(state, sessions);
  const hooks: ((reason: ShutdownReason) => void | Promise<void>)[] = [];
  const timers: NodeJS.Timeout[] = [];
  let resolveClosed!: (reason: ShutdownReason) => void;
  const closed = new Promise<ShutdownReason>((resolve) => (resolveClosed = resolve));
  let closing: Promise<void> | null = null;

  const services: ApiServices = {
    state,
    sessions,
    requests,
    throttle: new LoginThrottle(clock),
    subscriptions,
    info,
    failureDelayMs: deps.failureDelayMs ?? 1000,
    requestShutdown: (reason) => void setTimeout(() => void handle.close(reason), 20),
  };
  registerServerMethods(registry, services);
  const dispatcher = new Dispatcher({
    registry,
    sessions,
    requests,
    logger,
    shutdownSignal: shutdown.signal,
  });
  const api = new ApiServer({
    certPem: state.tls.certPem,
    keyPem: state.tls.keyPem,
    allowRemoteControl: options.apiAllowRemoteControl,
    dispatcher,
    sessions,
    subscriptions,
    logger,
  });

  const close = async (reason: ShutdownReason): Promise<void> => {
    state.events.emit("shutdown", { reason });
    shutdown.abort();
    const gcStopped = gc.stop();
    const stops = [...(deps.extensions ?? [])].reverse().map((e) => async () => e.stop?.(reason));
    const work = (async () => {
      await gcStopped; // a pass in progress finishes before the records it reads go away
      for (const run of [...hooks.map((hook) => () => hook(reason)), ...stops]) {
        try {
          await run();
        } catch (error) {
          logger.error({ component: "server", err: error }, "shutdown hook failed");
        }
      }
    })();
    await withinBudget(work, SHUTDOWN_HOOK_BUDGET_MS);
    for (const timer of timers) clearInterval(timer);
    sessions.endAll("shutdown");
    subscriptions.close();
    await api.close();
    removeRuntimeFile(state.stateDir.path);
    // the directory reads of the last events (`shutdown`) complete, so their scripts start;
    // runs still waiting for a slot are dropped
    await withinBudget(triggers.lookupsDone(), SHUTDOWN_HOOK_BUDGET_MS);
    triggers.stop();
    logger.info({ component: "server", reason }, "server stopped");
    state.close();
    resolveClosed(reason);
  };

  try {
    apiAddress = await api.listen(options.apiHost, options.apiPort);
  } catch (error) {
    subscriptions.close();
    state.close();
    const detail = errnoCode(error) === "EADDRINUSE" ? "address in use" : String(error);
    throw new StartupError(
      `cannot bind the API port ${options.apiPort} on ${options.apiHost ?? "all interfaces"}: ${detail}`,
    );
  }

  // before the extensions start: `launch` and everything after reach the trigger scripts
  const triggers = startTriggers(state, () => apiAddress.port, deps.triggers);

  const handle: ServerHandle = {
    state,
    options,
    serverId: state.serverId,
    serverUid: state.serverUid,
    get apiHost() {
      return apiAddress.host;
    },
    get apiPort() {
      return apiAddress.port;
    },
    get url() {
      return `https://${displayHost(apiAddress.host)}:${apiAddress.port}`;
    },
    fingerprint: state.tls.fingerprint,
    registry,
    events: state.events,
    sessions,
    setEngineInfo: (provider) => {
      info.engine = { ...info.engine, ...provider };
    },
    onShutdown: (hook) => void hooks.push(hook),
    reload: () => {
      usersWatcher.check(true);
      state.reopenLog();
    },
    close: (reason = "close") => (closing ??= close(reason)),
    closed,
  };

  try {
    for (const extension of deps.extensions ?? []) await extension.start(handle);
  } catch (error) {
    await handle.close("close");
    throw error;
  }

  const receiver = info.engine.receiver(true);
  const recvPorts = receiver.recvPorts.map((p) => ({ host: p.host, port: p.port }));
  const publicKey = info.engine.publicKey();
  if (state.adminPasswordFile !== null) {
    logger.warn(
      { component: "server", file: state.adminPasswordFile },
      "created user admin; its password is in this file",
    );
  }
  logger.info(
    {
      component: "server",
      url: handle.url,
      apiPort: apiAddress.port,
      fingerprint: state.tls.fingerprint,
      stateDir: state.stateDir.path,
    },
    "API listening",
  );
  for (const port of receiver.recvPorts)
    logger.info({ component: "server", port: port.port, publicAddress: port.publicAddress }, "receiving");
  logger.info(
    { component: "server", serverUid: state.serverUid, serverId: state.serverId, publicKey },
    "server identity",
  );

  writeRuntimeFile(state.stateDir.path, {
    pid: process.pid,
    serverId: state.serverId,
    serverUid: state.serverUid,
    apiHost: apiAddress.host,
    apiPort: apiAddress.port,
    recvPorts,
    publicKey,
    certificateFingerprint: state.tls.fingerprint,
    startTime: state.startTime,
  });
  state.events.emit("launch", {
    apiPort: apiAddress.port,
    recvPorts,
    serverId: state.serverId,
    serverUid: state.serverUid,
    version: VERSION,
  });

  gc.start();
  const sweep = setInterval(() => {
    sessions.sweep();
    services.throttle.sweep();
  }, 10_000);
  const poll = setInterval(() => usersWatcher.check(), deps.usersPollMs ?? 5000);
  for (const timer of [sweep, poll]) {
    timer.unref();
    timers.push(timer);
  }
  return handle;
}
