/**
 * A receiver that cannot be reached directly: it runs in its own network namespace whose
 * iptables drop every inbound packet that is not part of a flow it opened. Sending to it
 * directly fails; through its receive-side relay (which it dials out to) the transfer completes.
 * Needs root, `ip` and `iptables` (CI has them); skipped otherwise.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, startRelay } from "../../relay/helpers.js";
import { CLI, launch, stop } from "../send/processes.js";

const NS = `ssrelay${process.pid % 10000}`;
const HOST_IP = "10.231.7.1";
const NS_IP = "10.231.7.2";

function has(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function run(...args: string[]): void {
  execFileSync(args[0]!, args.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
}

function canUseNamespaces(): string | null {
  if (process.getuid?.() !== 0) return "needs root";
  if (!has("ip") || !has("iptables")) return "needs ip and iptables";
  try {
    run("ip", "netns", "add", `${NS}probe`);
    run("ip", "netns", "del", `${NS}probe`);
    return null;
  } catch (error) {
    return `network namespaces unavailable: ${String(error)}`;
  }
}

function setUp(): void {
  run("ip", "netns", "add", NS);
  run("ip", "link", "add", `${NS}h`, "type", "veth", "peer", "name", `${NS}n`);
  run("ip", "link", "set", `${NS}n`, "netns", NS);
  run("ip", "addr", "add", `${HOST_IP}/30`, "dev", `${NS}h`);
  run("ip", "link", "set", `${NS}h`, "up");
  run("ip", "netns", "exec", NS, "ip", "addr", "add", `${NS_IP}/30`, "dev", `${NS}n`);
  run("ip", "netns", "exec", NS, "ip", "link", "set", `${NS}n`, "up");
  run("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up");
  // the firewall in front of the receiver: only replies to flows it opened come in
  const ipt = (...rule: string[]) => run("ip", "netns", "exec", NS, "iptables", ...rule);
  ipt("-A", "INPUT", "-i", "lo", "-j", "ACCEPT");
  ipt("-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
  ipt("-A", "INPUT", "-j", "DROP");
}

function tearDown(): void {
  try {
    run("ip", "netns", "del", NS);
  } catch {
    // already gone
  }
  try {
    run("ip", "link", "del", `${NS}h`);
  } catch {
    // removed with the namespace
  }
}

const skip = canUseNamespaces();

test("a firewalled receiver is reachable only through its relay", { skip: skip ?? false }, async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-ns-"));
  setUp();
  let inner: ChildProcess | null = null;
  const port = await freePort();
  const relay = await startRelay([
    "--state-dir",
    join(base, "relay-state"),
    "--control-host",
    HOST_IP,
    "--public-host",
    HOST_IP,
    "--control-port",
    "0",
    "--allow-any-server",
  ]);
  const sender = await launch(join(base, "send"), ["--recv-port", "0"]);
  try {
    // the receiver, inside the namespace, attached to the relay; its API is not reachable from
    // here, so it is only observed through the files it writes
    const sandbox = join(base, "sandbox");
    inner = spawn(
      "ip",
      [
        "netns",
        "exec",
        NS,
        process.execPath,
        CLI,
        "server",
        "--state-dir",
        join(base, "recv"),
        "--api-host",
        "127.0.0.1",
        "--api-port",
        "0",
        "--recv-port",
        String(port),
        "--recv-allow-anonymous",
        "--sandbox-dir",
        sandbox,
        "--recv-relay-host",
        HOST_IP,
        "--recv-relay-port",
        String(relay.port),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let innerLog = "";
    inner.stderr!.on("data", (d: Buffer) => (innerLog += d.toString()));
    const runtimeFile = join(base, "recv", "runtime.json");
    for (let i = 0; i < 200 && !existsSync(runtimeFile); i++) await sleep(50);
    assert.ok(existsSync(runtimeFile), `the receiver did not start: ${innerLog}`);
    const runtime = JSON.parse(await readFile(runtimeFile, "utf8")) as { publicKey: string };

    await mkdir(join(base, "src"));
    const data = randomBytes(4 * 1024 * 1024);
    await writeFile(join(base, "src", "f.bin"), data);
    const m = (await sender.api.call("send.createManifest", {
      fileMappings: [`${join(base, "src", "f.bin")}:f.bin`],
    })) as { manifestId: string };
    await sender.api.call("send.waitForManifest", { manifestId: m.manifestId, timeoutSeconds: 10 });
    const send = async (address: string, path: string, seconds: number) => {
      const d = (await sender.api.call("send.createDestination", {
        destinationAddress: address,
        destinationPort: port,
        destinationPublicKey: runtime.publicKey,
      })) as { destinationId: string };
      const t = (await sender.api.call("send.createTransfer", {
        manifestId: m.manifestId,
        destinationId: d.destinationId,
        destinationPath: path,
      })) as { transferId: string };
      return (await sender.api.call("send.waitForTransfer", {
        transferId: t.transferId,
        timeoutSeconds: seconds,
      })) as { status: string; errorMessage: string };
    };
    const direct = await send(NS_IP, "direct", 6);
    assert.notEqual(direct.status, "complete", "the firewall lets direct traffic in");
    // the relay opened the receive port's number on its public address
    const viaRelay = await send(HOST_IP, "relayed", 60);
    assert.equal(viaRelay.status, "complete", viaRelay.errorMessage);
    const got = await readFile(join(sandbox, "relayed", "f.bin"));
    assert.equal(
      createHash("sha256").update(got).digest("hex"),
      createHash("sha256").update(data).digest("hex"),
    );
  } finally {
    inner?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    inner?.kill("SIGKILL");
    await stop(sender);
    await relay.stop();
    tearDown();
    await rm(base, { recursive: true, force: true });
  }
});
