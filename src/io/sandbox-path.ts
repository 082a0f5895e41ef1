import { lstat, realpath } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";

export type SandboxRefusal = "nul-byte" | "dot-dot" | "drive-or-unc" | "empty" | "symlink-escape";

/** A path that would leave the sandbox (maps to RECEIVER_REFUSED). Nothing was created. */
export class SandboxPathError extends Error {
  readonly code = "RECEIVER_REFUSED";
  constructor(
    /** the offending path as given */
    readonly path: string,
    readonly reason: SandboxRefusal,
    detail: string,
  ) {
    super(`refused path ${JSON.stringify(path)}: ${detail}`);
    this.name = "SandboxPathError";
  }
}

/**
 * Lexically normalises a path received from a peer into segments relative to the sandbox root:
 * `\` counts as a separator, leading `/`, empty and `.` segments are dropped; `..`, NUL bytes and
 * Windows drive or UNC prefixes are refused.
 */
export function sandboxSegments(path: string): string[] {
  if (path.includes("\0")) throw new SandboxPathError(path, "nul-byte", "contains a NUL byte");
  const unified = path.replace(/\\/g, "/");
  if (/^[A-Za-z]:/.test(unified) || unified.startsWith("//")) {
    throw new SandboxPathError(path, "drive-or-unc", "drive letters and UNC paths are not allowed");
  }
  const segments = unified.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes("..")) throw new SandboxPathError(path, "dot-dot", '".." is not allowed');
  return segments;
}

export interface SandboxResolveOptions {
  /** accept a path that resolves to the root itself (e.g. an empty-directory entry ""); default false */
  allowRoot?: boolean;
}

/**
 * Resolves `<root>/<part>/<part>…` (e.g. destinationPath then the file's path) inside `root`.
 * Refuses `..`, NUL bytes, drive/UNC prefixes, and any existing symbolic link on the way that
 * resolves outside the root (checked with realpath on every existing component, before anything
 * is written). `root` must be absolute ("/" when there is no sandbox). Returns the absolute
 * path under `root` as given (symlinks inside are kept).
 */
export async function resolveInSandbox(
  root: string,
  parts: string[],
  options: SandboxResolveOptions = {},
): Promise<string> {
  if (!isAbsolute(root))
    throw new RangeError(`sandbox root ${JSON.stringify(root)} must be an absolute path`);
  const whole = parts.join("/");
  const segments = parts.flatMap((part) => sandboxSegments(part));
  if (segments.length === 0 && !options.allowRoot) {
    throw new SandboxPathError(whole, "empty", "names the sandbox root itself");
  }
  const rootPath = resolve(root);
  const realRoot = await realpathOfDeepestExisting(rootPath);
  let current = rootPath;
  for (const segment of segments) {
    current = join(current, segment);
    let isLink: boolean;
    try {
      isLink = (await lstat(current)).isSymbolicLink();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") break; // nothing below exists yet
      throw error;
    }
    if (!isLink) continue;
    let target: string;
    try {
      target = await realpath(current);
    } catch {
      throw new SandboxPathError(whole, "symlink-escape", `symbolic link ${current} does not resolve`);
    }
    if (!isInside(realRoot, target)) {
      throw new SandboxPathError(
        whole,
        "symlink-escape",
        `symbolic link ${current} leads outside the sandbox`,
      );
    }
  }
  return join(rootPath, ...segments);
}

/** True when `path` is `root` or below it (both absolute and normalised). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/** realpath of `path`, or of its deepest existing ancestor joined with the rest when it does not exist yet. */
async function realpathOfDeepestExisting(path: string): Promise<string> {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(await realpath(current), ...missing.reverse());
    } catch (error) {
      const parent = resolve(current, "..");
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || parent === current) throw error;
      missing.push(basename(current));
      current = parent;
    }
  }
}
