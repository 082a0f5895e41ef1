import type { Command } from "commander";
import { runSimTransfer } from "../../sim/transfer/run-transfer.js";
import { tcpBaselineBps } from "../../sim/transfer/tcp-baseline.js";
import { CliExit, EXIT } from "../exit.js";
import { runServerDemo } from "./demo-servers.js";

interface DemoOptions {
  rtt: string;
  loss: string;
  bandwidth?: string;
  sizeMib?: string;
  method: string;
  simulate?: boolean;
}

function positive(name: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > max)
    throw new CliExit(EXIT.USAGE, `--${name} must be a number from 0 to ${max}, not "${value}"`);
  return n;
}

/**
 * `slipstream demo`: two real servers and the lossy relay between them (see demo-servers.ts);
 * with `--simulate`, the protocol core over the deterministic simulator in virtual time, against
 * a TCP CUBIC model on the same path.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description("transfer a file over an emulated long, lossy path and compare with TCP")
    .option("--rtt <ms>", "round-trip time in milliseconds", "100")
    .option("--loss <percent>", "random loss on the data direction, percent", "1")
    .option("--bandwidth <mbit>", "bottleneck rate in Mbit/s (default 200; simulated: 1000)")
    .option("--size-mib <n>", "file size in MiB (default 64; simulated: 512)")
    .option("--method <m>", "rate control: adaptive, fair, background, fixed", "adaptive")
    .option(
      "--simulate",
      "run the protocol core in the network simulator (virtual time) and compare with TCP",
    )
    .action(async (o: DemoOptions) => {
      const rttMs = positive("rtt", o.rtt, 2000);
      const lossPct = positive("loss", o.loss, 50);
      const rateMbit = positive("bandwidth", o.bandwidth ?? (o.simulate ? "1000" : "200"), 10_000);
      const sizeMib = positive("size-mib", o.sizeMib ?? (o.simulate ? "512" : "64"), 8192);
      if (!["adaptive", "fair", "background", "fixed"].includes(o.method)) {
        throw new CliExit(
          EXIT.USAGE,
          `--method must be adaptive, fair, background or fixed, not "${o.method}"`,
        );
      }
      if (!o.simulate) {
        await runServerDemo({ rttMs, lossPct, rateMbit, sizeMib, method: o.method as "adaptive" });
        return;
      }
      const out = (s: string) => process.stdout.write(s + "\n");
      out(`Emulated path: ${rateMbit} Mbit/s, RTT ${rttMs} ms, ${lossPct} % random loss, queue of one BDP.`);
      out(
        `Sending one ${sizeMib} MiB file with Slipstream (${o.method}), then TCP CUBIC on the same path...`,
      );
      const r = runSimTransfer({
        seed: "demo",
        rateMbit,
        rttMs,
        lossPct,
        method: o.method as "adaptive",
        files: [{ size: Math.round(sizeMib * 2 ** 20), path: "demo.bin" }],
        verifySource: true,
        sampleEveryMs: Math.max(250, rttMs * 5),
        timeLimitS: 3600,
      });
      let prev = { t: 0, bytes: 0 };
      for (const s of r.samples) {
        const mbit = ((s.bytesAcked - prev.bytes) * 8) / ((s.t - prev.t) / 1e6) / 1e6;
        const share = Math.min(1, s.bytesAcked / r.payloadBytes);
        const bar = "#".repeat(Math.round(share * 30)).padEnd(30, ".");
        out(
          `  t=${(s.t / 1e6).toFixed(2).padStart(6)} s [${bar}] ${(share * 100).toFixed(0).padStart(3)} %  ${mbit.toFixed(0).padStart(6)} Mbit/s  RTT+queue ${(rttMs + s.queueDelay / 1000).toFixed(0)} ms  ${s.state}`,
        );
        prev = { t: s.t, bytes: s.bytesAcked };
      }
      if (r.outcome !== "complete" || r.filesMismatched > 0) {
        throw new CliExit(
          EXIT.FAILED,
          `transfer did not complete: ${r.outcome} ${r.senderError?.message ?? ""}`,
        );
      }
      const seconds = Math.min(Math.max(r.duration / 1e6, 5), 30);
      const tcp = tcpBaselineBps({ rateMbit, rttMs, lossPct, algorithm: "cubic", seconds });
      const c = r.sender.endpoint.totals();
      out("");
      out(
        `Slipstream: ${(r.goodputBps / 1e6).toFixed(1)} Mbit/s goodput, ${((r.goodputBps / r.ceilingBps) * 100).toFixed(1)} % of the ceiling ${(r.ceilingBps / 1e6).toFixed(1)} Mbit/s (C × (1 − p) × payload/wire), start-up included`,
      );
      out(
        `            SHA-256 verified end to end; ${c.dataPacketsLost} packets lost, ${c.dataPacketsRetransmitted} retransmitted; peak queueing ${(r.forward.peakQueueDelay / 1000).toFixed(0)} ms`,
      );
      out(
        `TCP CUBIC:  ${(tcp / 1e6).toFixed(2)} Mbit/s on the same path (model, ${seconds.toFixed(0)} s)  →  Slipstream is ${(r.goodputBps / Math.max(tcp, 1)).toFixed(0)}× faster`,
      );
      out(
        `Simulated ${(r.duration / 1e6).toFixed(1)} s of network time in ${(r.wallMs / 1000).toFixed(1)} s.`,
      );
    });
}
