import type { Command } from "commander";
import { parseEndpoint, runLossyRelay } from "../../io/lossy-relay.js";
import { CliExit, EXIT } from "../exit.js";

interface LossyRelayFlags {
  listen: string;
  target: string;
  rttMs: string;
  lossPct: string;
  rateMbit?: string;
  jitterMs: string;
  reorderPct: string;
  queueKib?: string;
  seed?: string;
  statsSeconds: string;
}

function number(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new CliExit(EXIT.USAGE, `--${flag} must be a number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

function endpoint(flag: string, value: string): string {
  try {
    parseEndpoint(value);
  } catch (e) {
    throw new CliExit(EXIT.USAGE, `--${flag}: ${(e as Error).message}`);
  }
  return value;
}

/**
 * `slipstream lossy-relay`: a UDP relay that emulates a long, lossy link (delay, loss, rate,
 * jitter, reordering) between a sender and a receiver on this machine, without root.
 */
export function registerLossyRelayCommand(program: Command): void {
  program
    .command("lossy-relay")
    .description("relay UDP datagrams through an emulated WAN link (delay, loss, rate, reordering)")
    .requiredOption("--listen <host:port>", "address senders send to")
    .requiredOption("--target <host:port>", "receiver the datagrams are forwarded to")
    .option("--rtt-ms <ms>", "round-trip time added (half each way)", "100")
    .option("--loss-pct <percent>", "random loss each way", "0")
    .option("--rate-mbit <mbit>", "rate limit each way (unlimited if absent)")
    .option("--jitter-ms <ms>", "delay jitter each way", "0")
    .option("--reorder-pct <percent>", "share of datagrams reordered", "0")
    .option("--queue-kib <kib>", "bottleneck queue when rate-limited")
    .option("--seed <n>", "seed for loss, jitter and reordering")
    .option("--stats-seconds <s>", "print counters this often (0 = never)", "5")
    .action(async (o: LossyRelayFlags) => {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await runLossyRelay({
        listen: endpoint("listen", o.listen),
        target: endpoint("target", o.target),
        rttMs: number("rtt-ms", o.rttMs, 0, 10_000)!,
        lossPct: number("loss-pct", o.lossPct, 0, 100),
        rateMbit: number("rate-mbit", o.rateMbit, 0, 100_000),
        jitterMs: number("jitter-ms", o.jitterMs, 0, 10_000),
        reorderPct: number("reorder-pct", o.reorderPct, 0, 100),
        queueKiB: number("queue-kib", o.queueKib, 1, 1_048_576),
        seed: number("seed", o.seed, 0, 2 ** 31),
        statsIntervalMs: number("stats-seconds", o.statsSeconds, 0, 3600)! * 1000,
        signal: controller.signal,
      });
    });
}
