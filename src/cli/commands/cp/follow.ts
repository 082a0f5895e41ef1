/**
 * Following a transfer on the server that sends it: progress line, outcome line (server.md §5),
 * and a receiver that refuses the session's cipher policy.
 */
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

/** What cp reads of the transfer's connection (api.md, Connection). */
export interface ConnectionView {
  roundTripTimeMs: number | null;
  lossPercentWindow: number;
  encryptedConnectionState: string;
  lastError: string | null;
  lastErrorMessage: string | null;
  /** the negotiated cipher; null before a handshake */
  cipher: string | null;
}

export interface FollowEnd {
  transfer: TransferView;
  connection: ConnectionView;
  /** the receiver refused the session in a way retrying does not mend; the transfer still waits */
  refused: string | null;
}

const FINAL = ["complete", "error", "cancelled"];
/** handshake refusals of a cipher policy mismatch (server.md §10): cp fails instead of waiting */
const REFUSALS = ["ENCRYPTION_REQUIRED", "CIPHER_REJECTED"];

/**
 * Polls `transferId` on `api` until it ends, or until its connection has been refused twice in
 * a row (once could be left from an earlier attempt), drawing progress on standard error
 * unless quiet.
 */
export async function follow(
  api: SlipstreamClient,
  transferId: string,
  label: string,
  quiet: boolean,
): Promise<FollowEnd> {
  const tty = process.stderr.isTTY === true && !quiet;
  let lastPlain = 0;
  let refusals = 0;
  for (;;) {
    const now = (await api.call("send.waitForTransfer", {
      transferId,
      timeoutSeconds: 1,
    })) as TransferView;
    const final = FINAL.includes(now.status);
    const c = (await api.call("send.getConnection", { connectionId: now.connectionId })) as ConnectionView;
    const connected = c.encryptedConnectionState === "connected";
    refusals = !final && !connected && REFUSALS.includes(c.lastError ?? "") ? refusals + 1 : 0;
    if (!quiet) {
      const line = progressLine({
        label: `${label} (${now.totalFiles} file${now.totalFiles === 1 ? "" : "s"})`,
        status: now.status,
        bytesAcked: now.bytesAcked,
        totalBytes: now.totalBytes,
        goodputAverageWindow: now.goodputAverageWindow,
        roundTripTimeMs: c.roundTripTimeMs,
        lossPercentWindow: c.lossPercentWindow,
        connected,
      });
      if (tty) process.stderr.write(`\r\x1b[2K${line}`);
      else if (Date.now() - lastPlain >= 10_000 || final) {
        process.stderr.write(line + "\n");
        lastPlain = Date.now();
      }
    }
    if (refusals >= 2) {
      if (tty) process.stderr.write("\n");
      return { transfer: now, connection: c, refused: c.lastErrorMessage ?? c.lastError };
    }
    if (!final) continue;
    if (tty) process.stderr.write("\n");
    if (!quiet) process.stderr.write(outcomeLine(now) + "\n");
    return { transfer: now, connection: c, refused: null };
  }
}

/** `done: 3.24 GB in 38 s, 682 Mbit/s average, 0.7 % retransmitted`, or the error. */
function outcomeLine(t: TransferView): string {
  if (t.status !== "complete") return `${t.status}: ${t.errorMessage || t.status}`;
  const retx = t.blocksSent > 0 ? (100 * t.blocksRetransmitted) / t.blocksSent : 0;
  return `done: ${formatBytes(t.totalBytes)} in ${formatDuration(t.activeSeconds)}, ${formatRate(t.goodputAverage)} average, ${retx.toFixed(1)} % retransmitted`;
}
