import type { Command } from "commander";
import { SlipstreamConnectionError } from "../../client/errors.js";
import { CliExit, EXIT } from "../exit.js";
import { connectLocalServer } from "../local-server.js";
import { formatBytes, formatRate } from "../progress.js";

interface StatusOptions {
  host: string;
  apiPort?: number;
  stateDir?: string;
  user?: string;
  all?: boolean;
}

interface ConnectionRow {
  destinationAddress: string;
  destinationPort: number;
  encryptedConnectionState: string;
  roundTripTimeMs: number | null;
  pacingRate: number;
  sendRateAverageWindow: number;
  lossPercentWindow: number;
  numTransfersActive: number;
  numTransfersQueued: number;
  lastError: string | null;
}

interface TransferRow {
  transferId: string;
  status: string;
  bytesAcked: number;
  totalBytes: number;
  goodputAverageWindow: number;
  destinationPath: string;
  errorCode: string | null;
}

/** Columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function runStatus(o: StatusOptions): Promise<void> {
  const local = await connectLocalServer({ ...o, embedded: false, recvPort: 0 }, "status");
  try {
    const owner = o.all ? { owner: "*" } : {};
    if (o.all) await local.client.superuser();
    const connections = (await local.client.call("send.getConnections", owner)) as ConnectionRow[];
    const transfers = (await local.client.call("send.getTransfers", {
      ...owner,
      status: ["pending", "queued", "transferring", "suspended", "error"],
    })) as TransferRow[];
    const out: string[] = [];
    out.push(
      table(
        ["DESTINATION", "STATE", "RTT", "PACING", "SENDING", "LOSS", "ACTIVE", "QUEUED", "ERROR"],
        connections.map((c) => [
          `${c.destinationAddress}:${c.destinationPort}`,
          c.encryptedConnectionState,
          c.roundTripTimeMs === null ? "-" : `${c.roundTripTimeMs.toFixed(1)} ms`,
          formatRate(c.pacingRate),
          formatRate(c.sendRateAverageWindow),
          `${c.lossPercentWindow.toFixed(1)}%`,
          String(c.numTransfersActive),
          String(c.numTransfersQueued),
          c.lastError ?? "",
        ]),
      ),
    );
    out.push("");
    out.push(
      table(
        ["TRANSFER", "STATUS", "PROGRESS", "RATE", "PATH", "ERROR"],
        transfers.map((t) => [
          t.transferId,
          t.status,
          `${formatBytes(t.bytesAcked)}/${formatBytes(t.totalBytes)}`,
          formatRate(t.goodputAverageWindow),
          t.destinationPath || "/",
          t.errorCode ?? "",
        ]),
      ),
    );
    process.stdout.write(out.join("\n") + "\n");
  } catch (error) {
    if (error instanceof SlipstreamConnectionError)
      throw new CliExit(EXIT.CONNECT, `slipstream status: ${error.message}`);
    throw error;
  } finally {
    await local.close();
  }
}

/** `slipstream status`: the local server's connections and unfinished transfers as tables. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("show the local server's connections and unfinished transfers")
    .option("--host <host>", "server API host", "localhost")
    .option("--api-port <port>", "API port (default: from runtime.json, else 8886)", (v) => Number(v))
    .option("--state-dir <dir>", "state dir (admin.password, runtime.json)")
    .option("--user <name>", "user (password from SLIPSTREAM_API_PASSWORD)")
    .option("--all", "every user's objects (elevates the session)")
    .action((opts: StatusOptions) => runStatus(opts));
}
