/**
 * Real-UDP loopback throughput: sender and receiver each in their own child process (compiled dist
 * files, so each peak RSS and CPU time is that side's alone), one file of N MiB.
 *
 *   node dist/bench/loopback.js [--size-mib N] [--rate-mbit R] [--cipher C] [--json]
 *     once at a fixed high rate and once adaptive, with cipher C (default none)
 *   node dist/bench/loopback.js --side-by-side [--runs 3] [--ciphers none,aes-256-gcm,…] [--size-mib N]
 *     [--datagram-size B]
 *     adaptive only; rounds of every cipher in turn (so load on the machine hits all alike), then
 *     the median goodput and CPU per side of each. A cipher may name its AEAD backend:
 *     "chacha20-poly1305@node:crypto". Every run, `none` included, makes the Noise IK handshake.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, open, rm, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONNECTION_CONFIG, type ConnectionConfig } from "../src/core/transport/connection.js";
import { isCipherName, type CipherName } from "../src/core/crypto/ciphers.js";
import { generateKeyPair } from "../src/core/crypto/keys.js";
import { setAeadBackendPreference, type AeadBackendPreference } from "../src/core/crypto/aead-backends.js";
import { senderStats } from "../src/core/endpoint/stats.js";
import { formatPublicKey, parsePublicKey } from "../src/io/keys.js";
import { UdpReceiver } from "../src/io/drivers/udp-receiver.js";
import { UdpSender } from "../src/io/drivers/udp-sender.js";
import { monotonicMicros } from "../src/io/drivers/clock.js";
import { nextMessage } from "./child-messages.js";

interface ChildReady {
  type: "ready";
  port: number;
  /** the receiver's public key, base64url; null when unencrypted */
  publicKey: string | null;
}
interface ChildReport {
  type: "report";
  maxRssKiB: number;
  bytesWritten: number;
  cpuSeconds: number;
}

/** "none", "aes-256-gcm", "chacha20-poly1305@node:crypto", …; "plain" skips the handshake */
interface CipherChoice {
  label: string;
  cipher: CipherName | "plain";
  /** AEAD backend both sides use ("auto": the fastest available) */
  backend: AeadBackendPreference;
  /** environment of both child processes: "@pure" turns the native addon off, "@no-gso" only GSO, ... */
  env: Record<string, string>;
}

/**
 * "cipher[@variant]": variant node:crypto or sodium-native (that AEAD backend), pure (no native
 * addon at all: node:crypto/sodium AEAD and one dgram.send per datagram, as before the addon),
 * no-gso (the addon, but sendmmsg instead of UDP GSO), dgram-receive (the addon, but dgram's
 * receive path instead of recvmmsg/GRO).
 */
function parseCipherChoice(text: string): CipherChoice {
  const [cipher, variant] = text.split("@");
  if (cipher !== "plain" && !isCipherName(cipher)) throw new Error(`unknown cipher ${text}`);
  switch (variant) {
    case undefined:
      return { label: text, cipher, backend: "auto", env: {} };
    case "node:crypto":
    case "sodium-native":
      return { label: text, cipher, backend: variant, env: {} };
    case "pure":
      return { label: text, cipher, backend: "auto", env: { SLIPSTREAM_NATIVE: "0" } };
    case "no-gso":
      return { label: text, cipher, backend: "auto", env: { SLIPSTREAM_UDP_GSO: "0" } };
    case "dgram-receive":
      return { label: text, cipher, backend: "auto", env: { SLIPSTREAM_NATIVE_RECEIVE: "0" } };
    default:
      throw new Error(`unknown variant in ${text} (node:crypto, sodium-native, pure, no-gso, dgram-receive)`);
  }
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
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
  /** CPU time (user + system) over the transfer's wall time: 1.0 is one core busy */
  senderCpuCores: number;
  receiverCpuCores: number;
  /** CPU seconds (user + system) per GiB moved: unlike goodput, barely moved by other load */
  senderCpuPerGiB: number;
  receiverCpuPerGiB: number;
  cipher: string;
}

async function receiverChild(root: string, choice: CipherChoice, datagramSize: number): Promise<void> {
  setAeadBackendPreference(choice.backend);
  const keyPair = choice.cipher === "plain" ? null : generateKeyPair();
  const receiver = await UdpReceiver.open({
    host: "127.0.0.1",
    port: 0,
    root,
    recvBufferSize: 16 * 1024 * 1024,
    config: { datagramSize },
    ...(keyPair ? { security: { keyPair, minCipher: "none" as const } } : {}),
  });
  const cpuStart = process.cpuUsage();
  process.send?.({
    type: "ready",
    port: receiver.address.port,
    publicKey: keyPair && formatPublicKey(keyPair.publicKey),
  } satisfies ChildReady);
  process.on("message", (m: { type: string }) => {
    if (m.type !== "stop") return;
    const report: ChildReport = {
      type: "report",
      maxRssKiB: process.resourceUsage().maxRSS,
      bytesWritten: receiver.stats().bytesWritten,
      cpuSeconds: cpuSecondsSince(cpuStart),
    };
    process.send?.(report, () => void receiver.close().then(() => process.exit(0)));
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
  cpuSeconds: number;
  /** the cipher the session negotiated */
  cipher: string;
}

interface SenderArgs {
  port: number;
  method: string;
  config: Partial<ConnectionConfig>;
  source: string;
  choice: CipherChoice;
  receiverPublicKey: string | null;
}

function memory(): string {
  const m = process.memoryUsage();
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  return `rss ${mib(m.rss)} heap ${mib(m.heapUsed)}/${mib(m.heapTotal)} external ${mib(m.external)} MiB`;
}

/** The sending side, in its own process: one transfer, then a report to the parent. */
async function senderChild(a: SenderArgs): Promise<void> {
  setAeadBackendPreference(a.choice.backend);
  const { cipher } = a.choice;
  const sender = await UdpSender.open({
    host: "127.0.0.1",
    port: a.port,
    config: a.config,
    ...(cipher !== "plain" && a.receiverPublicKey
      ? {
          security: {
            keyPair: generateKeyPair(),
            peerPublicKey: parsePublicKey(a.receiverPublicKey),
            minCipher: "none" as const,
            ciphers: [cipher],
          },
        }
      : {}),
  });
  const cpuStart = process.cpuUsage();
  const start = monotonicMicros();
  // LOOPBACK_TRACE=1: the controller's view every 250 ms on stderr (what limits the rate)
  const trace = process.env.LOOPBACK_TRACE
    ? setInterval(() => {
        const s = senderStats(sender.endpoint);
        const mbit = (bytesPerSecond: number | null) =>
          bytesPerSecond === null ? "-" : ((bytesPerSecond * 8) / 1e6).toFixed(0);
        const ms = (us: number | null) => (us === null ? "-" : (us / 1000).toFixed(2));
        console.error(
          `t=${((monotonicMicros() - start) / 1e6).toFixed(2)} ${s.controllerState} pacing ${mbit(s.pacingRate)} ` +
            `delivery ${mbit(s.deliveryRate)} btl ${mbit(s.bottleneckEstimate)} cap ${mbit(s.receiverRateCap)} ` +
            `inflight ${s.bytesInFlight} cwnd ${Math.round(s.congestionWindow ?? 0)} srtt ${ms(s.smoothedRtt)} min ${ms(s.minRtt)} ms ` +
            memory(),
        );
      }, 250)
    : null;
  const result = await sender.send({
    destinationPath: a.method,
    files: [{ source: a.source, path: "payload.bin" }],
  });
  const seconds = (monotonicMicros() - start) / 1e6;
  const cpuSeconds = cpuSecondsSince(cpuStart);
  if (trace) clearInterval(trace);
  const stats = sender.stats();
  const negotiated = senderStats(sender.endpoint).cipher ?? "none";
  await sender.close();
  const report: SenderReport = {
    type: "sent",
    ok: result.ok,
    ...(result.ok ? {} : { code: result.code, message: result.message }),
    seconds,
    dataPacketsRetransmitted: stats.dataPacketsRetransmitted,
    dataPacketsLost: stats.dataPacketsLost,
    maxRssKiB: process.resourceUsage().maxRSS,
    cpuSeconds,
    cipher: negotiated,
  };
  process.send?.(report, () => process.exit(0));
}

async function runOnce(
  method: string,
  config: Partial<ConnectionConfig>,
  source: string,
  root: string,
  sizeMiB: number,
  choice: CipherChoice,
): Promise<RunResult> {
  const self = fileURLToPath(import.meta.url);
  const env = { ...process.env, ...choice.env };
  const datagramSize = String(config.datagramSize ?? DEFAULT_CONNECTION_CONFIG.datagramSize);
  // LOOPBACK_PROFILE=dir: both sides write V8 CPU profiles there (node --cpu-prof)
  const profile = process.env.LOOPBACK_PROFILE;
  const execArgv = profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : [];
  const child = fork(self, ["--receiver", root, choice.label, datagramSize], {
    stdio: "inherit",
    env,
    execArgv,
  });
  let sender: ChildProcess | null = null;
  try {
    const { port, publicKey } = await nextMessage<ChildReady>(child, "ready");
    const args: SenderArgs = { port, method, config, source, choice, receiverPublicKey: publicKey };
    sender = fork(self, ["--sender", JSON.stringify(args)], { stdio: "inherit", env, execArgv });
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
      senderCpuCores: round(sent.cpuSeconds / sent.seconds, 2),
      receiverCpuCores: round(report.cpuSeconds / sent.seconds, 2),
      senderCpuPerGiB: round(sent.cpuSeconds / (sizeMiB / 1024), 2),
      receiverCpuPerGiB: round(report.cpuSeconds / (sizeMiB / 1024), 2),
      cipher: sent.cipher,
    };
  } finally {
    // let them exit on their own (so `node --cpu-prof` children write their profiles), then kill
    await Promise.all([child, sender].map((c) => c && exited(c, 3000)));
    if (child.exitCode === null) child.kill();
    if (sender && sender.exitCode === null) sender.kill();
  }
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function describe(r: RunResult): string {
  return (
    `${r.method.padEnd(18)} ${r.cipher.padEnd(18)} ${r.ok ? "ok  " : "FAIL"} ${r.sizeMiB} MiB in ${r.seconds} s = ` +
    `${r.goodputMbit} Mbit/s goodput, retransmitted ${(r.retransmittedBytes / 1048576).toFixed(1)} MiB, ` +
    `CPU sender ${r.senderCpuCores} / receiver ${r.receiverCpuCores} cores ` +
    `(${r.senderCpuPerGiB} / ${r.receiverCpuPerGiB} s/GiB), ` +
    `peak RSS sender ${r.senderMaxRssMiB} MiB / receiver ${r.receiverMaxRssMiB} MiB` +
    (r.error ? `  (${r.error})` : "")
  );
}

interface SideBySideRow {
  cipher: string;
  runs: number;
  failed: number;
  goodputMbit: number[];
  medianGoodputMbit: number;
  /** median goodput relative to the first cipher's (normally none) */
  relative: number;
  medianSenderCpuCores: number;
  medianReceiverCpuCores: number;
  medianSenderCpuPerGiB: number;
  medianReceiverCpuPerGiB: number;
  /** 8 Gibit over the busier side's CPU seconds per GiB: goodput if that side had one core to itself */
  oneCoreCeilingMbit: number;
  medianRetransmittedMiB: number;
}

async function sideBySide(
  choices: CipherChoice[],
  runs: number,
  config: Partial<ConnectionConfig>,
  source: string,
  root: string,
  sizeMiB: number,
  json: boolean,
): Promise<SideBySideRow[]> {
  const byCipher = new Map<string, RunResult[]>(choices.map((c) => [c.label, []]));
  for (let round = 1; round <= runs; round++) {
    for (const choice of choices) {
      const r = await runOnce("adaptive", config, source, root, sizeMiB, choice);
      await rm(join(root, "adaptive"), { recursive: true, force: true });
      byCipher.get(choice.label)!.push(r);
      if (!json) console.log(`round ${round}  ${choice.label.padEnd(30)} ${describe(r)}`);
    }
  }
  const rows = choices.map((choice): SideBySideRow => {
    const all = byCipher.get(choice.label)!;
    const ok = all.filter((r) => r.ok);
    const pick = (f: (r: RunResult) => number): number => (ok.length ? median(ok.map(f)) : NaN);
    return {
      cipher: choice.label,
      runs: all.length,
      failed: all.length - ok.length,
      goodputMbit: all.map((r) => r.goodputMbit),
      medianGoodputMbit: pick((r) => r.goodputMbit),
      relative: NaN,
      medianSenderCpuCores: pick((r) => r.senderCpuCores),
      medianReceiverCpuCores: pick((r) => r.receiverCpuCores),
      medianSenderCpuPerGiB: pick((r) => r.senderCpuPerGiB),
      medianReceiverCpuPerGiB: pick((r) => r.receiverCpuPerGiB),
      oneCoreCeilingMbit: round(
        (8 * 2 ** 30) /
          1e6 /
          Math.max(
            pick((r) => r.senderCpuPerGiB),
            pick((r) => r.receiverCpuPerGiB),
          ),
        0,
      ),
      medianRetransmittedMiB: round(
        pick((r) => r.retransmittedBytes / 1048576),
        1,
      ),
    };
  });
  for (const row of rows) row.relative = round(row.medianGoodputMbit / rows[0]!.medianGoodputMbit, 3);
  return rows;
}

function defaultChoices(): string {
  return ["none", "aes-256-gcm", "chacha20-poly1305", "none@pure", "aes-256-gcm@pure"].join(",");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--receiver") return receiverChild(args[1]!, parseCipherChoice(args[2]!), Number(args[3]));
  if (args[0] === "--sender") return senderChild(JSON.parse(args[1]!) as SenderArgs);
  const option = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const text = (name: string, fallback: string): string => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : fallback;
  };
  const sideBySideMode = args.includes("--side-by-side");
  // loopback's MTU is 65,536: jumbo datagrams (e.g. 8,972 for a 9,000-byte MTU) are possible here
  const datagramSize = option("--datagram-size", DEFAULT_CONNECTION_CONFIG.datagramSize);
  const sizeMiB = option("--size-mib", sideBySideMode ? 512 : 1024);
  const rateMbit = option("--rate-mbit", 2500);
  const json = args.includes("--json");
  const base = await mkdtemp(join(tmpdir(), "slipstream-bench-"));
  try {
    const source = join(base, "payload.bin");
    const root = join(base, "root");
    await mkdir(root);
    await writeRandomFile(source, sizeMiB * 1024 * 1024);
    if (sideBySideMode) {
      const choices = text("--ciphers", defaultChoices()).split(",").map(parseCipherChoice);
      const runs = Math.max(1, option("--runs", 3));
      const config: Partial<ConnectionConfig> = {
        rateControlMethod: "adaptive",
        sendRate: (rateMbit * 1e6) / 8,
        datagramSize,
      };
      const rows = await sideBySide(choices, runs, config, source, root, sizeMiB, json);
      if (json) console.log(JSON.stringify({ sizeMiB, runs, node: process.version, rows }, null, 2));
      else {
        console.log(`\nadaptive, ${sizeMiB} MiB, median of ${runs} (node ${process.version}):`);
        for (const r of rows) {
          console.log(
            `  ${r.cipher.padEnd(30)} ${String(r.medianGoodputMbit).padStart(7)} Mbit/s  ` +
              `${(r.relative * 100).toFixed(1).padStart(5)} %  CPU sender ${r.medianSenderCpuCores} / ` +
              `receiver ${r.medianReceiverCpuCores} cores = ${r.medianSenderCpuPerGiB} / ` +
              `${r.medianReceiverCpuPerGiB} CPU s/GiB (one-core ceiling ${r.oneCoreCeilingMbit} Mbit/s)  ` +
              `retransmitted ${r.medianRetransmittedMiB} MiB` +
              `  runs [${r.goodputMbit.join(", ")}]${r.failed ? `  ${r.failed} FAILED` : ""}`,
          );
        }
      }
      return;
    }
    const choice = parseCipherChoice(text("--cipher", "none"));
    const results: RunResult[] = [];
    const runs: Array<[string, Partial<ConnectionConfig>]> = [
      [`fixed-${rateMbit}mbit`, { rateControlMethod: "fixed", sendRate: (rateMbit * 1e6) / 8, datagramSize }],
      ["adaptive", { rateControlMethod: "adaptive", sendRate: (rateMbit * 1e6) / 8, datagramSize }],
    ];
    for (const [method, config] of runs) {
      const r = await runOnce(method, config, source, root, sizeMiB, choice);
      results.push(r);
      await rm(join(root, method), { recursive: true, force: true });
      if (!json) console.log(describe(r));
    }
    if (json) console.log(JSON.stringify(results, null, 2));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
