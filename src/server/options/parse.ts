import { existsSync, readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { ConfigError } from "../errors.js";
import {
  ACTION_OPTIONS,
  defaultConfigFile,
  type OptionDefinition,
  type ServerAction,
  type ServerOptions,
} from "./definitions.js";
import { OPTION_DEFINITIONS } from "./table.js";
import type { DefaultsEnv, RawOptionValue } from "./kinds.js";

export type OptionSource = "default" | "file" | "command-line";

/** The effective configuration of a server (ServerInfo.configuration, api.md §5.5). */
export interface ServerConfig {
  options: ServerOptions;
  /** where each option's value came from */
  sources: Record<keyof ServerOptions, OptionSource>;
  /** config file read, or null */
  configFile: string | null;
}

export interface ParsedServerCommand extends ServerConfig {
  actions: ServerAction[];
  help: boolean;
}

type OptionKey = keyof ServerOptions;
type AnyDefinition = OptionDefinition<ServerOptions[OptionKey]>;

const keysByName = new Map<string, OptionKey>(
  (Object.keys(OPTION_DEFINITIONS) as OptionKey[]).map((key) => [OPTION_DEFINITIONS[key].name, key]),
);

function definitionOf(key: OptionKey): AnyDefinition {
  return OPTION_DEFINITIONS[key] as AnyDefinition;
}

function isFlag(def: AnyDefinition): boolean {
  return def.kind.valueName === null;
}

/** Parse one raw value (or array of values for repeatable options) into the option's type. */
function convert(
  key: OptionKey,
  raw: RawOptionValue | RawOptionValue[],
  label: string,
): ServerOptions[OptionKey] {
  const def = definitionOf(key);
  try {
    if (def.repeatable) {
      const items = Array.isArray(raw) ? raw : [raw];
      return items.map((item) => def.kind.parse(item)) as ServerOptions[OptionKey];
    }
    if (Array.isArray(raw)) throw new Error("expected a single value, not a list");
    return def.kind.parse(raw) as ServerOptions[OptionKey];
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${label}: ${reason}`);
  }
}

function unknownOption(name: string): ConfigError {
  const candidates = [...keysByName.keys(), "config", ...ACTION_OPTIONS].filter(
    (known) => known.startsWith(name.slice(0, 4)) || name.startsWith(known.slice(0, 4)),
  );
  const hint = candidates.length > 0 ? ` (did you mean --${candidates[0]}?)` : "";
  return new ConfigError(`unknown option --${name}${hint}`);
}

interface CommandLine {
  values: Map<OptionKey, RawOptionValue[]>;
  configFile: string | null;
  actions: ServerAction[];
  help: boolean;
}

function scanCommandLine(argv: readonly string[]): CommandLine {
  const result: CommandLine = { values: new Map(), configFile: null, actions: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--help" || token === "-h") {
      result.help = true;
      continue;
    }
    if (!token.startsWith("--") || token === "--")
      throw new ConfigError(`unexpected argument ${JSON.stringify(token)}`);
    const eq = token.indexOf("=");
    let name = eq >= 0 ? token.slice(2, eq) : token.slice(2);
    let value: RawOptionValue | undefined = eq >= 0 ? token.slice(eq + 1) : undefined;
    const action = ACTION_OPTIONS.find((a) => a === name);
    if (action !== undefined) {
      if (value !== undefined) throw new ConfigError(`--${name} takes no value`);
      result.actions.push(action);
      continue;
    }
    if (name === "config") {
      if (value === undefined) {
        if (i + 1 >= argv.length) throw new ConfigError("--config: missing value");
        value = argv[++i];
      }
      result.configFile = value;
      continue;
    }
    let key = keysByName.get(name);
    if (key === undefined && name.startsWith("no-")) {
      const positive = keysByName.get(name.slice(3));
      if (positive !== undefined && isFlag(definitionOf(positive))) {
        if (value !== undefined) throw new ConfigError(`--${name} takes no value`);
        key = positive;
        name = name.slice(3);
        value = false;
      }
    }
    if (key === undefined) throw unknownOption(name);
    const def = definitionOf(key);
    if (value === undefined) {
      if (isFlag(def)) value = true;
      else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) value = argv[++i];
      else throw new ConfigError(`--${name}: missing value`);
    }
    const list = result.values.get(key) ?? [];
    if (list.length > 0 && !def.repeatable) throw new ConfigError(`--${name} given more than once`);
    list.push(value);
    result.values.set(key, list);
  }
  return result;
}

function isRawValue(value: unknown): value is RawOptionValue {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

function readConfigFile(path: string): Map<OptionKey, RawOptionValue | RawOptionValue[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`config file ${path}: ${reason}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path}: expected one JSON object`);
  }
  const values = new Map<OptionKey, RawOptionValue | RawOptionValue[]>();
  for (const [name, value] of Object.entries(parsed)) {
    const key = keysByName.get(name);
    if (key === undefined) throw new ConfigError(`config file ${path}: unknown key "${name}"`);
    const ok = isRawValue(value) || (Array.isArray(value) && value.every(isRawValue));
    if (!ok)
      throw new ConfigError(`config file ${path}: "${name}": unsupported value ${JSON.stringify(value)}`);
    values.set(key, value as RawOptionValue | RawOptionValue[]);
  }
  return values;
}

/**
 * Parse `slipstream server` arguments (server.md §2.1–2.2): command line over config file over
 * defaults. Throws ConfigError (exit status 2) naming the offending option or key.
 */
export function parseServerCommand(argv: readonly string[], env: DefaultsEnv): ParsedServerCommand {
  const commandLine = scanCommandLine(argv);
  let configFile = commandLine.configFile;
  if (configFile !== null && !existsSync(configFile))
    throw new ConfigError(`--config: ${configFile} does not exist`);
  if (configFile === null && existsSync(defaultConfigFile(env))) configFile = defaultConfigFile(env);
  const fileValues = configFile === null ? new Map() : readConfigFile(configFile);

  const options = {} as Record<OptionKey, ServerOptions[OptionKey]>;
  const sources = {} as Record<OptionKey, OptionSource>;
  for (const key of Object.keys(OPTION_DEFINITIONS) as OptionKey[]) {
    const def = definitionOf(key);
    const fromCommandLine = commandLine.values.get(key);
    if (fromCommandLine !== undefined) {
      options[key] = convert(key, def.repeatable ? fromCommandLine : fromCommandLine[0], `--${def.name}`);
      sources[key] = "command-line";
    } else if (fileValues.has(key)) {
      options[key] = convert(key, fileValues.get(key), `config file ${configFile}: "${def.name}"`);
      sources[key] = "file";
    } else {
      options[key] = def.defaultValue(env);
      sources[key] = "default";
    }
  }
  const config: ServerConfig = { options: options as unknown as ServerOptions, sources, configFile };
  checkConsistency(config);
  return { ...config, actions: commandLine.actions, help: commandLine.help };
}

function checkConsistency({ options, sources }: ServerConfig): void {
  if (options.ephemeral) {
    if (sources.stateDir !== "default")
      throw new ConfigError("--ephemeral and --state-dir cannot be combined");
    options.persistentDestinations = false;
    options.persistentTransfers = false;
  }
  if ((options.apiCert === null) !== (options.apiKey === null)) {
    throw new ConfigError("--api-cert and --api-key must be given together");
  }
  if (options.recvPorts.length === 0) throw new ConfigError("--recv-port: at least one port is needed");
  if (options.defaultSendRateMin > options.defaultSendRateMax) {
    throw new ConfigError("--default-send-rate-min is greater than --default-send-rate-max");
  }
}

/** The defaults of every option (no config file read), with overrides: for embedders and tests. */
export function defaultServerOptions(
  overrides: Partial<ServerOptions> = {},
  env: DefaultsEnv = defaultsEnv(),
): ServerOptions {
  const options = {} as Record<OptionKey, ServerOptions[OptionKey]>;
  for (const key of Object.keys(OPTION_DEFINITIONS) as OptionKey[])
    options[key] = definitionOf(key).defaultValue(env);
  return { ...(options as unknown as ServerOptions), ...overrides };
}

/** The defaults environment of the current process. */
export function defaultsEnv(): DefaultsEnv {
  return { isRoot: process.getuid?.() === 0, home: homedir(), hostName: hostname() };
}
