import { join } from "node:path";
import type { DefaultsEnv, OptionKind } from "./kinds.js";

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

export function baseDir(env: DefaultsEnv): string {
  return env.isRoot ? "/var/lib/slipstream" : join(env.home, ".slipstream");
}

export function defaultStateDir(env: DefaultsEnv): string {
  return join(baseDir(env), "state");
}

export function defaultConfigFile(env: DefaultsEnv): string {
  return env.isRoot ? "/etc/slipstream/server.json" : join(env.home, ".slipstream", "server.json");
}

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
