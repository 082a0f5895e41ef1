/**
 * `slipstream demo` over real sockets (server.md §7): a receiving and a sending server with
 * temporary state, the lossy-link relay between them as the emulated WAN path, a file sent
 * through the API with progress, every hash verified, then the final Connection structure and
 * goodput against the path's ceiling. The receiver and the relay run as child processes (as they
 * would on other hosts), so the three share the machine's cores rather than one event loop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerHandle } from "../../api/extension.js";
import { sendExtension } from "../../api/send-extension.js";
import { startServer } from "../../api/start-server.js";
import { SlipstreamClient } from "../../client/client.js";
import { Connection } from "../../core/transport/connection.js";
import { receiveService } from "../../server/engine/receive-service.js";
import { silentLogger } from "../../server/logger.js";
import { CliExit, EXIT } from "../exit.js";
import { progressLine } from "../progress.js";

export interface ServerDemoOptions {
  rttMs: number;
  lossPct: number;
  rateMbit: number;
  sizeMib: number;
  method: "adaptive" | "fair" | "background" | "fixed";
}

const DATAGRAM = 1400;
const IP_UDP_OVERHEAD = 28;

export async function runServerDemo(o: ServerDemoOptions): Promise<void> {
  const out = (s: string) => process.stdout.write(s + "\n");
  const base = await mkdtemp(join(tmpdir(), "slipstream-demo-"));
  const children: ChildProcess[] = [];
  let sender: ServerHandle | null = null;
  try {
    const sandbox = join(base, "received");
    const receiver = spawnCli(children, [
      "server",
      "--state-dir",
      join(base, "receiver-state"),
      "--api-host",
      "127.0.0.1",
      "--api-port",
      "0",
      "--recv-port",
      "0",
      "--recv-allow-anonymous",
      "--sandbox-dir",
      sandbox,
      "--log-level",
      "error",
    ]);
    const recvPort = await receivePort(join(base, "receiver-state"), receiver);
    sender = await startServer(
      { ephemeral: true, apiHost: "127.0.0.1", apiPort: 0, recvPorts: [] },
      { extensions: [receiveService(), sendExtension()], logger: silentLogger() },
    );
    const rateBps = o.rateMbit * 1e6;
    const bdpKiB = Math.max(64, Math.round(((rateBps / 8) * (o.rttMs / 1000)) / 1024));
    const relay = spawnCli(children, [
      "lossy-relay",
      "--listen",
      "127.0.0.1:0",
      "--target",
      `127.0.0.1:${recvPort}`,
      "--rtt-ms",
      String(o.rttMs),
      "--loss-pct",
      String(o.lossPct),
      "--rate-mbit",
      String(o.rateMbit),
      "--queue-kib",
      String(bdpKiB),
      "--stats-seconds",
      "0",
    ]);
    const relayPort = await listeningPort(relay);
    out(
      `Emulated path (lossy UDP relay on loopback): ${o.rateMbit} Mbit/s, RTT ${o.rttMs} ms, ${o.lossPct} % random loss, queue of one BDP.`,
    );
    out(
      `Receiver: a Slipstream server process (UDP ${recvPort}); sender: one in this process, driven through its API.`,
    );

    const file = join(base, "demo.bin");
    const data = randomBytes(Math.round(o.sizeMib * 2 ** 20));
    await writeFile(file, data);
    const api = new SlipstreamClient({ host: "127.0.0.1", port: sender.apiPort, knownHostsFile: null });
    await api.loginWithStateDir(sender.state.stateDir.path);
    const kbps = o.rateMbit * 1000;
    const dest = (await api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: relayPort,
      rateControlMethod: o.method,
      sendRate: o.method === "fixed" ? Math.round(kbps * 0.95) : Math.min(10_000, kbps),
      sendRateMin: Math.min(100, kbps),
      sendRateMax: Math.max(kbps, 10_000),
    })) as { destinationId: string; connectionId: string };
    const manifest = (await api.call("send.createManifest", { fileMappings: [`${file}:demo.bin`] })) as {
      manifestId: string;
    };
    const transfer = (await api.call("send.createTransfer", {
      manifestId: manifest.manifestId,
      destinationId: dest.destinationId,
      destinationPath: "demo",
    })) as { transferId: string };
    const started = Date.now();
    type T = {
      status: string;
      bytesAcked: number;
      totalBytes: number;
      goodputAverageWindow: number;
      errorMessage: string;
      blocksSent: number;
      blocksRetransmitted: number;
    };
    let t: T;
    for (;;) {
      t = (await api.call("send.waitForTransfer", {
        transferId: transfer.transferId,
        timeoutSeconds: 1,
      })) as T;
      const c = (await api.call("send.getConnection", { connectionId: dest.connectionId })) as {
        roundTripTimeMs: number | null;
        lossPercentWindow: number;
        encryptedConnectionState: string;
      };
      out(
        `  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ` +
          progressLine({
            label: "demo.bin",
            status: t.status,
            bytesAcked: t.bytesAcked,
            totalBytes: t.totalBytes,
            goodputAverageWindow: t.goodputAverageWindow,
            roundTripTimeMs: c.roundTripTimeMs,
            lossPercentWindow: c.lossPercentWindow,
            connected: c.encryptedConnectionState === "connected",
          }),
      );
      if (["complete", "error", "cancelled"].includes(t.status)) break;
    }
    const seconds = (Date.now() - started) / 1000;
    if (t.status !== "complete")
      throw new CliExit(EXIT.FAILED, `demo: transfer ${t.status}: ${t.errorMessage}`);
    const got = await readFile(join(sandbox.replaceAll("%u", "anonymous"), "demo", "demo.bin"));
    const same =
      createHash("sha256").update(got).digest("hex") === createHash("sha256").update(data).digest("hex");
    if (!same) throw new CliExit(EXIT.FAILED, "demo: the received file differs from the source");
    // wait for a snapshot taken after the end, then show the connection as the API reports it
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const connection = await api.call("send.getConnection", { connectionId: dest.connectionId });
    api.close();
    out("");
    out("Final Connection structure (send.getConnection):");
    out(JSON.stringify(connection, null, 2));
    const goodput = (data.length * 8) / seconds;
    const payload = Connection.blockSizeFor(DATAGRAM);
    const ceiling = rateBps * (1 - o.lossPct / 100) * (payload / (DATAGRAM + IP_UDP_OVERHEAD));
    out("");
    out(
      `Goodput ${(goodput / 1e6).toFixed(1)} Mbit/s over ${seconds.toFixed(1)} s (start-up and API polling included): ` +
        `${((goodput / ceiling) * 100).toFixed(1)} % of the ceiling ${(ceiling / 1e6).toFixed(1)} Mbit/s (C × (1 − p) × payload/wire).`,
    );
    out(
      `SHA-256 of the received file matches the source; ${t.blocksRetransmitted} of ${t.blocksSent} blocks were retransmissions.`,
    );
  } finally {
    await sender?.close();
    await Promise.all(children.map((c) => stopChild(c)));
    await rm(base, { recursive: true, force: true });
  }
}

const CLI = fileURLToPath(new URL("../main.js", import.meta.url));

function spawnCli(children: ChildProcess[], args: string[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** The receiving server's UDP port, from the runtime.json it writes once listening. */
async function receivePort(stateDir: string, child: ChildProcess): Promise<number> {
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const file = join(stateDir, "runtime.json");
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null)
      throw new CliExit(EXIT.FAILED, `demo: the receiving server exited: ${stderr}`);
    try {
      const runtime = JSON.parse(await readFile(file, "utf8")) as { recvPorts: { port: number }[] };
      return runtime.recvPorts[0]!.port;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new CliExit(EXIT.FAILED, `demo: the receiving server did not start: ${stderr}`);
}

/** The lossy relay's UDP port, from its first line of output. */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^ ]*:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) =>
      reject(new CliExit(EXIT.FAILED, `demo: the lossy relay exited (${code}): ${out}`)),
    );
  });
}
