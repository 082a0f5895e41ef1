import { join } from "node:path";
import type { StaticKeyPair } from "../core/crypto/keys.js";
import { loadOrCreateKeyPair } from "../io/keys.js";
import { hostname } from "node:os";
import { systemClock, type Clock } from "./clock.js";
import { ServerDatabase } from "./database.js";
import { EventLog } from "./event-log.js";
import { ServerEvents } from "./events.js";
import { newId } from "./ids.js";
import { createLogging, type Logger, type ServerLogging } from "./logger.js";
import type { ServerOptions } from "./options/definitions.js";
import type { ServerConfig } from "./options/parse.js";
import { SandboxPolicy } from "./sandbox.js";
import { loadServerUid, openStateDir, type StateDir } from "./state-dir.js";
import { loadTlsIdentity, type TlsIdentity } from "./tls.js";
import { UsersFile } from "./users.js";

/** Everything of a running server below the API: identity, storage, users, events, files. */
export interface ServerState {
  readonly config: ServerConfig;
  readonly options: ServerOptions;
  readonly stateDir: StateDir;
  readonly logger: Logger;
  readonly clock: Clock;
  /** new at every launch */
  readonly serverId: string;
  /** persistent, `<state-dir>/server.uid` */
  readonly serverUid: string;
  readonly startTime: number;
  readonly hostName: string;
  readonly tls: TlsIdentity;
  /** the long-term X25519 key pair that authenticates this server's data sessions */
  readonly serverKey: StaticKeyPair;
  readonly database: ServerDatabase;
  readonly events: ServerEvents;
  readonly users: UsersFile;
  readonly sandbox: SandboxPolicy;
  /** set when this start created the admin user: where its password is */
  readonly adminPasswordFile: string | null;
  /** the user may call superuser(): flagged in the users file or named by --superuser */
  canElevate(user: string): boolean;
  /** reopen the log file (SIGHUP) */
  reopenLog(): void;
  /** close the database, release (and for --ephemeral delete) the state dir */
  close(): void;
}

/** `<state-dir>/server.key`: PKCS#8 PEM, owner-only (server.md §10). */
export function serverKeyPath(stateDir: string): string {
  return join(stateDir, "server.key");
}

export interface ServerStateDeps {
  clock?: Clock;
  /** use this logger instead of the one the options describe */
  logger?: Logger;
}

export async function openServerState(
  config: ServerConfig,
  deps: ServerStateDeps = {},
): Promise<ServerState> {
  const { options } = config;
  const clock = deps.clock ?? systemClock;
  let logging: ServerLogging | null = null;
  const logger =
    deps.logger ??
    (logging = createLogging({ level: options.logLevel, format: options.logFormat, file: options.logFile }))
      .logger;
  const stateDir = openStateDir(options.stateDir, options.ephemeral);
  let database: ServerDatabase | null = null;
  try {
    const serverUid = loadServerUid(stateDir.path);
    const tls = loadTlsIdentity(stateDir.path, { certFile: options.apiCert, keyFile: options.apiKey });
    const serverKey = (await loadOrCreateKeyPair(serverKeyPath(stateDir.path))).keyPair;
    const users = new UsersFile(stateDir.path);
    const adminPasswordFile = await users.initialize(clock.nowMicros());
    database = ServerDatabase.open(stateDir.path);
    const serverId = newId();
    const eventLog = options.eventLog ? new EventLog(database) : null;
    const events = new ServerEvents({ log: eventLog, serverId, clock, logger });
    const openedDatabase = database;
    return {
      config,
      options,
      stateDir,
      logger,
      clock,
      serverId,
      serverUid,
      startTime: clock.nowMicros(),
      hostName: hostname(),
      tls,
      serverKey,
      database,
      events,
      users,
      sandbox: new SandboxPolicy(options.sandboxDir),
      adminPasswordFile,
      canElevate: (user) => options.superusers.includes(user) || users.get(user)?.superuser === true,
      reopenLog: () => logging?.reopen(),
      close: () => {
        openedDatabase.close();
        stateDir.release();
        logging?.flush();
      },
    };
  } catch (error) {
    database?.close();
    stateDir.release();
    throw error;
  }
}
