import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built `slipstream` CLI as a child process (asynchronously: an in-process server keeps serving). */
export function runCli(
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, ...opts.env };
    if (opts.env?.SLIPSTREAM_API_PASSWORD === undefined) delete env.SLIPSTREAM_API_PASSWORD;
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`slipstream ${args.join(" ")} did not finish; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Start a long-running CLI process (the server); resolves once a stderr line matches `ready`. */
export function startCli(
  args: string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; line: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start: ${stderr}`));
    }, 20_000);
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
      const complete = stderr.slice(0, stderr.lastIndexOf("\n") + 1);
      const line = complete.split("\n").find((l) => ready.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve({ child, line, stderr: () => stderr });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
  });
}
