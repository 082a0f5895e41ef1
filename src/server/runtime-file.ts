import { readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./fs-util.js";

/** `<state-dir>/runtime.json` (server.md §2.3): how tools find a running server. */
export interface RuntimeInfo {
  pid: number;
  serverId: string;
  serverUid: string;
  apiHost: string;
  apiPort: number;
  recvPorts: { host: string; port: number }[];
  publicKey: string | null;
  certificateFingerprint: string;
  startTime: number;
}

export function runtimeFilePath(stateDir: string): string {
  return join(stateDir, "runtime.json");
}

export function writeRuntimeFile(stateDir: string, info: RuntimeInfo): void {
  writeFileAtomic(runtimeFilePath(stateDir), JSON.stringify(info, null, 2) + "\n", 0o600);
}

export function removeRuntimeFile(stateDir: string): void {
  try {
    unlinkSync(runtimeFilePath(stateDir));
  } catch {
    // not there
  }
}

/** The runtime file of a state dir, or null when there is none (no server running there). */
export function readRuntimeFile(stateDir: string): RuntimeInfo | null {
  try {
    const parsed: unknown = JSON.parse(readFileSync(runtimeFilePath(stateDir), "utf8"));
    if (typeof parsed !== "object" || parsed === null) return null;
    const info = parsed as Partial<RuntimeInfo>;
    if (typeof info.apiPort !== "number" || typeof info.certificateFingerprint !== "string") return null;
    return parsed as RuntimeInfo;
  } catch {
    return null;
  }
}
