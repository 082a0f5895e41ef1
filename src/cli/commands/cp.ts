import { stat } from "node:fs/promises";
import { basename, posix, resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { SlipstreamApiError, SlipstreamConnectionError } from "../../client/errors.js";
import { SlipstreamClient } from "../../client/client.js";
import { parseRate } from "../../server/units.js";
import { CliExit, EXIT, usageError } from "../exit.js";
import { connectLocalServer } from "../local-server.js";
import { promptHidden } from "../prompt.js";
import { formatBytes, formatDuration, formatRate, progressLine } from "../progress.js";

interface CpOptions {
  recursive?: boolean;
  host: string;
  apiPort?: number;
  stateDir?: string;
  user?: string;
  port: number;
  rateControl?: string;
  rate?: number;
  rateMin?: number;
  rateMax?: number;
  priority: number;
  checkpoint?: number;
  overwrite: string;
  embedded: boolean;
  recvPort: number;
  detach?: boolean;
  quiet?: boolean;
  json?: boolean;
  remoteApiPort: number;
  remoteToken?: string;
  publicKey?: string;
  fingerprint?: string;
}

export interface RemoteTarget {
  user: string | null;
  host: string;
  /** UDP port given as `host:port:path`, else null (then `--port`) */
  port: number | null;
  path: string;
}

/**
 * `[user@]host[:port]:path`, `[user@][v6addr][:port]:path`; anything else (or `./a:b`) is a local
 * path. A purely numeric second field is the receiver's UDP port.
 */
export function parseRemote(operand: string): RemoteTarget | null {
  if (operand.startsWith("/") || operand.startsWith(".")) return null;
  const m = /^(?:([^@/:]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:/[\]]+)(?::(\d{1,5}))?:(.*)$/.exec(operand);
  if (!m) return null;
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { user: m[1] ?? null, host: m[2]!.replace(/^\[|\]$/g, ""), port, path: m[4]! };
}

/** scp naming: which receiver directory, and each source's path below it. */
export async function planCopy(
  sources: readonly string[],
  targetPath: string,
  recursive: boolean,
): Promise<{ destinationPath: string; mappings: { srcPath: string; destPath: string }[] }> {
  const infos = await Promise.all(
    sources.map(async (s) => {
      const path = resolve(s);
      const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
        throw usageError(
          `slipstream cp: ${s}: ${error.code === "ENOENT" ? "no such file or directory" : error.message}`,
        );
      });
      if (info.isDirectory() && !recursive) throw usageError(`slipstream cp: ${s} is a directory (use -r)`);
      return { path, directory: info.isDirectory() };
    }),
  );
  const target = targetPath.replace(/^\/+/, "");
  const intoDirectory = targetPath.endsWith("/") || sources.length > 1 || target === "";
  if (intoDirectory) {
    return {
      destinationPath: target.replace(/\/+$/, ""),
      mappings: infos.map((i) => ({ srcPath: i.path, destPath: basename(i.path) })),
    };
  }
  const only = infos[0]!;
  if (only.directory) return { destinationPath: target, mappings: [{ srcPath: only.path, destPath: "" }] };
  return {
    destinationPath: posix.dirname(target) === "." ? "" : posix.dirname(target),
    mappings: [{ srcPath: only.path, destPath: posix.basename(target) }],
  };
}

interface TransferView {
  transferId: string;
  status: string;
  bytesAcked: number;
  totalBytes: number;
  totalFiles: number;
  goodputAverageWindow: number;
  goodputAverage: number;
  activeSeconds: number;
  blocksSent: number;
  blocksRetransmitted: number;
  errorMessage: string;
  connectionId: string;
}

async function runCp(operands: string[], o: CpOptions): Promise<void> {
  if (operands.length < 2) throw usageError("slipstream cp: need SOURCE… and TARGET");
  const target = parseRemote(operands[operands.length - 1]!);
  const sources = operands.slice(0, -1);
  if (!target)
    throw usageError(
      "slipstream cp: TARGET must be host:path (copies to a local path are not supported yet)",
    );
  const remoteSource = sources.find((s) => parseRemote(s) !== null);
  if (remoteSource) {
    throw usageError(`slipstream cp: ${remoteSource}: copying from a remote server is not supported yet`);
  }
  const plan = await planCopy(sources, target.path, o.recursive === true);
  const remote = await remoteGrant(target, plan.destinationPath, o);
  const local = await connectLocalServer(
    {
      host: o.host,
      apiPort: o.apiPort,
      stateDir: o.stateDir,
      user: o.user,
      embedded: o.embedded,
      recvPort: o.recvPort,
    },
    "cp",
  );
  const api = local.client;
  let transferId: string | null = null;
  const onInterrupt = () => {
    void (async () => {
      if (transferId) await api.call("send.cancelTransfer", { transferId }).catch(() => undefined);
      await local.close();
      process.exit(EXIT.INTERRUPTED);
    })();
  };
  process.once("SIGINT", onInterrupt);
  try {
    const dest = (await api
      .call("send.createDestination", {
        destinationAddress: target.host,
        destinationPort: target.port ?? o.port,
        ...(remote.publicKey ? { destinationPublicKey: remote.publicKey } : {}),
        ...(o.rateControl ? { rateControlMethod: o.rateControl } : {}),
        ...(o.rate !== undefined ? { sendRate: o.rate } : {}),
        ...(o.rateMin !== undefined ? { sendRateMin: o.rateMin } : {}),
        ...(o.rateMax !== undefined ? { sendRateMax: o.rateMax } : {}),
      })
      .catch(async (error: unknown) => {
        // an existing destination with other settings: reuse it, updating rates only if asked
        if (!(error instanceof SlipstreamApiError) || error.code !== "CONFLICT") throw error;
        const id = (error.data as { id?: string }).id!;
        const rates = {
          rateControlMethod: o.rateControl,
          sendRate: o.rate,
          sendRateMin: o.rateMin,
          sendRateMax: o.rateMax,
        };
        if (Object.values(rates).some((v) => v !== undefined)) {
          if (!o.quiet)
            process.stderr.write(
              "slipstream cp: updating the destination's rates; this affects its other transfers\n",
            );
          return api.call("send.updateDestination", { destinationId: id, ...rates });
        }
        return api.call("send.getDestination", { destinationId: id });
      })) as { destinationId: string };
    const manifest = (await api.call("send.createManifest", { fileMappings: plan.mappings })) as {
      manifestId: string;
    };
    const transfer = (await api.call("send.createTransfer", {
      manifestId: manifest.manifestId,
      destinationId: dest.destinationId,
      destinationPath: plan.destinationPath,
      priority: o.priority,
      overwrite: o.overwrite as "always",
      ...(remote.token
        ? { receiveToken: remote.token.token, receiveTokenPassword: remote.token.password }
        : {}),
      ...(o.checkpoint !== undefined ? { checkpointFrequencySeconds: o.checkpoint } : {}),
    })) as TransferView;
    transferId = transfer.transferId;
    if (o.detach && local.embedded === null) {
      process.stdout.write(transfer.transferId + "\n");
      return;
    }
    const end = await follow(
      api,
      transfer,
      sources.length === 1 ? basename(sources[0]!) : `${sources.length} sources`,
      o,
    );
    if (o.json) process.stdout.write(JSON.stringify(end, null, 2) + "\n");
    if (end.status !== "complete") throw new CliExit(EXIT.FAILED);
  } catch (error) {
    if (error instanceof SlipstreamApiError)
      throw new CliExit(EXIT.FAILED, `slipstream cp: ${error.message}`);
    if (error instanceof SlipstreamConnectionError)
      throw new CliExit(EXIT.CONNECT, `slipstream cp: ${error.message}`);
    throw error;
  } finally {
    process.off("SIGINT", onInterrupt);
    await remote.release();
    await local.close();
  }
}

interface RemoteGrant {
  publicKey: string | null;
  token: { token: string; password: string | null } | null;
  release(): Promise<void>;
}

/**
 * What the receiving server needs from cp (server.md §5): its public key (from its public
 * getServerInfo, unless --public-key gives it), and for `user@host` a 24-hour API token
 * with `upload` confined to the target directory, made for this copy and deleted after it.
 */
async function remoteGrant(
  target: RemoteTarget,
  destinationPath: string,
  o: CpOptions,
): Promise<RemoteGrant> {
  const none: RemoteGrant = { publicKey: o.publicKey ?? null, token: null, release: async () => undefined };
  if (o.remoteToken !== undefined) {
    return {
      ...none,
      token: { token: o.remoteToken, password: process.env.SLIPSTREAM_TOKEN_PASSWORD ?? null },
    };
  }
  const needsApi = target.user !== null || o.publicKey === undefined;
  if (!needsApi) return none;
  const client = new SlipstreamClient({
    host: target.host,
    port: o.remoteApiPort,
    fingerprint: o.fingerprint ?? null,
    onFirstUse: (hostPort, fingerprint) =>
      process.stderr.write(
        `slipstream cp: recorded certificate fingerprint of ${hostPort}: ${fingerprint}\n`,
      ),
  });
  try {
    const info = (await client.call("getServerInfo", {})) as { publicKey: string | null };
    const publicKey = o.publicKey ?? info.publicKey;
    if (target.user === null) {
      client.close();
      return { ...none, publicKey };
    }
    const password =
      process.env.SLIPSTREAM_REMOTE_PASSWORD ??
      (await promptHidden(`Password for ${target.user}@${target.host}: `, EXIT.AUTH));
    await client.login(target.user, password).catch(() => {
      throw new CliExit(EXIT.AUTH, `slipstream cp: login to ${target.host} as ${target.user} failed`);
    });
    const dir = "/" + destinationPath;
    if (destinationPath !== "") await client.call("mkdir", { path: dir, parents: true });
    const token = (await client.call("createAPIToken", {
      permissions: ["upload"],
      path: dir,
      description: "slipstream cp",
      expirySeconds: 86_400,
    })) as { token: string };
    return {
      publicKey,
      token: { token: token.token, password: null },
      async release() {
        await client.call("deleteAPIToken", { token: token.token }).catch(() => undefined);
        client.close();
      },
    };
  } catch (error) {
    client.close();
    if (error instanceof SlipstreamConnectionError) {
      throw new CliExit(
        EXIT.CONNECT,
        `slipstream cp: cannot reach the API of ${target.host}:${o.remoteApiPort}: ${error.message}`,
      );
    }
    throw error;
  }
}

async function follow(
  api: SlipstreamClient,
  t: TransferView,
  label: string,
  o: CpOptions,
): Promise<TransferView> {
  const tty = process.stderr.isTTY === true && !o.quiet;
  let lastPlain = 0;
  for (;;) {
    const now = (await api.call("send.waitForTransfer", {
      transferId: t.transferId,
      timeoutSeconds: 1,
    })) as TransferView;
    const final = ["complete", "error", "cancelled"].includes(now.status);
    if (!o.quiet) {
      const c = (await api.call("send.getConnection", { connectionId: now.connectionId })) as {
        roundTripTimeMs: number | null;
        lossPercentWindow: number;
        encryptedConnectionState: string;
      };
      const line = progressLine({
        label: `${label} (${now.totalFiles} file${now.totalFiles === 1 ? "" : "s"})`,
        status: now.status,
        bytesAcked: now.bytesAcked,
        totalBytes: now.totalBytes,
        goodputAverageWindow: now.goodputAverageWindow,
        roundTripTimeMs: c.roundTripTimeMs,
        lossPercentWindow: c.lossPercentWindow,
        connected: c.encryptedConnectionState === "connected",
      });
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastPlain >= 10_000 || final) {
        process.stderr.write(line + "\n");
        lastPlain = Date.now();
      }
    }
    if (!final) continue;
    if (tty) process.stderr.write("\n");
    if (!o.quiet) {
      if (now.status === "complete") {
        const retx = now.blocksSent > 0 ? (100 * now.blocksRetransmitted) / now.blocksSent : 0;
        process.stderr.write(
          `done: ${formatBytes(now.totalBytes)} in ${formatDuration(now.activeSeconds)}, ${formatRate(now.goodputAverage)} average, ${retx.toFixed(1)} % retransmitted\n`,
        );
      } else {
        process.stderr.write(`${now.status}: ${now.errorMessage || now.status}\n`);
      }
    }
    return now;
  }
}

function integer(min: number, max: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

function kbps(text: string): number {
  try {
    return parseRate(text);
  } catch (error) {
    throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
  }
}

/** `slipstream cp SOURCE… HOST:PATH` (server.md §5): a copy driven through the local server. */
export function registerCpCommand(program: Command): void {
  program
    .command("cp")
    .description("copy local files to a Slipstream receiver through the local (or an embedded) server")
    .usage("[options] SOURCE... [user@]HOST[:PORT]:PATH")
    .argument("<operands...>", "sources, then the target")
    .option("-r, --recursive", "copy directories")
    .option("--host <host>", "local server API host", "localhost")
    .option(
      "--api-port <port>",
      "local server API port (default: from runtime.json, else 8886)",
      integer(1, 65535),
    )
    .option("--state-dir <dir>", "local server state dir (admin.password, runtime.json)")
    .option("--user <name>", "local server user (password from SLIPSTREAM_API_PASSWORD)")
    .option("--port <port>", "UDP receive port of the remote receiver", integer(1, 65535), 8886)
    .option("--remote-api-port <port>", "API port of the remote server", integer(1, 65535), 8886)
    .option("--remote-token <token>", "upload API token of the remote (password: SLIPSTREAM_TOKEN_PASSWORD)")
    .option("--public-key <key>", "the receiver's public key (default: fetched from its API)")
    .option("--fingerprint <hex>", "pin the remote API certificate")
    .option("--rate-control <m>", "rateControlMethod of a new destination: fixed, adaptive, fair, background")
    .option("--rate <kbps>", "sendRate (kbps; M/G suffixes)", kbps)
    .option("--rate-min <kbps>", "sendRateMin", kbps)
    .option("--rate-max <kbps>", "sendRateMax", kbps)
    .option("--priority <n>", "transfer priority (lower first)", integer(0, 65535), 100)
    .option("--checkpoint <s>", "checkpointFrequencySeconds", integer(0, 86400))
    .option("--overwrite <o>", "always, never or differs", "always")
    .option("--no-embedded", "never start an embedded server")
    .option("--recv-port <port>", "receive port of an embedded server", integer(0, 65535), 0)
    .option("--detach", "exit once the transfer is queued, printing its transferId")
    .option("-q, --quiet", "no progress output")
    .option("--json", "print the final Transfer as JSON")
    .action((operands: string[], opts: CpOptions) => runCp(operands, opts));
}
