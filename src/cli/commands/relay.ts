import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { parsePortRanges, type PortRange } from "../../core/relay/port-ranges.js";
import { fromBase64Url, X25519_KEY_BYTES } from "../../core/relay/x25519.js";
import { loadOrCreateRelayKey } from "../../io/relay/relay-key.js";
import { DEFAULT_RELAY_PORT, formatRelayStatus, RelayServer } from "../../io/relay/relay-server.js";
import { CliExit, EXIT } from "../exit.js";

interface RelayFlags {
  config?: string;
  stateDir?: string;
  controlHost: string;
  controlPort: string;
  publicHost: string;
  publicPorts: string;
  externalAddress?: string;
  allowServerKey: string[];
  allowedKeysFile?: string;
  allowAnyServer?: boolean;
  maxServers: string;
  maxSourceRate: string;
  socketRecvBuffer: string;
  socketSendBuffer: string;
  statusInterval: string;
  printPublicKey?: boolean;
  logLevel: string;
  logFormat: string;
  logFile?: string;
}

const HELP_AFTER = `
Attached servers dial out to the control port (TCP) and exchange datagrams with the UDP port of
the same number; the relay opens public UDP ports for receivers and outgoing sockets for senders,
and forwards datagrams both ways without decrypting them.

Status (attached servers, packets and bytes forwarded, drops) is printed to standard output on
SIGUSR1 and every --status-interval seconds. SIGINT/SIGTERM stop the relay.

Without --allow-server-key, --allowed-keys-file or --allow-any-server every server is refused.`;

function defaultStateDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/slipstream/relay" : join(homedir(), ".slipstream", "relay");
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CliExit(
      EXIT.USAGE,
      `slipstream relay: --${flag} must be an integer from ${min} to ${max}, not "${value}"`,
    );
  }
  return n;
}

/** "8M" = 8 MiB; plain numbers are bytes. */
function size(flag: string, value: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(value);
  if (!m)
    throw new CliExit(
      EXIT.USAGE,
      `slipstream relay: --${flag} must be bytes with an optional K, M or G, not "${value}"`,
    );
  return Number(m[1]) * 1024 ** " KMG".indexOf((m[2] || " ").toUpperCase());
}

/** kbps, or with M / G suffix Mbit/s / Gbit/s; returned in bytes per second. */
function rate(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)([MG]?)$/i.exec(value);
  if (!m)
    throw new CliExit(EXIT.USAGE, `slipstream relay: --${flag} must be kbps (or with M/G), not "${value}"`);
  const kbps = Number(m[1]) * (m[2] === "" ? 1 : m[2]!.toUpperCase() === "M" ? 1000 : 1_000_000);
  return (kbps * 1000) / 8;
}

function allowedKeys(flags: RelayFlags): string[] {
  const keys = [...flags.allowServerKey];
  if (flags.allowedKeysFile) {
    let text: string;
    try {
      text = readFileSync(flags.allowedKeysFile, "utf8");
    } catch (error) {
      throw new CliExit(EXIT.USAGE, `slipstream relay: --allowed-keys-file: ${(error as Error).message}`);
    }
    for (const line of text.split("\n")) {
      const key = line.replace(/#.*/, "").trim();
      if (key) keys.push(key);
    }
  }
  for (const key of keys) {
    if (!fromBase64Url(key, X25519_KEY_BYTES)) {
      throw new CliExit(
        EXIT.USAGE,
        `slipstream relay: "${key}" is not a base64url X25519 public key (43 characters)`,
      );
    }
  }
  return keys;
}

function defaultConfigFile(): string {
  return process.getuid?.() === 0
    ? "/etc/slipstream/relay.json"
    : join(homedir(), ".slipstream", "relay.json");
}

/**
 * Applies the JSON config file (keys are option names without dashes) to every option not given
 * on the command line. An unknown key or a value of the wrong type is a usage error.
 */
function applyConfigFile(flags: RelayFlags, command: Command): void {
  const file = flags.config ?? defaultConfigFile();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (!flags.config && (error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new CliExit(EXIT.USAGE, `slipstream relay: --config: ${(error as Error).message}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new CliExit(EXIT.USAGE, `slipstream relay: ${file}: ${(error as Error).message}`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new CliExit(EXIT.USAGE, `slipstream relay: ${file} must hold one JSON object`);
  }
  const options = new Map(command.options.map((o) => [o.long?.replace(/^--/, ""), o]));
  const record = flags as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(config)) {
    const option = options.get(key);
    if (!option || key === "config" || key === "print-public-key" || key === "help") {
      throw new CliExit(EXIT.USAGE, `slipstream relay: ${file}: unknown option "${key}"`);
    }
    const name = option.attributeName();
    if (command.getOptionValueSource(name) === "cli") continue;
    const repeatable = Array.isArray(option.defaultValue);
    const values = Array.isArray(value) && repeatable ? value : [value];
    const ok = values.every((v) => ["string", "number", "boolean"].includes(typeof v));
    if (!ok || (Array.isArray(value) && !repeatable)) {
      throw new CliExit(EXIT.USAGE, `slipstream relay: ${file}: bad value for "${key}"`);
    }
    if (!option.required && !option.optional) record[name] = value === true || value === "true";
    else record[name] = repeatable ? values.map(String) : String(value);
  }
}

/** Log lines (attach, detach, refusals, warnings) as text or JSON, to standard error or --log-file. */
function logger(flags: RelayFlags): (level: "info" | "warn", message: string) => void {
  const levels = ["error", "warn", "info", "debug", "trace"];
  if (!levels.includes(flags.logLevel)) {
    throw new CliExit(EXIT.USAGE, `slipstream relay: --log-level must be one of ${levels.join(", ")}`);
  }
  if (flags.logFormat !== "text" && flags.logFormat !== "json") {
    throw new CliExit(EXIT.USAGE, `slipstream relay: --log-format must be text or json`);
  }
  const threshold = levels.indexOf(flags.logLevel);
  return (level, message) => {
    if (levels.indexOf(level) > threshold) return;
    const line =
      flags.logFormat === "json"
        ? JSON.stringify({ time: new Date().toISOString(), level, component: "relay", msg: message })
        : `slipstream relay: ${level === "warn" ? "warning: " : ""}${message}`;
    if (!flags.logFile) return void process.stderr.write(line + "\n");
    try {
      appendFileSync(flags.logFile, line + "\n");
    } catch (error) {
      process.stderr.write(`slipstream relay: --log-file: ${(error as Error).message}\n${line}\n`);
    }
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runRelay(flags: RelayFlags): Promise<void> {
  const stateDir = flags.stateDir ?? defaultStateDir();
  const keys = await loadOrCreateRelayKey(stateDir).catch((error: unknown) => {
    throw new CliExit(EXIT.FAILED, `slipstream relay: ${(error as Error).message}`);
  });
  if (flags.printPublicKey) {
    process.stdout.write(keys.publicKeyText + "\n");
    return;
  }
  let publicPorts: PortRange[];
  try {
    publicPorts = parsePortRanges(flags.publicPorts);
  } catch (error) {
    throw new CliExit(EXIT.USAGE, `slipstream relay: --public-ports: ${(error as Error).message}`);
  }
  const allowed = allowedKeys(flags);
  const log = logger(flags);
  let relay: RelayServer;
  try {
    relay = await RelayServer.start({
      privateKey: keys.privateKey,
      allowedKeys: allowed,
      allowAnyServer: flags.allowAnyServer ?? false,
      controlHost: flags.controlHost,
      controlPort: integer("control-port", flags.controlPort, 0, 65_535),
      publicHost: flags.publicHost,
      publicPorts,
      externalHost: flags.externalAddress ?? null,
      maxServers: integer("max-servers", flags.maxServers, 1, 4096),
      sourceRate: rate("max-source-rate", flags.maxSourceRate),
      recvBufferSize: size("socket-recv-buffer", flags.socketRecvBuffer),
      sendBufferSize: size("socket-send-buffer", flags.socketSendBuffer),
      onLog: log,
    });
  } catch (error) {
    if (error instanceof CliExit) throw error;
    throw new CliExit(
      EXIT.FAILED,
      `slipstream relay: cannot open control port ${flags.controlPort}: ${(error as Error).message}`,
    );
  }
  for (const warning of relay.warnings) log("warn", warning);
  if (!flags.allowAnyServer && allowed.length === 0) {
    log("warn", "no --allow-server-key, --allowed-keys-file or --allow-any-server: every server is refused");
  }
  const { address, port } = relay.controlAddress;
  const listening = `listening on ${address}:${port} (TCP control + UDP), public key ${keys.publicKeyText}`;
  process.stderr.write(`slipstream relay: ${listening}\n`);
  if (flags.logFile) log("info", listening);
  const printStatus = (): void => void process.stdout.write(formatRelayStatus(relay.status()) + "\n");
  process.on("SIGUSR1", printStatus);
  const everySeconds = integer("status-interval", flags.statusInterval, 0, 86_400);
  const timer = everySeconds > 0 ? setInterval(printStatus, everySeconds * 1000) : null;
  await new Promise<void>((resolve) => {
    let signals = 0;
    const stop = (): void => {
      if (++signals > 1) process.exit(EXIT.INTERRUPTED);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  if (timer) clearInterval(timer);
  process.off("SIGUSR1", printStatus);
  await relay.close();
  process.exit(EXIT.OK);
}

/** `slipstream relay`: the DMZ forwarder for servers that cannot be reached directly (server.md §3). */
export function registerRelayCommand(program: Command): void {
  program
    .command("relay")
    .description("forward datagrams for servers behind firewalls that dial out to this relay")
    .option(
      "--config <file>",
      "JSON options file (default ~/.slipstream/relay.json, /etc/slipstream/relay.json as root)",
    )
    .option("--state-dir <dir>", "the relay's key pair (relay.key)", undefined)
    .option("--control-host <addr>", "bind address of the control port (TCP and UDP)", "0.0.0.0")
    .option(
      "--control-port <port>",
      "TCP control port and UDP port for attached servers (0 = any)",
      String(DEFAULT_RELAY_PORT),
    )
    .option("--public-host <addr>", "bind address of public and outgoing UDP sockets", "0.0.0.0")
    .option(
      "--public-ports <list>",
      "ports attached servers may open publicly, e.g. 8886,9000-9010",
      "1024-65535",
    )
    .option(
      "--external-address <host>",
      "public host reported to attached servers (default: the address they dialled)",
    )
    .option("--allow-server-key <key>", "public key of a server allowed to attach (repeatable)", collect, [])
    .option("--allowed-keys-file <file>", "file of allowed server keys, one per line (# comments)")
    .option("--allow-any-server", "let any server attach (test setups only)")
    .option("--max-servers <n>", "attached servers at once", "16")
    .option("--max-source-rate <kbps>", "per-source forwarding limit in kbps (M/G suffixes; 0 = none)", "10G")
    .option("--socket-recv-buffer <bytes>", "requested receive buffer of every UDP socket", "8M")
    .option("--socket-send-buffer <bytes>", "requested send buffer of every UDP socket", "8M")
    .option("--status-interval <s>", "print status every this many seconds (0 = only on SIGUSR1)", "0")
    .option("--print-public-key", "print the relay's public key (creating the key pair if needed) and exit")
    .option("--log-level <level>", "error, warn, info, debug, trace", "info")
    .option("--log-format <format>", "text or json (one object per line)", "text")
    .option("--log-file <path>", "append log lines here instead of standard error")
    .addHelpText("after", HELP_AFTER)
    .action((flags: RelayFlags, command: Command) => {
      applyConfigFile(flags, command);
      return runRelay(flags);
    });
}
