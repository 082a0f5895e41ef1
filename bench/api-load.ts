/**
 * The API under load (issue 3): a receiving and a sending `slipstream server`, each in its own
 * process, --transfers transfers queued over --destinations destinations (fixed rate each), and the
 * aggregate transfer rate measured over --seconds, once quiet and once while a separate client
 * process calls send.getConnections as fast as it can (--concurrency calls in flight). Each run
 * does both windows (order alternating between runs) with a fresh batch of transfers; medians.
 *
 *   npm run bench -- api-load [--destinations 20] [--transfers 200] [--seconds 30] [--runs 3]
 *     [--rate-mbit 10] [--size-mib N] [--cipher none] [--concurrency 1] [--transport https|ws]
 *     [--cpu-prof DIR] [--json]
 *
 * --load-target receiver points the load client at the receiving server instead (a control: the
 * same client work on the machine, none on the sender's event loop).
 * --cipher goes to both servers as --cipher and --min-cipher (default none: the data path without
 * encryption, so the figures are about the API). --cpu-prof writes the sending server's profile.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SlipstreamClient } from "../src/client/client.js";
import { nextMessage } from "./child-messages.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const FINAL = ["complete", "error", "cancelled"];

type Transport = "https" | "ws";
interface LoadStats {
  calls: number;
  errors: number;
  seconds: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}
interface Window {
  run: number;
  load: boolean;
  rateMbit: number;
  /** CPU % of one core over the window: sending server, receiving server, load client */
  cpuPct: { sender: number; receiver: number; client: number };
  api: LoadStats | null;
}
interface Server {
  child: ChildProcess;
  stateDir: string;
  apiPort: number;
  recvPorts: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function connect(stateDir: string, port: number, transport: Transport): Promise<SlipstreamClient> {
  const api = new SlipstreamClient({ host: "127.0.0.1", port, knownHostsFile: null });
  await api.loginWithStateDir(stateDir);
  if (transport === "ws") await api.connectWebSocket();
  return api;
}

/** The load client (its own process): log in, then on "go" call getConnections for N seconds. */
async function loadClient(configJson: string): Promise<void> {
  const { stateDir, port, transport, concurrency } = JSON.parse(configJson) as {
    stateDir: string;
    port: number;
    transport: Transport;
    concurrency: number;
  };
  const api = await connect(stateDir, port, transport);
  process.on("message", (m: { type: string; seconds?: number }) => {
    if (m.type === "stop") {
      api.close();
      process.exit(0);
    }
    if (m.type !== "go") return;
    void hammer(api, m.seconds!, concurrency).then((stats) => process.send?.({ type: "stats", stats }));
  });
  process.send?.({ type: "ready" });
}

async function hammer(api: SlipstreamClient, seconds: number, concurrency: number): Promise<LoadStats> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await api.call("send.getConnections", {});
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN, 2);
  return {
    calls: latencies.length,
    errors,
    seconds: round(elapsed, 2),
    p50Ms: q(0.5),
    p90Ms: q(0.9),
    p99Ms: q(0.99),
    maxMs: round(latencies.at(-1) ?? NaN, 2),
  };
}

async function launch(stateDir: string, args: string[], nodeArgs: string[]): Promise<Server> {
  await mkdir(stateDir, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      CLI,
      "server",
      "--state-dir",
      stateDir,
      "--api-host",
      "127.0.0.1",
      "--api-port",
      "0",
    ].concat(["--recv-host", "127.0.0.1", "--log-level", "warn", ...args]),
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const runtimeFile = join(stateDir, "runtime.json");
  for (let i = 0; i < 400 && !existsSync(runtimeFile); i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    await sleep(50);
  }
  await sleep(100); // runtime.json is written whole, but give the writer a moment
  const runtime = JSON.parse(await readFile(runtimeFile, "utf8")) as {
    apiPort: number;
    recvPorts: { port: number }[];
  };
  return { child, stateDir, apiPort: runtime.apiPort, recvPorts: runtime.recvPorts.map((p) => p.port) };
}

async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null) return;
  const exited = new Promise((resolve) => s.child.once("exit", resolve));
  s.child.kill("SIGTERM");
  const timer = setTimeout(() => s.child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) a process used so far; null where /proc is missing. */
async function cpuSeconds(pid: number | undefined): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (!text) return null;
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Least-squares slope of bytes over server time (µs), in Mbit/s. */
function slopeMbit(samples: { t: number; bytes: number }[]): number {
  const n = samples.length;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mb = samples.reduce((a, s) => a + s.bytes, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mt) * (s.bytes - mb);
    den += (s.t - mt) ** 2;
  }
  return (num / den) * 8; // bytes per µs × 8 = Mbit/s
}

interface Setup {
  api: SlipstreamClient;
  client: ChildProcess;
  sender: Server;
  receiver: Server;
  destinationIds: string[];
  source: string;
  sandbox: string;
  seconds: number;
  transfers: number;
}

async function measureWindow(s: Setup, run: number, window: number, load: boolean): Promise<Window> {
  const { api } = s;
  const label = `w${window}`;
  const manifest = await api.call("send.createManifest", { fileMappings: [`${s.source}:payload.bin`] });
  await api.call("send.waitForManifest", { manifestId: manifest.manifestId, timeoutSeconds: 30 });
  const created = await api.batch(
    Array.from({ length: s.transfers }, (_, i) => ({
      method: "send.createTransfer",
      params: {
        manifestId: manifest.manifestId,
        destinationId: s.destinationIds[i % s.destinationIds.length]!,
        destinationPath: `${label}/t${i}`,
      },
    })),
  );
  const failed = created.find((c) => !c.ok);
  if (failed && !failed.ok) throw new Error(`createTransfer: ${failed.error.message}`);
  await sleep(4000); // every destination's first transfer handshakes and reaches its rate
  const samples: { t: number; bytes: number }[] = [];
  const sample = async (): Promise<void> => {
    const ts = (await api.call("send.getTransfers", { manifestId: manifest.manifestId, limit: 1000 })) as {
      bytesAcked: number;
      snapshotTime: number;
    }[];
    samples.push({
      t: Math.max(...ts.map((t) => t.snapshotTime)),
      bytes: ts.reduce((a, t) => a + t.bytesAcked, 0),
    });
  };
  const pids = [s.sender.child.pid, s.receiver.child.pid, s.client.pid];
  const cpuBefore = await Promise.all(pids.map(cpuSeconds));
  const stats = load ? nextMessage<{ stats: LoadStats }>(s.client, "stats") : null;
  if (load) s.client.send({ type: "go", seconds: s.seconds });
  const start = performance.now();
  while (performance.now() - start < s.seconds * 1000) {
    await sample();
    await sleep(500);
  }
  await sample();
  const cpuAfter = await Promise.all(pids.map(cpuSeconds));
  const wall = (performance.now() - start) / 1000;
  const cpuPct = (i: number) => round((((cpuAfter[i] ?? NaN) - (cpuBefore[i] ?? NaN)) / wall) * 100);
  const loadStats = stats ? (await stats).stats : null;
  const open = (await api.call("send.getTransfers", {
    manifestId: manifest.manifestId,
    status: ["pending", "queued", "transferring"],
    limit: 1000,
  })) as { transferId: string; status: string }[];
  if (open.length < s.destinationIds.length)
    console.warn(`  warning: only ${open.length} transfers left open`);
  await api.batch(
    open
      .filter((t) => !FINAL.includes(t.status))
      .map((t) => ({ method: "send.cancelTransfer", params: { transferId: t.transferId } })),
  );
  await sleep(1000);
  await rm(join(s.sandbox, "anonymous", label), { recursive: true, force: true });
  return {
    run,
    load,
    rateMbit: round(slopeMbit(samples)),
    cpuPct: {
      sender: cpuPct(0),
      receiver: cpuPct(1),
      client: cpuPct(2),
    },
    api: loadStats,
  };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      destinations: { type: "string", default: "20" },
      transfers: { type: "string", default: "200" },
      seconds: { type: "string", default: "30" },
      runs: { type: "string", default: "3" },
      "rate-mbit": { type: "string", default: "10" },
      "size-mib": { type: "string" },
      concurrency: { type: "string", default: "1" },
      transport: { type: "string", default: "https" },
      cipher: { type: "string", default: "none" },
      "load-target": { type: "string", default: "sender" },
      "cpu-prof": { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const destinations = Number(values.destinations);
  const transfers = Number(values.transfers);
  const seconds = Number(values.seconds);
  const runs = Math.max(1, Number(values.runs));
  const rateMbit = Number(values["rate-mbit"]);
  const concurrency = Math.max(1, Number(values.concurrency));
  const transport = values.transport as Transport;
  const cipher = values.cipher;
  const loadTarget = values["load-target"];
  if (loadTarget !== "sender" && loadTarget !== "receiver")
    throw new Error("--load-target must be sender or receiver");
  if (transport !== "https" && transport !== "ws") throw new Error("--transport must be https or ws");
  // each destination's queue must outlast the warm-up and the window: ≥ (seconds + 15 s) at its rate
  const perDestination = Math.ceil(transfers / destinations);
  const sizeMiB =
    values["size-mib"] !== undefined
      ? Number(values["size-mib"])
      : Math.ceil((((rateMbit * 1e6) / 8) * (seconds + 15)) / perDestination / 2 ** 20);
  const log = (line: string) => (values.json ? undefined : console.log(line));
  const loadBefore = loadavg();

  const base = await mkdtemp(join(tmpdir(), "slipstream-bench-api-load-"));
  const shm = existsSync("/dev/shm") ? await mkdtemp("/dev/shm/slipstream-bench-api-load-") : base;
  const sandbox = join(shm, "sandbox");
  const servers: Server[] = [];
  let client: ChildProcess | null = null;
  let api: SlipstreamClient | null = null;
  try {
    const source = join(base, "payload.bin");
    await writeFile(source, randomBytes(sizeMiB * 2 ** 20));
    const cipherArgs = ["--cipher", cipher, "--min-cipher", cipher];
    const recvArgs = Array.from({ length: destinations }, () => ["--recv-port", "0"]).flat();
    const receiver = await launch(
      join(base, "receiver"),
      [...recvArgs, ...cipherArgs, "--recv-allow-anonymous", "--sandbox-dir", sandbox],
      [],
    );
    servers.push(receiver);
    const profile = values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", values["cpu-prof"]] : [];
    const sender = await launch(join(base, "sender"), ["--recv-port", "0", ...cipherArgs], profile);
    servers.push(sender);
    api = await connect(sender.stateDir, sender.apiPort, "ws");
    const destinationIds: string[] = [];
    for (const port of receiver.recvPorts) {
      const d = await api.call("send.createDestination", {
        destinationAddress: "127.0.0.1",
        destinationPort: port,
        rateControlMethod: "fixed",
        sendRate: rateMbit * 1000,
      });
      destinationIds.push(d.destinationId);
    }
    for (let i = 0; i < 100; i++) {
      const conns = (await api.call("send.getConnections", {})) as {
        encryptedConnectionState: string;
        lastErrorMessage: string | null;
      }[];
      if (conns.filter((c) => c.encryptedConnectionState === "connected").length === destinations) break;
      if (i === 99)
        throw new Error(
          `destinations did not connect: ${JSON.stringify(conns.map((c) => c.lastErrorMessage))}`,
        );
      await sleep(200);
    }
    const target = loadTarget === "sender" ? sender : receiver;
    client = fork(
      SELF,
      [
        "--load-client",
        JSON.stringify({ stateDir: target.stateDir, port: target.apiPort, transport, concurrency }),
      ],
      {
        stdio: "inherit",
      },
    );
    await nextMessage(client, "ready");
    log(
      `api-load: ${transfers} transfers of ${sizeMiB} MiB over ${destinations} destinations (fixed ${rateMbit} Mbit/s each, cipher ${cipher}), ${seconds} s windows, getConnections on the ${loadTarget} over ${transport}, ${concurrency} in flight`,
    );
    const setup: Setup = {
      api,
      client,
      sender,
      receiver,
      destinationIds,
      source,
      sandbox,
      seconds,
      transfers,
    };
    const windows: Window[] = [];
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? [false, true] : [true, false];
      for (const load of order) {
        const w = await measureWindow(setup, run, windows.length, load);
        windows.push(w);
        const a = w.api;
        log(
          `  run ${run + 1} ${load ? "API load" : "quiet   "} ${w.rateMbit} Mbit/s, CPU sender ${w.cpuPct.sender} % receiver ${w.cpuPct.receiver} % client ${w.cpuPct.client} %` +
            (a
              ? `; ${a.calls} calls (${round(a.calls / a.seconds)}/s, ${a.errors} errors), p50 ${a.p50Ms} p90 ${a.p90Ms} p99 ${a.p99Ms} max ${a.maxMs} ms`
              : ""),
        );
      }
    }
    const quiet = windows.filter((w) => !w.load);
    const loaded = windows.filter((w) => w.load);
    const pick = (k: keyof LoadStats) => median(loaded.map((w) => w.api![k]));
    const summary = {
      scenario: {
        destinations,
        transfers,
        sizeMiB,
        seconds,
        runs,
        rateMbit,
        cipher,
        transport,
        concurrency,
        loadTarget,
      },
      targetMbit: destinations * rateMbit,
      quietMbit: median(quiet.map((w) => w.rateMbit)),
      loadMbit: median(loaded.map((w) => w.rateMbit)),
      rateRatio: round(median(loaded.map((w, i) => w.rateMbit / quiet[i]!.rateMbit)), 3),
      callsPerSecond: round(median(loaded.map((w) => w.api!.calls / w.api!.seconds))),
      p50Ms: pick("p50Ms"),
      p90Ms: pick("p90Ms"),
      p99Ms: pick("p99Ms"),
      maxMs: pick("maxMs"),
      senderCpuPctQuiet: median(quiet.map((w) => w.cpuPct.sender)),
      senderCpuPctLoad: median(loaded.map((w) => w.cpuPct.sender)),
      receiverCpuPctQuiet: median(quiet.map((w) => w.cpuPct.receiver)),
      receiverCpuPctLoad: median(loaded.map((w) => w.cpuPct.receiver)),
      clientCpuPctLoad: median(loaded.map((w) => w.cpuPct.client)),
      loadAverage: { before: loadBefore.map((x) => round(x, 2)), after: loadavg().map((x) => round(x, 2)) },
    };
    if (values.json) {
      console.log(JSON.stringify({ ...summary, windows }));
      return;
    }
    log(
      `median of ${runs}: quiet ${summary.quietMbit} Mbit/s, under API load ${summary.loadMbit} Mbit/s (ratio ${summary.rateRatio}; target ${summary.targetMbit})`,
    );
    log(
      `  getConnections: ${summary.callsPerSecond} calls/s, p50 ${summary.p50Ms} ms, p90 ${summary.p90Ms} ms, p99 ${summary.p99Ms} ms, max ${summary.maxMs} ms`,
    );
    log(
      `  CPU (% of one core) quiet / load: sender ${summary.senderCpuPctQuiet} / ${summary.senderCpuPctLoad}, receiver ${summary.receiverCpuPctQuiet} / ${summary.receiverCpuPctLoad}, load client ${summary.clientCpuPctLoad}`,
    );
    log(
      `  load average before ${summary.loadAverage.before.join(" ")}, after ${summary.loadAverage.after.join(" ")}`,
    );
  } finally {
    if (client && client.exitCode === null) {
      const exited = new Promise((resolve) => client!.once("exit", resolve));
      client.send({ type: "stop" });
      await exited;
    }
    api?.close();
    for (const s of servers.reverse()) await stopServer(s);
    await rm(base, { recursive: true, force: true });
    await rm(shm, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF && process.argv[2] === "--load-client") {
  loadClient(process.argv[3]!).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
