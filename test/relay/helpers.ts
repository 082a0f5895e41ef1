import { spawn, type ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface RelayProcess {
  child: ChildProcess;
  port: number;
  publicKey: string;
  stderr: () => string;
  stdout: () => string;
  stop: () => Promise<number | null>;
}

/** A relay on loopback (state in `stateDir`, any free control port) that lets one server key attach. */
export function startRelayAllowing(stateDir: string, serverKey: string): Promise<RelayProcess> {
  return startRelay(["--state-dir", stateDir, "--control-port", "0", "--allow-server-key", serverKey]);
}

/** Starts `slipstream relay` on loopback; resolves once it is listening. */
export function startRelay(args: string[]): Promise<RelayProcess> {
  const child = spawn(
    process.execPath,
    [CLI, "relay", "--control-host", "127.0.0.1", "--public-host", "127.0.0.1", ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  let stdout = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`relay did not start: ${stderr}`));
    }, 15_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on [\d.]+:(\d+) .*public key ([A-Za-z0-9_-]{43})/.exec(stderr);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child,
        port: Number(m[1]),
        publicKey: m[2]!,
        stderr: () => stderr,
        stdout: () => stdout,
        stop: () => stopChild(child),
      });
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}: ${stderr}`));
    });
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill(signal);
  });
}

/** A TCP port that is free right now (and, almost surely, its UDP twin). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function serverKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array; text: string } {
  const pair = generateKeyPairSync("x25519");
  const privateKey = pair.privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32);
  const publicKey = pair.publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  return { privateKey, publicKey, text: publicKey.toString("base64url") };
}

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function writeRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    for (let done = 0; done < size; done += 4 * 1024 * 1024) {
      await handle.write(randomBytes(Math.min(4 * 1024 * 1024, size - done)));
    }
  } finally {
    await handle.close();
  }
}

export async function withDirs(
  run: (dirs: { src: string; root: string; state: string }) => Promise<void>,
): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), "slipstream-relay-"));
  const dirs = { src: join(base, "src"), root: join(base, "root"), state: join(base, "relay-state") };
  await mkdir(dirs.src);
  await mkdir(dirs.root);
  try {
    await run(dirs);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
