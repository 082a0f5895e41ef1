import { join } from "node:path";
import { kinds, type DefaultsEnv, type OptionKind } from "./kinds.js";

export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";
export type LogFormat = "text" | "json";
export type RateControlName = "fixed" | "adaptive" | "fair" | "background";
export type CipherName = "none" | "chacha20-poly1305" | "aes-256-gcm";

/**
 * Every `slipstream server` option of server.md §2.1 under its camelCase name, with its effective
 * value. Sizes are bytes, rates kbps, durations seconds. `null` means "none"/"not given".
 */
export interface ServerOptions {
  // state and identity
  stateDir: string;
  ephemeral: boolean;
  persistentDestinations: boolean;
  persistentTransfers: boolean;
  serverName: string;
  // API
  apiHost: string | null;
  apiPort: number;
  apiAllowRemoteControl: boolean;
  apiCert: string | null;
  apiKey: string | null;
  apiSessionIdleTimeout: number;
  apiDisableApiTokens: boolean;
  apiDisableSharedTokens: boolean;
  externalAddress: string | null;
  superusers: string[];
  // receiving
  recvPorts: number[];
  recvHost: string | null;
  recvRelayHost: string | null;
  recvRelayPort: number;
  recvRelayKey: string | null;
  /** `null`: keep the stored setting */
  recvOnlyAuthorizedClients: boolean | null;
  recvAllowAnonymous: boolean;
  maxIncomingTransfers: number;
  // sending
  sendRelayHost: string | null;
  sendRelayPort: number;
  sendRelayKey: string | null;
  maxConcurrentTransfers: number;
  defaultRateControl: RateControlName;
  defaultSendRate: number;
  defaultSendRateMin: number;
  defaultSendRateMax: number;
  checkpointFrequency: number;
  stallTimeout: number;
  // data path
  datagramSize: number;
  socketRecvBuffer: number;
  socketSendBuffer: number;
  rateWindow: number;
  keepaliveInterval: number;
  peerTimeout: number;
  minCipher: CipherName;
  cipher: CipherName;
  strictDestinationKeys: boolean;
  // files, limits, events, logging
  sandboxDir: string | null;
  incomingRateLimit: number;
  outgoingRateLimit: number;
  borrowIncomingRate: boolean;
  borrowOutgoingRate: boolean;
  eventLog: boolean;
  triggerDir: string;
  triggerLog: boolean;
  triggerTimeout: number;
  triggerConcurrency: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  logFile: string | null;
}

export interface OptionDefinition<T> {
  /** command-line / config-file name without dashes */
  name: string;
  group: string;
  help: string;
  kind: OptionKind<T extends (infer Item)[] ? Item : T>;
  repeatable: boolean;
  defaultValue(env: DefaultsEnv): T;
}

export type OptionDefinitions = { [K in keyof ServerOptions]: OptionDefinition<ServerOptions[K]> };

function baseDir(env: DefaultsEnv): string {
  return env.isRoot ? "/var/lib/slipstream" : join(env.home, ".slipstream");
}

export function defaultStateDir(env: DefaultsEnv): string {
  return join(baseDir(env), "state");
}

export function defaultConfigFile(env: DefaultsEnv): string {
  return env.isRoot ? "/etc/slipstream/server.json" : join(env.home, ".slipstream", "server.json");
}

function one<T>(
  name: string,
  group: string,
  kind: OptionKind<T>,
  def: (env: DefaultsEnv) => T,
  help: string,
) {
  return { name, group, kind, help, repeatable: false, defaultValue: def } as OptionDefinition<T>;
}
function many<T>(
  name: string,
  group: string,
  kind: OptionKind<T>,
  def: (env: DefaultsEnv) => T[],
  help: string,
) {
  return { name, group, kind, help, repeatable: true, defaultValue: def } as OptionDefinition<T[]>;
}

const STATE = "State and identity";
const API = "API";
const RECV = "Receiving";
const SEND = "Sending";
const DATA = "Data path";
const MISC = "Files, limits, events, logging";
const CIPHERS = ["none", "chacha20-poly1305", "aes-256-gcm"] as const;

export const OPTION_DEFINITIONS: OptionDefinitions = {
  stateDir: one(
    "state-dir",
    STATE,
    kinds.string("<dir>"),
    defaultStateDir,
    "persistent state: database, keys, certificate, users",
  ),
  ephemeral: one(
    "ephemeral",
    STATE,
    kinds.boolean(),
    () => false,
    "use a fresh temporary state dir, deleted at exit",
  ),
  persistentDestinations: one(
    "persistent-destinations",
    STATE,
    kinds.boolean(),
    () => true,
    "store destinations across restarts",
  ),
  persistentTransfers: one(
    "persistent-transfers",
    STATE,
    kinds.boolean(),
    () => true,
    "store transfers and receive records; unfinished transfers resume",
  ),
  serverName: one(
    "server-name",
    STATE,
    kinds.string("<name>"),
    (env) => env.hostName,
    "ServerInfo.serverName (default: host name)",
  ),
  apiHost: one(
    "api-host",
    API,
    kinds.nullableString("<addr>"),
    () => null,
    "address the HTTPS/WebSocket API binds to (default: all interfaces)",
  ),
  apiPort: one("api-port", API, kinds.port(), () => 8886, "TCP port of the API; 0 picks a free one"),
  apiAllowRemoteControl: one(
    "api-allow-remote-control",
    API,
    kinds.boolean(),
    () => true,
    "false: accept API connections from loopback only",
  ),
  apiCert: one(
    "api-cert",
    API,
    kinds.nullableString("<pem>"),
    () => null,
    "API certificate (default: self-signed in <state-dir>/tls/)",
  ),
  apiKey: one("api-key", API, kinds.nullableString("<pem>"), () => null, "API private key for --api-cert"),
  apiSessionIdleTimeout: one(
    "api-session-idle-timeout",
    API,
    kinds.duration(),
    () => 3600,
    "idle time after which a session ends",
  ),
  apiDisableApiTokens: one(
    "api-disable-api-tokens",
    API,
    kinds.boolean(),
    () => false,
    "refuse createAPIToken and API-token logins",
  ),
  apiDisableSharedTokens: one(
    "api-disable-shared-tokens",
    API,
    kinds.boolean(),
    () => false,
    "refuse shared tokens and shared-token logins",
  ),
  externalAddress: one(
    "external-address",
    API,
    kinds.nullableString("<host[:port]>"),
    () => null,
    "public name of this server (links, advertised receive address)",
  ),
  superusers: many(
    "superuser",
    API,
    kinds.string("<name>"),
    () => [],
    "repeatable; this user may call superuser()",
  ),
  recvPorts: many(
    "recv-port",
    RECV,
    kinds.port(),
    () => [8886],
    "repeatable; UDP receive port; 0 picks a free one",
  ),
  recvHost: one(
    "recv-host",
    RECV,
    kinds.nullableString("<addr>"),
    () => null,
    "bind address of the receive sockets (default: all interfaces)",
  ),
  recvRelayHost: one(
    "recv-relay-host",
    RECV,
    kinds.nullableString("<host>"),
    () => null,
    "receive through this relay",
  ),
  recvRelayPort: one("recv-relay-port", RECV, kinds.port(), () => 8887, "the relay's control port"),
  recvRelayKey: one(
    "recv-relay-key",
    RECV,
    kinds.nullableString("<key>"),
    () => null,
    "the relay's public key",
  ),
  recvOnlyAuthorizedClients: one(
    "recv-only-authorized-clients",
    RECV,
    kinds.nullableBoolean(),
    () => null,
    "set whether only authorised senders may connect (persisted)",
  ),
  recvAllowAnonymous: one(
    "recv-allow-anonymous",
    RECV,
    kinds.boolean(),
    () => false,
    "accept transfers for the anonymous receiving user (needs a sandbox)",
  ),
  maxIncomingTransfers: one(
    "max-incoming-transfers",
    RECV,
    kinds.integer(1, 1_000_000),
    () => 64,
    "receive records in receiving at once",
  ),
  sendRelayHost: one(
    "send-relay-host",
    SEND,
    kinds.nullableString("<host>"),
    () => null,
    "default relayHost for new destinations",
  ),
  sendRelayPort: one("send-relay-port", SEND, kinds.port(), () => 8887, "default relayPort"),
  sendRelayKey: one(
    "send-relay-key",
    SEND,
    kinds.nullableString("<key>"),
    () => null,
    "public key of the --send-relay-host relay",
  ),
  maxConcurrentTransfers: one(
    "max-concurrent-transfers",
    SEND,
    kinds.integer(1, 1_000_000),
    () => 32,
    "transfers in transferring across all destinations",
  ),
  defaultRateControl: one(
    "default-rate-control",
    SEND,
    kinds.oneOf(["fixed", "adaptive", "fair", "background"] as const),
    () => "adaptive",
    "default rateControlMethod",
  ),
  defaultSendRate: one("default-send-rate", SEND, kinds.rate(), () => 10_000, "default sendRate (kbps)"),
  defaultSendRateMin: one(
    "default-send-rate-min",
    SEND,
    kinds.rate(),
    () => 100,
    "default sendRateMin (kbps)",
  ),
  defaultSendRateMax: one(
    "default-send-rate-max",
    SEND,
    kinds.rate(),
    () => 10_000_000,
    "default sendRateMax (kbps)",
  ),
  checkpointFrequency: one(
    "checkpoint-frequency",
    SEND,
    kinds.duration(),
    () => 30,
    "default checkpointFrequencySeconds; 0 = off",
  ),
  stallTimeout: one(
    "stall-timeout",
    SEND,
    kinds.duration(),
    () => 300,
    "fail a transfer with no acknowledged progress for this long",
  ),
  datagramSize: one(
    "datagram-size",
    DATA,
    kinds.size(576, 9000),
    () => 1400,
    "UDP payload size of data packets (576-9000)",
  ),
  socketRecvBuffer: one(
    "socket-recv-buffer",
    DATA,
    kinds.size(0, 2 ** 31 - 1),
    () => 8 * 1024 * 1024,
    "requested UDP receive buffer",
  ),
  socketSendBuffer: one(
    "socket-send-buffer",
    DATA,
    kinds.size(0, 2 ** 31 - 1),
    () => 8 * 1024 * 1024,
    "requested UDP send buffer",
  ),
  rateWindow: one(
    "rate-window",
    DATA,
    kinds.duration(),
    () => 5,
    "window behind every ...AverageWindow figure",
  ),
  keepaliveInterval: one(
    "keepalive-interval",
    DATA,
    kinds.duration(),
    () => 5,
    "ping interval on idle connections",
  ),
  peerTimeout: one(
    "peer-timeout",
    DATA,
    kinds.duration(),
    () => 15,
    "silence after which a session counts as lost",
  ),
  minCipher: one(
    "min-cipher",
    DATA,
    kinds.oneOf(CIPHERS),
    () => "chacha20-poly1305",
    "weakest data cipher accepted and used",
  ),
  cipher: one(
    "cipher",
    DATA,
    kinds.oneOf(CIPHERS),
    () => "aes-256-gcm",
    "preferred cipher for new destinations",
  ),
  strictDestinationKeys: one(
    "strict-destination-keys",
    DATA,
    kinds.boolean(),
    () => false,
    "refuse destinations without destinationPublicKey",
  ),
  sandboxDir: one(
    "sandbox-dir",
    MISC,
    kinds.nullableString("<path>"),
    () => null,
    "global File sandbox for all users; %u = user name",
  ),
  incomingRateLimit: one(
    "incoming-rate-limit",
    MISC,
    kinds.rate(),
    () => 0,
    "server-wide cap on received data (kbps, 0 = unlimited)",
  ),
  outgoingRateLimit: one(
    "outgoing-rate-limit",
    MISC,
    kinds.rate(),
    () => 0,
    "server-wide cap on sent data (kbps, 0 = unlimited)",
  ),
  borrowIncomingRate: one(
    "borrow-incoming-rate",
    MISC,
    kinds.boolean(),
    () => false,
    "outgoing may use the incoming allowance while idle",
  ),
  borrowOutgoingRate: one(
    "borrow-outgoing-rate",
    MISC,
    kinds.boolean(),
    () => false,
    "incoming may use the outgoing allowance while idle",
  ),
  eventLog: one("event-log", MISC, kinds.boolean(), () => true, "keep the event log"),
  triggerDir: one(
    "trigger-dir",
    MISC,
    kinds.string("<dir>"),
    (env) => join(baseDir(env), "triggers"),
    "directory of trigger scripts",
  ),
  triggerLog: one(
    "trigger-log",
    MISC,
    kinds.boolean(),
    () => false,
    "log every trigger run, not only failures",
  ),
  triggerTimeout: one(
    "trigger-timeout",
    MISC,
    kinds.duration(),
    () => 60,
    "terminate a trigger still running after this",
  ),
  triggerConcurrency: one(
    "trigger-concurrency",
    MISC,
    kinds.integer(1, 1024),
    () => 4,
    "trigger scripts running at once",
  ),
  logLevel: one(
    "log-level",
    MISC,
    kinds.oneOf(["error", "warn", "info", "debug", "trace"] as const),
    () => "info",
    "error, warn, info, debug, trace",
  ),
  logFormat: one(
    "log-format",
    MISC,
    kinds.oneOf(["text", "json"] as const),
    () => "text",
    "text or json (one object per line)",
  ),
  logFile: one(
    "log-file",
    MISC,
    kinds.nullableString("<path>"),
    () => null,
    "append the log here (default: standard error)",
  ),
};

/** Options that are commands rather than settings: they do their job and exit. */
export const ACTION_OPTIONS = ["print-public-key", "print-fingerprint", "renew-certificate"] as const;
export type ServerAction = (typeof ACTION_OPTIONS)[number];

/** The four bandwidth options: giving any of them fixes all four (server.md §2.1). */
export const BANDWIDTH_OPTION_KEYS = [
  "incomingRateLimit",
  "outgoingRateLimit",
  "borrowIncomingRate",
  "borrowOutgoingRate",
] as const satisfies readonly (keyof ServerOptions)[];
