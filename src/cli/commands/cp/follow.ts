/** Following a transfer on the server that sends it: progress line, outcome line (server.md §5). */
import type { SlipstreamClient } from "../../../client/client.js";
import { formatBytes, formatDuration, formatRate, progressLine } from "../../progress.js";

export interface TransferView {
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

const FINAL = ["complete", "error", "cancelled"];

/** Polls `transferId` on `api` until it ends, drawing progress on standard error unless quiet. */
export async function follow(
  api: SlipstreamClient,
  transferId: string,
  label: string,
  quiet: boolean,
): Promise<TransferView> {
  const tty = process.stderr.isTTY === true && !quiet;
  let lastPlain = 0;
  for (;;) {
    const now = (await api.call("send.waitForTransfer", {
      transferId,
      timeoutSeconds: 1,
    })) as TransferView;
    const final = FINAL.includes(now.status);
    if (!quiet) {
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
    if (!quiet) process.stderr.write(outcomeLine(now) + "\n");
    return now;
  }
}

/** `done: 3.24 GB in 38 s, 682 Mbit/s average, 0.7 % retransmitted`, or the error. */
function outcomeLine(t: TransferView): string {
  if (t.status !== "complete") return `${t.status}: ${t.errorMessage || t.status}`;
  const retx = t.blocksSent > 0 ? (100 * t.blocksRetransmitted) / t.blocksSent : 0;
  return `done: ${formatBytes(t.totalBytes)} in ${formatDuration(t.activeSeconds)}, ${formatRate(t.goodputAverage)} average, ${retx.toFixed(1)} % retransmitted`;
}
