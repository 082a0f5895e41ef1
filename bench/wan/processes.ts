/**
 * Starting bench processes inside a namespace and collecting what they say. Every process started
 * here is tracked so that `killAll()` (run on errors and signals) leaves nothing behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PeerOptions, PeerResult, PeerRole } from "./peer.js";

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  live.clear();
}

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

export interface Progress {
  t: number;
  bytes: number;
}

export interface PeerProcess {
  ready: Promise<void>;
  result: Promise<PeerResult>;
  progress: Progress[];
  pid: number;
}

const PEER_JS = join(dirname(fileURLToPath(import.meta.url)), "peer.js");

/** Runs bench/wan/peer.ts in `ns`; a process that dies without a result yields an error result. */
export function startPeer(ns: string, role: PeerRole, options: PeerOptions): PeerProcess {
  const child = track(
    spawn("ip", ["netns", "exec", ns, process.execPath, PEER_JS, role, JSON.stringify(options)], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const progress: Progress[] = [];
  let stderr = "";
  let buffered = "";
  let onReady: () => void = () => {};
  let onResult: (r: PeerResult) => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<PeerResult>((resolve) => (onResult = resolve));
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      let message: { type?: string } & Record<string, unknown>;
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        continue;
      }
      if (message.type === "ready") onReady();
      else if (message.type === "progress") progress.push(message as unknown as Progress);
      else if (message.type === "result") onResult(message as unknown as PeerResult);
    }
  });
  child.once("exit", (code) => {
    const error = `${role} exited (${code}) without a result: ${stderr.trim().split("\n").slice(-3).join(" / ")}`;
    onResult({
      type: "result",
      complete: false,
      verified: false,
      bytes: 0,
      cpuSeconds: 0,
      wallSeconds: 0,
      error,
    });
    onReady();
  });
  return { ready, result, progress, pid: child.pid! };
}

/** Runs a command in `ns` to completion and returns its stdout (rejects on a non-zero exit). */
export function runInNs(ns: string, cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] }),
    );
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${(err || out).trim().slice(-500)}`));
    });
  });
}
