import { Command, InvalidArgumentError } from "commander";
import { resolveMethodName } from "../../api/schema/index.js";
import { isLoopbackHost, readAdminPassword } from "../../client/credentials.js";
import { SlipstreamApiError, SlipstreamConnectionError } from "../../client/errors.js";
import { SlipstreamClient } from "../../client/client.js";
import { defaultStateDir } from "../../server/options/definitions.js";
import { defaultsEnv } from "../../server/options/parse.js";
import { readRuntimeFile } from "../../server/runtime-file.js";
import { parseMethodParams } from "../api-params.js";
import { CliExit, EXIT, usageError } from "../exit.js";
import { formatJson } from "../output.js";
import { promptHidden } from "../prompt.js";

interface ApiCommandOptions {
  host: string;
  apiPort?: number;
  user?: string;
  token?: string;
  superuser?: boolean;
  fingerprint?: string;
  knownHosts?: string;
  stateDir?: string;
  timeout?: number;
  pretty?: boolean;
  compact?: boolean;
  follow?: boolean;
  paramsJson?: string;
}

function portNumber(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535)
    throw new InvalidArgumentError("expected a port from 1 to 65535");
  return port;
}

function seconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError("expected a positive number of seconds");
  return value;
}

function printError(error: unknown): never {
  if (error instanceof SlipstreamApiError) {
    process.stderr.write(JSON.stringify(error.errorObject) + "\n");
    throw new CliExit(EXIT.FAILED);
  }
  if (error instanceof SlipstreamConnectionError)
    throw new CliExit(EXIT.CONNECT, `slipstream api: ${error.message}`);
  throw error;
}

async function login(client: SlipstreamClient, opts: ApiCommandOptions, stateDir: string): Promise<void> {
  try {
    if (opts.user !== undefined) {
      const password =
        process.env.SLIPSTREAM_API_PASSWORD ?? (await promptHidden(`Password for ${opts.user}: `, EXIT.AUTH));
      await client.login(opts.user, password);
    } else if (opts.token !== undefined) {
      const needs = process.env.SLIPSTREAM_API_TOKEN_PASSWORD;
      const session = await client.call("authToken", {
        token: opts.token,
        ...(needs === undefined ? {} : { password: needs }),
      });
      const key = (session as { sessionKey?: unknown }).sessionKey;
      client.sessionKey = typeof key === "string" ? key : null;
    } else if (isLoopbackHost(opts.host)) {
      const password = readAdminPassword(stateDir);
      if (password !== null) await client.login("admin", password);
    }
    if (opts.superuser) await client.superuser();
  } catch (error) {
    if (error instanceof SlipstreamApiError) {
      process.stderr.write(JSON.stringify(error.errorObject) + "\n");
      throw new CliExit(EXIT.AUTH, "slipstream api: login failed");
    }
    printError(error);
  }
}

async function runApi(method: string, words: string[], opts: ApiCommandOptions): Promise<void> {
  const resolution = resolveMethodName(method);
  if ("ambiguous" in resolution) {
    throw usageError(`method name ${method} is ambiguous: use one of ${resolution.ambiguous.join(", ")}`);
  }
  const params = parseMethodParams(words, opts.paramsJson);
  const stateDir = opts.stateDir ?? defaultStateDir(defaultsEnv());
  const runtime = opts.apiPort === undefined && isLoopbackHost(opts.host) ? readRuntimeFile(stateDir) : null;
  const port = opts.apiPort ?? runtime?.apiPort ?? 8886;
  if (opts.timeout !== undefined) {
    setTimeout(() => {
      process.stderr.write(`slipstream api: no result within ${opts.timeout} s\n`);
      process.exit(EXIT.CONNECT);
    }, opts.timeout * 1000).unref();
  }
  const client = new SlipstreamClient({
    host: opts.host,
    port,
    knownHostsFile: opts.knownHosts,
    fingerprint: opts.fingerprint ?? null,
    onFirstUse: (hostPort, fingerprint) =>
      process.stderr.write(
        `slipstream api: recorded certificate fingerprint of ${hostPort}: ${fingerprint}\n`,
      ),
  });
  await login(client, opts, stateDir);
  try {
    if (opts.follow) await client.connectWebSocket();
    const result = await client.call(resolution.resolved, params);
    process.stdout.write(formatJson(result, opts, process.stdout.isTTY === true) + "\n");
  } catch (error) {
    client.close();
    printError(error);
  }
  if (!opts.follow) return;
  client.onNotification((n) =>
    process.stdout.write(JSON.stringify({ method: n.method, params: n.params }) + "\n"),
  );
  await new Promise<never>((_resolve, reject) => {
    process.once("SIGINT", () => reject(new CliExit(EXIT.INTERRUPTED)));
  });
}

/** `slipstream api [client options] <method> [--param=value …]` (server.md §4). */
export function registerApiCommand(program: Command): void {
  program
    .command("api")
    .description("call one API method and print its JSON result")
    .usage("[options] <method> [--param=value ...] [--params-json JSON]")
    .option("--host <host>", "server to call", "localhost")
    .option(
      "--api-port <port>",
      "its API port (default: from <state-dir>/runtime.json, else 8886)",
      portNumber,
    )
    .option("--user <name>", "log in as this user (password from SLIPSTREAM_API_PASSWORD or a prompt)")
    .option("--token <token>", "log in with an API or shared token")
    .option("--superuser", "call superuser() after logging in")
    .option("--fingerprint <hex>", "accept only this certificate fingerprint (and record it)")
    .option("--known-hosts <file>", "pinned fingerprints file (default ~/.slipstream/known_hosts)")
    .option("--state-dir <dir>", "where to look for admin.password and runtime.json")
    .option("--timeout <s>", "give up after this many seconds (exit 3)", seconds)
    .option("--pretty", "indented output")
    .option("--compact", "one-line output")
    .option("--follow", "keep the WebSocket open and print pushed notifications as JSON lines")
    .option("--params-json <json>", "a JSON object of parameters, merged under the --param flags")
    .argument("<method>", "method name (bare names resolve to send.*/recv.* when unambiguous)")
    .argument("[params...]", "--name=value parameters")
    .passThroughOptions()
    .action((method: string, words: string[], opts: ApiCommandOptions) => runApi(method, words, opts));
}
