/** Real `slipstream server` processes for tests: launch on a state dir, log in, kill. */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { SlipstreamClient } from "../../../src/client/client.js";

export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src/cli/main.js");

export interface Server {
  stateDir: string;
  args: string[];
  child: ChildProcess;
  api: SlipstreamClient;
  apiPort: number;
  recvPort: number;
}

export async function launch(stateDir: string, args: string[]): Promise<Server> {
  await rm(join(stateDir, "runtime.json"), { force: true });
  const child = spawn(
    process.execPath,
    [CLI, "server", "--state-dir", stateDir, "--api-host", "127.0.0.1", "--api-port", "0", ...args],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  for (let i = 0; i < 200 && !existsSync(join(stateDir, "runtime.json")); i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    await sleep(50);
  }
  const runtime = JSON.parse(await readFile(join(stateDir, "runtime.json"), "utf8")) as {
    apiPort: number;
    recvPorts: { port: number }[];
  };
  const api = new SlipstreamClient({ host: "127.0.0.1", port: runtime.apiPort, knownHostsFile: null });
  await api.loginWithStateDir(stateDir);
  return { stateDir, args, child, api, apiPort: runtime.apiPort, recvPort: runtime.recvPorts[0]?.port ?? 0 };
}

export async function kill9(s: Server): Promise<void> {
  s.api.close();
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGKILL");
  await exited;
}

export async function stop(s: Server): Promise<void> {
  s.api.close();
  if (s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  await exited;
}
