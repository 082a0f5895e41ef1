/**
 * Goodput through a relay against direct, on loopback, in one run: for each of --runs rounds one
 * transfer direct, one through a receiver-side relay and one through a sender-side relay (each
 * sender, receiver and the relay in its own process), then the median of each.
 *
 *   npm run bench -- relay [--size-mib N] [--rate-mbit R] [--runs 3] [--json]
 *
 * RELAY_PROFILE=dir: the relay, senders and receivers write V8 CPU profiles there (node --cpu-prof).
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConnectionConfig } from "../src/core/transport/connection.js";
import { UdpReceiver } from "../src/io/drivers/udp-receiver.js";
import { UdpSender } from "../src/io/drivers/udp-sender.js";
import { monotonicMicros } from "../src/io/drivers/clock.js";
import { RelayLink } from "../src/io/relay/relay-link.js";
import { nextMessage } from "./child-messages.js";

type Path = "direct" | "receiver-relay" | "sender-relay";
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const PROFILE_DIR = process.env.RELAY_PROFILE;
const execArgv = PROFILE_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR] : [];

function keyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const pair = generateKeyPairSync("x25519");
  return {
    privateKey: pair.privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32),
    publicKey: pair.publicKey.export({ format: "der", type: "spki" }).subarray(-32),
  };
}

async function receiverChild(root: string, relayPort: number): Promise<void> {
  const link = relayPort ? RelayLink.open({ relayHost: "127.0.0.1", relayPort, keyPair: keyPair() }) : null;
  await link?.waitConnected();
  const transport = link ? await link.openPublicPort(0) : undefined;
  const receiver = await UdpReceiver.open({
    host: "127.0.0.1",
    port: 0,
    root,
    transport,
    recvBufferSize: 16 * 2 ** 20,
  });
  process.send?.({ type: "ready", port: receiver.address.port });
  process.on("message", (m: { type: string }) => {
    if (m.type !== "stop") return;
    void receiver
      .close()
      .then(() => link?.close())
      .then(() => process.exit(0));
  });
}

async function senderChild(
  port: number,
  relayPort: number,
  configJson: string,
  source: string,
  path: Path,
): Promise<void> {
  const config = JSON.parse(configJson) as Partial<ConnectionConfig>;
  const link = relayPort ? RelayLink.open({ relayHost: "127.0.0.1", relayPort, keyPair: keyPair() }) : null;
  await link?.waitConnected();
  const transport = link ? await link.openChannel("127.0.0.1", port) : undefined;
  const sender = await UdpSender.open({ host: "127.0.0.1", port, config, transport });
  const start = monotonicMicros();
  const result = await sender.send({ destinationPath: path, files: [{ source, path: "payload.bin" }] });
  const seconds = (monotonicMicros() - start) / 1e6;
  const retransmitted = sender.stats().dataPacketsRetransmitted;
  await sender.close();
  await link?.close();
  process.send?.({ type: "sent", ok: result.ok, error: result.message, seconds, retransmitted }, () =>
    process.exit(0),
  );
}

function startRelay(stateDir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      ...execArgv,
      CLI,
      "relay",
      "--state-dir",
      stateDir,
      "--control-host",
      "127.0.0.1",
      "--public-host",
      "127.0.0.1",
    ].concat(["--control-port", "0", "--allow-any-server", "--log-level", "warn"]),
    { stdio: ["ignore", "inherit", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on [\d.]+:(\d+)/.exec(stderr);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once("exit", (code) => reject(new Error(`relay exited (${code}): ${stderr}`)));
  });
}

/** CPU seconds (user + system) a process used so far; null where /proc is missing. */
async function cpuSeconds(pid: number | undefined): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (!text) return null;
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

interface Run {
  path: Path;
  relayCpuSeconds: number | null;
  ok: boolean;
  seconds: number;
  goodputMbit: number;
  retransmitted: number;
  error?: string;
}

async function runOnce(
  relayPid: number | undefined,
  path: Path,
  relayPort: number,
  config: Partial<ConnectionConfig>,
  source: string,
  root: string,
  bytes: number,
): Promise<Run> {
  const self = fileURLToPath(import.meta.url);
  const cpuBefore = await cpuSeconds(relayPid);
  const receiver = fork(self, ["--receiver", root, String(path === "receiver-relay" ? relayPort : 0)], {
    stdio: "inherit",
    execArgv,
  });
  let sender: ChildProcess | null = null;
  try {
    const { port } = await nextMessage<{ port: number }>(receiver, "ready");
    const senderRelay = path === "sender-relay" ? relayPort : 0;
    sender = fork(
      self,
      ["--sender", String(port), String(senderRelay), JSON.stringify(config), source, path],
      { stdio: "inherit", execArgv },
    );
    const sent = await nextMessage<{ ok: boolean; error?: string; seconds: number; retransmitted: number }>(
      sender,
      "sent",
    );
    const received = sent.ok ? (await stat(join(root, path, "payload.bin"))).size : 0;
    const cpuAfter = await cpuSeconds(relayPid);
    return {
      path,
      relayCpuSeconds:
        cpuBefore === null || cpuAfter === null ? null : Math.round((cpuAfter - cpuBefore) * 100) / 100,
      ok: sent.ok && received === bytes,
      seconds: Math.round(sent.seconds * 1000) / 1000,
      goodputMbit: Math.round((bytes * 8) / sent.seconds / 1e5) / 10,
      retransmitted: sent.retransmitted,
      ...(sent.ok ? {} : { error: sent.error }),
    };
  } finally {
    receiver.send({ type: "stop" });
    await new Promise((resolve) =>
      receiver.exitCode !== null ? resolve(null) : receiver.once("exit", resolve),
    );
    if (sender && sender.exitCode === null) sender.kill();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    for (let done = 0; done < size; done += 8 * 2 ** 20)
      await handle.write(randomBytes(Math.min(8 * 2 ** 20, size - done)));
  } finally {
    await handle.close();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--receiver") return receiverChild(args[1]!, Number(args[2]));
  if (args[0] === "--sender")
    return senderChild(Number(args[1]), Number(args[2]), args[3]!, args[4]!, args[5] as Path);
  const option = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const sizeMiB = option("--size-mib", 256);
  const rateMbit = option("--rate-mbit", 1000);
  const runs = Math.max(1, option("--runs", 3));
  const json = args.includes("--json");
  const config: Partial<ConnectionConfig> = { rateControlMethod: "adaptive", sendRate: (rateMbit * 1e6) / 8 };
  const base = await mkdtemp(join(tmpdir(), "slipstream-bench-relay-"));
  const relay = await startRelay(join(base, "relay-state"));
  try {
    const source = join(base, "payload.bin");
    const root = join(base, "root");
    await mkdir(root);
    const bytes = sizeMiB * 2 ** 20;
    await writeRandomFile(source, bytes);
    const results: Run[] = [];
    for (let i = 0; i < runs; i++) {
      for (const path of ["direct", "receiver-relay", "sender-relay"] as const) {
        const r = await runOnce(relay.child.pid, path, relay.port, config, source, root, bytes);
        results.push(r);
        await rm(join(root, path), { recursive: true, force: true });
        if (!json)
          console.log(
            `  run ${i + 1} ${path.padEnd(15)} ${r.ok ? "ok  " : "FAIL"} ${r.goodputMbit} Mbit/s in ${r.seconds} s, ${r.retransmitted} retransmitted, relay CPU ${r.relayCpuSeconds ?? "?"} s${r.error ? ` (${r.error})` : ""}`,
          );
      }
    }
    const med = (path: Path) =>
      median(results.filter((r) => r.path === path && r.ok).map((r) => r.goodputMbit));
    const summary = {
      scenario: { sizeMiB, rateMbit, runs, method: "adaptive" },
      directMbit: med("direct"),
      receiverRelayMbit: med("receiver-relay"),
      senderRelayMbit: med("sender-relay"),
      failures: results.filter((r) => !r.ok).length,
    };
    if (json) console.log(JSON.stringify({ ...summary, results }));
    else {
      const share = (x: number) => `${((x / summary.directMbit) * 100).toFixed(1)} % of direct`;
      console.log(
        `relay vs direct on loopback, ${sizeMiB} MiB, adaptive from ${rateMbit} Mbit/s, median of ${runs}`,
      );
      console.log(`  direct          ${summary.directMbit} Mbit/s`);
      console.log(
        `  receiver relay  ${summary.receiverRelayMbit} Mbit/s  (${share(summary.receiverRelayMbit)})`,
      );
      console.log(`  sender relay    ${summary.senderRelayMbit} Mbit/s  (${share(summary.senderRelayMbit)})`);
      if (summary.failures) console.log(`  ${summary.failures} run(s) failed`);
    }
  } finally {
    if (!json) {
      relay.child.kill("SIGUSR1"); // the relay's own counters, drops included
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    relay.child.kill("SIGTERM");
    if (PROFILE_DIR) await new Promise((resolve) => relay.child.once("exit", resolve));
    await rm(base, { recursive: true, force: true });
  }
}

await main();
