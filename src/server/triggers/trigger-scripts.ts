/**
 * Finding the scripts for an event in the trigger dir (server.md §16): the exact event name or
 * the name plus one extension (`.cmd`, `.bat`, `.exe` on Windows), in name order, each checked
 * before it may run.
 */
import { constants } from "node:fs";
import { access, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "../errors.js";

export interface ScriptPolicy {
  /** the server's OS user id; null where there is none (Windows): ownership is not checked */
  uid: number | null;
  platform: NodeJS.Platform;
}

export interface SkippedScript {
  path: string;
  reason: string;
}

export interface ScriptLookup {
  /** scripts to run, in name order */
  scripts: string[];
  skipped: SkippedScript[];
}

const EXTENSION = /^[A-Za-z0-9_+-]+$/;
const WINDOWS_EXTENSIONS = ["cmd", "bat", "exe"];

/** Whether a file called `name` is a trigger of `event`. */
export function isTriggerName(name: string, event: string, platform: NodeJS.Platform): boolean {
  if (platform === "win32") {
    const dot = name.lastIndexOf(".");
    return (
      name.slice(0, dot).toLowerCase() === event.toLowerCase() &&
      WINDOWS_EXTENSIONS.includes(name.slice(dot + 1).toLowerCase())
    );
  }
  if (name === event) return true;
  return name.startsWith(`${event}.`) && EXTENSION.test(name.slice(event.length + 1));
}

/**
 * Why `path` may not run, or null when it may: it must be a regular file (a symlink counts as its
 * target), executable, owned by the server's user or root and not writable by group or others.
 */
export async function unsafeReason(path: string, policy: ScriptPolicy): Promise<string | null> {
  const info = await stat(path);
  if (!info.isFile()) return "not a regular file";
  if (policy.uid !== null) {
    if (info.uid !== policy.uid && info.uid !== 0)
      return `owned by uid ${info.uid}, not by the server's user (${policy.uid}) or root`;
    if ((info.mode & 0o022) !== 0) return "writable by group or others";
  }
  try {
    await access(path, constants.X_OK);
  } catch {
    return "not executable";
  }
  return null;
}

/** The scripts of `event` in `dir`; a missing directory has none. */
export async function findTriggerScripts(
  dir: string,
  event: string,
  policy: ScriptPolicy,
): Promise<ScriptLookup> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return { scripts: [], skipped: [] };
    throw error;
  }
  const matching = names.filter((name) => isTriggerName(name, event, policy.platform)).sort(byName);
  const lookup: ScriptLookup = { scripts: [], skipped: [] };
  for (const name of matching) {
    const path = join(dir, name);
    let reason: string | null;
    try {
      reason = await unsafeReason(path, policy);
    } catch (error) {
      reason = `cannot check it: ${errnoCode(error) ?? String(error)}`;
    }
    if (reason === null) lookup.scripts.push(path);
    else lookup.skipped.push({ path, reason });
  }
  return lookup;
}

/** Plain code-unit order, the same on every platform and locale. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
