/**
 * One trigger run (server.md §16): the script executed directly (no shell) with its arguments,
 * standard input empty, standard output and error read together (the first `outputLimit` bytes
 * kept, the rest drained). Past `timeoutMs` it gets SIGTERM, and SIGKILL `killGraceMs` later;
 * the signals go to its process group, so what the script started goes with it.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface TriggerProcessSpec {
  path: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** 0 = no limit */
  timeoutMs: number;
  killGraceMs: number;
  outputLimit: number;
}

export interface TriggerProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  /** the first `outputLimit` bytes of standard output and error, as UTF-8 */
  output: string;
  outputTruncated: boolean;
  /** the script could not be started (ENOENT, EACCES, ENOEXEC, …) */
  startError: string | null;
}

/** How long output may still arrive after the script exited (a child it left may hold the pipe). */
const OUTPUT_AFTER_EXIT_MS = 200;

export function runTriggerProcess(spec: TriggerProcessSpec): Promise<TriggerProcessResult> {
  const started = performance.now();
  const chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  let timedOut = false;
  const timers: NodeJS.Timeout[] = [];
  const groupKill = process.platform !== "win32";

  return new Promise((resolve) => {
    let settled = false;
    let child: ChildProcess | undefined;
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, startError: string | null) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      child?.stdout?.destroy();
      child?.stderr?.destroy();
      resolve({
        exitCode,
        signal,
        timedOut,
        durationMs: Math.round(performance.now() - started),
        output: Buffer.concat(chunks).toString("utf8"),
        outputTruncated: truncated,
        startError,
      });
    };
    let proc: ChildProcess;
    try {
      proc = child = spawn(spec.path, [...spec.args], {
        cwd: spec.cwd,
        env: spec.env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: groupKill,
        shell: false,
        windowsHide: true,
      });
    } catch (error) {
      finish(null, null, error instanceof Error ? error.message : String(error));
      return;
    }
    const collect = (data: Buffer) => {
      const room = spec.outputLimit - kept;
      if (room <= 0) {
        truncated = true;
        return;
      }
      if (data.length > room) truncated = true;
      const part = data.subarray(0, room);
      chunks.push(part);
      kept += part.length;
    };
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    const signal = (sig: NodeJS.Signals) => {
      try {
        if (groupKill && proc.pid !== undefined) process.kill(-proc.pid, sig);
        else proc.kill(sig);
      } catch {
        // already gone
      }
    };
    if (spec.timeoutMs > 0) {
      timers.push(
        setTimeout(() => {
          timedOut = true;
          signal("SIGTERM");
          timers.push(setTimeout(() => signal("SIGKILL"), spec.killGraceMs));
        }, spec.timeoutMs),
      );
    }
    proc.once("error", (error) => finish(null, null, error.message));
    proc.once("exit", (code, sig) => {
      const done = () => finish(code, sig, null);
      // wait for the pipes to drain, but not for whatever the script left running
      proc.once("close", done);
      timers.push(setTimeout(done, OUTPUT_AFTER_EXIT_MS));
    });
  });
}
