/**
 * Real-UDP loopback throughput: sender and receiver each in their own child process (compiled dist
 * files, so each peak RSS is that side's alone), one file of N MiB, unencrypted, once at a fixed
 * high rate and once adaptive.
 *
 *   node dist/bench/loopback.js [--size-mib N] [--rate-mbit R] [--json]
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, open, rm, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConnectionConfig } from "../src/core/transport/connection.js";
import { UdpReceiver } from "../src/io/drivers/udp-receiver.js";
import { UdpSender } from "../src/io/drivers/udp-sender.js";
import { monotonicMicros } from "../src/io/drivers/clock.js";

interface ChildReady {
  type: "ready";
  port: number;
}
interface ChildReport {
  type: "report";
  maxRssKiB: number;
  bytesWritten: number;
}

interface RunResult {
  method: string;
  ok: boolean;
  error?: string;
  sizeMiB: number;
  seconds: number;
  goodputMbit: number;
  retransmittedBytes: number;
  lostPackets: number;
  senderMaxRssMiB: number;
  receiverMaxRssMiB: number;
}

async function receiverChild(root: string): Promise<void> {
  const receiver = await UdpReceiver.open({
    host: "127.0.0.1",
    port: 0,
    root,
    recvBufferSize: 16 * 1024 * 1024,
  });
  process.send?.({ type: "ready", port: receiver.address.port } satisfies ChildReady);
  process.on("message", (m: { type: string }) => {
    if (m.type !== "stop") return;
    const report: ChildReport = {
      type: "report",
      maxRssKiB: process.resourceUsage().maxRSS,
      bytesWritten: receiver.stats().bytesWritten,
    };
    process.send?.(report, () => void receiver.close().then(() => process.exit(0)));
  });
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { type: string }): void => {
      if (m.type !== type) return;
      child.off("message", onMessage);
      resolve(m as T);
    };
    child.on("message", onMessage);
    child.once("exit", (code) => reject(new Error(`receiver exited (${code}) before "${type}"`)));
  });
}

async function writeRandomFile(path: string, sizeBytes: number): Promise<void> {
  const handle = await open(path, "w");
  const block = randomBytes(8 * 1024 * 1024);
  try {
    for (let done = 0; done < sizeBytes; done += block.length) {
      block.writeUInt32LE(done >>> 0, 0); // blocks differ, so a misplaced block changes the hash
      await handle.write(block, 0, Math.min(block.length, sizeBytes - done));
    }
  } finally {
    await handle.close();
  }
}

interface SenderReport {
  type: "sent";
  ok: boolean;
  code?: string;
  message?: string;
  seconds: number;
  dataPacketsRetransmitted: number;
  dataPacketsLost: number;
  maxRssKiB: number;
}

/** The sending side, in its own process: one transfer, then a report to the parent. */
async function senderChild(port: number, method: string, configJson: string, source: string): Promise<void> {
  const config = JSON.parse(configJson) as Partial<ConnectionConfig>;
  const sender = await UdpSender.open({ host: "127.0.0.1", port, config });
  const start = monotonicMicros();
  const result = await sender.send({ destinationPath: method, files: [{ source, path: "payload.bin" }] });
  const seconds = (monotonicMicros() - start) / 1e6;
  const stats = sender.stats();
  await sender.close();
  const report: SenderReport = {
    type: "sent",
    ok: result.ok,
    ...(result.ok ? {} : { code: result.code, message: result.message }),
    seconds,
    dataPacketsRetransmitted: stats.dataPacketsRetransmitted,
    dataPacketsLost: stats.dataPacketsLost,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.send?.(report, () => process.exit(0));
}

async function runOnce(
  method: string,
  config: Partial<ConnectionConfig>,
  source: string,
  root: string,
  sizeMiB: number,
): Promise<RunResult> {
  const self = fileURLToPath(import.meta.url);
  const child = fork(self, ["--receiver", root], { stdio: "inherit" });
  let sender: ChildProcess | null = null;
  try {
    const { port } = await nextMessage<ChildReady>(child, "ready");
    sender = fork(self, ["--sender", String(port), method, JSON.stringify(config), source], {
      stdio: "inherit",
    });
    const sent = await nextMessage<SenderReport>(sender, "sent");
    const reportPromise = nextMessage<ChildReport>(child, "report");
    child.send({ type: "stop" });
    const report = await reportPromise;
    const received = sent.ok ? (await stat(join(root, method, "payload.bin"))).size : 0;
    return {
      method,
      ok: sent.ok && received === sizeMiB * 1024 * 1024,
      ...(sent.ok ? {} : { error: `${sent.code}: ${sent.message}` }),
      sizeMiB,
      seconds: round(sent.seconds, 3),
      goodputMbit: round((sizeMiB * 1024 * 1024 * 8) / sent.seconds / 1e6, 1),
      retransmittedBytes: sent.dataPacketsRetransmitted * 1400,
      lostPackets: sent.dataPacketsLost,
      senderMaxRssMiB: round(sent.maxRssKiB / 1024, 1),
      receiverMaxRssMiB: round(report.maxRssKiB / 1024, 1),
    };
  } finally {
    if (child.exitCode === null) child.kill();
    if (sender && sender.exitCode === null) sender.kill();
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--receiver") return receiverChild(args[1]!);
  if (args[0] === "--sender") return senderChild(Number(args[1]), args[2]!, args[3]!, args[4]!);
  const option = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const sizeMiB = option("--size-mib", 1024);
  const rateMbit = option("--rate-mbit", 2500);
  const json = args.includes("--json");
  const base = await mkdtemp(join(tmpdir(), "slipstream-bench-"));
  try {
    const source = join(base, "payload.bin");
    const root = join(base, "root");
    await mkdir(root);
    await writeRandomFile(source, sizeMiB * 1024 * 1024);
    const results: RunResult[] = [];
    const runs: Array<[string, Partial<ConnectionConfig>]> = [
      [`fixed-${rateMbit}mbit`, { rateControlMethod: "fixed", sendRate: (rateMbit * 1e6) / 8 }],
      ["adaptive", { rateControlMethod: "adaptive", sendRate: (rateMbit * 1e6) / 8 }],
    ];
    for (const [method, config] of runs) {
      const r = await runOnce(method, config, source, root, sizeMiB);
      results.push(r);
      await rm(join(root, method), { recursive: true, force: true });
      if (!json) {
        console.log(
          `${r.method.padEnd(18)} ${r.ok ? "ok  " : "FAIL"} ${r.sizeMiB} MiB in ${r.seconds} s = ` +
            `${r.goodputMbit} Mbit/s goodput, retransmitted ${(r.retransmittedBytes / 1048576).toFixed(1)} MiB, ` +
            `peak RSS sender ${r.senderMaxRssMiB} MiB / receiver ${r.receiverMaxRssMiB} MiB` +
            (r.error ? `  (${r.error})` : ""),
        );
      }
    }
    if (json) console.log(JSON.stringify(results, null, 2));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
