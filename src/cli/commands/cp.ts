/**
 * `slipstream cp SOURCE… TARGET` (server.md §5): a one-shot copy between local paths, servers
 * and download links, driven through the API of the server that sends. The directions live in
 * ./cp/.
 */
import { Command, InvalidArgumentError } from "commander";
import { SlipstreamApiError, SlipstreamConnectionError } from "../../client/errors.js";
import { parseRate } from "../../server/units.js";
import { CliExit, EXIT } from "../exit.js";
import { Cleanups } from "./cp/cleanups.js";
import { runDownload, runLinkDownload, runRemoteToRemote } from "./cp/download.js";
import { routeCopy } from "./cp/operands.js";
import type { CpOptions } from "./cp/options.js";
import { checkSendingOptions, parseRelay } from "./cp/sending.js";
import type { CopyRun } from "./cp/transfer.js";
import { runUpload } from "./cp/upload.js";

export { parseLink, parseRemote, planCopy, routeCopy, type RemoteTarget } from "./cp/operands.js";

async function runCp(operands: string[], o: CpOptions): Promise<void> {
  const route = routeCopy(operands, o.remoteApiPort);
  checkSendingOptions(route, o);
  const run: CopyRun = { cleanups: new Cleanups(), transfer: null };
  // Ctrl-C: cancel the transfer, delete the tokens cp made, exit 130
  const onInterrupt = () => {
    void (async () => {
      const t = run.transfer;
      if (t) await t.api.call("send.cancelTransfer", { transferId: t.transferId }).catch(() => undefined);
      await run.cleanups.run();
      process.exit(EXIT.INTERRUPTED);
    })();
  };
  process.once("SIGINT", onInterrupt);
  let detached = false;
  try {
    if (route.direction === "upload") detached = await runUpload(route.sources, route.target, o, run);
    else if (route.direction === "download")
      detached = await runDownload(route.server, route.sources, route.target, o, run);
    else if (route.direction === "remote-to-remote")
      detached = await runRemoteToRemote(route.server, route.sources, route.target, o, run);
    else detached = await runLinkDownload(route.link, route.target, o, run);
  } catch (error) {
    if (error instanceof SlipstreamApiError)
      throw new CliExit(EXIT.FAILED, `slipstream cp: ${error.message}`);
    if (error instanceof SlipstreamConnectionError)
      throw new CliExit(EXIT.CONNECT, `slipstream cp: ${error.message}`);
    throw error;
  } finally {
    process.off("SIGINT", onInterrupt);
    if (detached && run.cleanups.madeTokens && !o.quiet)
      process.stderr.write(
        "slipstream cp: detached; the tokens cp made stay valid until they expire (24 h)\n",
      );
    await run.cleanups.run(detached);
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

export function registerCpCommand(program: Command): void {
  program
    .command("cp")
    .description(
      "copy between local paths, Slipstream servers and download links, through the API of the server that sends",
    )
    .usage("[options] SOURCE... TARGET   (SOURCE/TARGET: path, [user@]HOST[:PORT]:PATH, slipstream://… link)")
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
    .option(
      "--remote-api-port <port>",
      "API port of remote servers (and of links without a port)",
      integer(1, 65535),
      8886,
    )
    .option(
      "--target-api-port <port>",
      "API port of the TARGET server in a host:path → host:path copy (default: --remote-api-port)",
      integer(1, 65535),
    )
    .option(
      "--remote-token <token>",
      "API token on the remote: upload on a receiving remote, download on a sending one (password: SLIPSTREAM_TOKEN_PASSWORD)",
    )
    .option("--public-key <key>", "the receiver's public key (default: fetched from its API)")
    .option(
      "--no-encryption",
      "send unencrypted: needs a sending server with --cipher none --min-cipher none (an embedded one is started so) and a receiver with --min-cipher none; not with user@ or --remote-token on the receiving side, nor into a local path",
    )
    .option("--fingerprint <hex>", "pin the remote API certificate")
    .option("--rate-control <m>", "rateControlMethod of a new destination: fixed, adaptive, fair, background")
    .option("--rate <kbps>", "sendRate (kbps; M/G suffixes)", kbps)
    .option("--rate-min <kbps>", "sendRateMin", kbps)
    .option("--rate-max <kbps>", "sendRateMax", kbps)
    .option(
      "--relay <host[:port]>",
      'sender-side relay of the destination (port default 8887; "" sends directly; default: the sending server\'s)',
      parseRelay,
    )
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
