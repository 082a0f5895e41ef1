/**
 * `npm run bench -- sim [options]`: one simulated transfer per run (median of --runs), printing
 * goodput against the physical ceiling C × (1 − p) × payload/wire.
 * `npm run bench -- compete [options]`: flows sharing one simulated bottleneck.
 * `npm run bench -- loopback [options]`: real UDP on loopback, sender and receiver processes.
 * `npm run bench -- relay [options]`: goodput through a relay (receiver- and sender-side) vs direct.
 */
import { parseArgs } from "node:util";
import { runSimTransfer } from "../src/sim/transfer/run-transfer.js";
import { runCompetition, type CompetingFlow } from "../src/sim/transfer/competition.js";
import { RATE_CONTROL_METHODS, type RateControlMethod } from "../src/core/congestion/controller.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function sim(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      "rate-mbit": { type: "string", default: "1000" },
      "rtt-ms": { type: "string", default: "100" },
      "loss-pct": { type: "string", default: "1" },
      method: { type: "string", default: "adaptive" },
      "size-mib": { type: "string", default: "1024" },
      "send-rate-mbit": { type: "string", default: "10" },
      runs: { type: "string", default: "1" },
      seed: { type: "string", default: "1" },
      json: { type: "boolean", default: false },
    },
  });
  const method = values.method as RateControlMethod;
  if (!RATE_CONTROL_METHODS.includes(method))
    throw new Error(`--method must be one of ${RATE_CONTROL_METHODS.join(", ")}`);
  const runs = Math.max(1, Number(values.runs));
  const results: Array<Record<string, number>> = [];
  for (let i = 0; i < runs; i++) {
    const r = runSimTransfer({
      seed: `${values.seed}-${i}`,
      rateMbit: Number(values["rate-mbit"]),
      rttMs: Number(values["rtt-ms"]),
      lossPct: Number(values["loss-pct"]),
      method,
      sendRateMbit: Number(values["send-rate-mbit"]),
      files: [{ size: Math.round(Number(values["size-mib"]) * 2 ** 20) }],
      timeLimitS: 3600,
    });
    if (r.outcome !== "complete" || r.filesMismatched > 0) throw new Error(`run ${i}: ${r.outcome}`);
    results.push({
      goodputMbit: r.goodputBps / 1e6,
      ceilingMbit: r.ceilingBps / 1e6,
      shareOfCeiling: r.goodputBps / r.ceilingBps,
      seconds: r.duration / 1e6,
      retransmittedBytes: r.bytesRetransmitted,
      lostBytes: r.packetsLost * r.blockSize,
      peakQueueDelayMs: r.forward.peakQueueDelay / 1000,
      wallSeconds: r.wallMs / 1000,
    });
  }
  const pick = (k: string) => median(results.map((r) => r[k]!));
  const summary = {
    scenario: { ...values, runs },
    goodputMbit: pick("goodputMbit"),
    ceilingMbit: pick("ceilingMbit"),
    shareOfCeiling: pick("shareOfCeiling"),
    retransmittedBytes: pick("retransmittedBytes"),
    lostBytes: pick("lostBytes"),
    retransmittedOverLost: pick("retransmittedBytes") / Math.max(1, pick("lostBytes")),
    peakQueueDelayMs: pick("peakQueueDelayMs"),
    peakQueueDelayRtts: pick("peakQueueDelayMs") / Number(values["rtt-ms"]),
    virtualSeconds: pick("seconds"),
    wallSeconds: pick("wallSeconds"),
  };
  if (values.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  const f = (x: number, d = 1) => x.toFixed(d);
  console.log(
    `sim ${values["rate-mbit"]} Mbit/s, RTT ${values["rtt-ms"]} ms, loss ${values["loss-pct"]} %, ${method}, ${values["size-mib"]} MiB, median of ${runs}`,
  );
  console.log(`  goodput        ${f(summary.goodputMbit)} Mbit/s`);
  console.log(`  ceiling        ${f(summary.ceilingMbit)} Mbit/s  (C × (1 − p) × payload/wire)`);
  console.log(`  share          ${f(summary.shareOfCeiling * 100)} %`);
  console.log(
    `  retransmitted  ${summary.retransmittedBytes} B; lost ${summary.lostBytes} B; ratio ${f(summary.retransmittedOverLost, 3)}`,
  );
  console.log(`  peak queueing  ${f(summary.peakQueueDelayMs)} ms (${f(summary.peakQueueDelayRtts, 2)} RTT)`);
  console.log(`  simulated ${f(summary.virtualSeconds, 2)} s in ${f(summary.wallSeconds, 1)} s of wall time`);
}

/** `compete --flows fair,fair,cubic`: flows sharing one bottleneck; shares and Jain's index. */
function compete(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      flows: { type: "string", default: "fair,fair,cubic" },
      "rate-mbit": { type: "string", default: "100" },
      "rtt-ms": { type: "string", default: "40" },
      "loss-pct": { type: "string", default: "0" },
      seconds: { type: "string", default: "60" },
      "measure-from": { type: "string", default: "20" },
      json: { type: "boolean", default: false },
    },
  });
  const flows: CompetingFlow[] = values.flows.split(",").map((name) => {
    if (name === "cubic" || name === "reno") return { kind: "tcp", algorithm: name };
    if (!RATE_CONTROL_METHODS.includes(name as RateControlMethod)) {
      throw new Error(`--flows: "${name}" is neither a rate control method nor cubic/reno`);
    }
    return { kind: "slipstream", method: name as RateControlMethod };
  });
  const r = runCompetition({
    seed: 1,
    rateMbit: Number(values["rate-mbit"]),
    rttMs: Number(values["rtt-ms"]),
    lossPct: Number(values["loss-pct"]),
    flows,
    durationS: Number(values.seconds),
    measureFromS: Number(values["measure-from"]),
  });
  if (values.json) {
    console.log(JSON.stringify({ scenario: values, ...r }));
    return;
  }
  console.log(
    `compete ${values.flows} on ${values["rate-mbit"]} Mbit/s, RTT ${values["rtt-ms"]} ms, loss ${values["loss-pct"]} %, measured ${values["measure-from"]}–${values.seconds} s`,
  );
  values.flows.split(",").forEach((name, i) => {
    console.log(
      `  ${name.padEnd(10)} ${(r.throughputBps[i]! / 1e6).toFixed(1).padStart(8)} Mbit/s  ${(r.shares[i]! * 100).toFixed(1)} %`,
    );
  });
  console.log(
    `  Jain index ${r.jain.toFixed(3)}, utilization ${(r.utilization * 100).toFixed(1)} %, peak queueing ${(r.peakQueueDelay / 1000).toFixed(1)} ms`,
  );
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === "sim") sim(rest);
  else if (mode === "compete") compete(rest);
  else if (mode === "crypto") (await import("./crypto.js")).main(rest);
  else if (mode === "loopback") {
    process.argv = [process.argv[0]!, process.argv[1]!, ...rest];
    await import("./loopback.js");
  } else if (mode === "api-load") await (await import("./api-load.js")).main(rest);
  else if (mode === "relay") {
    process.argv = [process.argv[0]!, process.argv[1]!, ...rest];
    await import("./relay.js");
  } else {
    console.error("usage: npm run bench -- sim|compete|loopback|relay [options]");
    process.exit(2);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
