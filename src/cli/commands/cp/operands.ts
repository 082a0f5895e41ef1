/**
 * The operands of `slipstream cp` (server.md §5): local paths, `[user@]host[:port]:path` and
 * `slipstream://` download links; which direction a command line asks for; and scp naming.
 */
import { stat } from "node:fs/promises";
import { posix, resolve } from "node:path";
import { usageError } from "../../exit.js";

export interface RemoteTarget {
  user: string | null;
  host: string;
  /** UDP port given as `host:port:path`, else null (then `--port`) */
  port: number | null;
  path: string;
}

/**
 * `[user@]host[:port]:path`, `[user@][v6addr][:port]:path`; anything else (or `./a:b`) is a local
 * path. A purely numeric second field is the receiver's UDP port.
 */
export function parseRemote(operand: string): RemoteTarget | null {
  if (operand.startsWith("/") || operand.startsWith(".")) return null;
  const m = /^(?:([^@/:]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:/[\]]+)(?::(\d{1,5}))?:(.*)$/.exec(operand);
  if (!m) return null;
  const port = m[3] === undefined ? null : Number(m[3]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { user: m[1] ?? null, host: m[2]!.replace(/^\[|\]$/g, ""), port, path: m[4]! };
}

/** A shared link: the sharing server's API address and the shared token. */
export interface SharedLink {
  host: string;
  /** API port */
  port: number;
  token: string;
}

const LINK_FORM = "slipstream://host[:port]/download?token=…";

/**
 * `slipstream://host[:port]/download?token=T`; null for anything not starting with
 * `slipstream://`; a usage error for such an operand that is no download link.
 */
export function parseLink(operand: string, defaultPort: number): SharedLink | null {
  if (!/^slipstream:\/\//i.test(operand)) return null;
  let url: URL | null = null;
  try {
    url = new URL(operand);
  } catch {
    // reported below
  }
  const token = url?.searchParams.get("token") ?? "";
  const port = url === null || url.port === "" ? defaultPort : Number(url.port);
  if (url === null || url.hostname === "" || url.pathname !== "/download" || token === "") {
    throw usageError(`slipstream cp: ${operand}: not a download link (expected ${LINK_FORM})`);
  }
  return { host: url.hostname.replace(/^\[|\]$/g, ""), port, token };
}

/** The server the remote SOURCEs are on, as the operands name it. */
export interface RemoteServer {
  user: string | null;
  host: string;
}

/** A remote SOURCE: its virtual path on the server, and the operand as written (for messages). */
export interface RemoteSource {
  path: string;
  operand: string;
}

/** What a command line asks for (server.md §5, "How each direction is driven"). */
export type CopyRoute =
  | { direction: "upload"; sources: string[]; target: RemoteTarget }
  | { direction: "download"; server: RemoteServer; sources: RemoteSource[]; target: string }
  | { direction: "remote-to-remote"; server: RemoteServer; sources: RemoteSource[]; target: RemoteTarget }
  | { direction: "link"; link: SharedLink; target: string };

/** The operands (SOURCE… TARGET) as one of the four directions; usage errors otherwise. */
export function routeCopy(operands: readonly string[], linkPort: number): CopyRoute {
  if (operands.length < 2) throw usageError("slipstream cp: need SOURCE… and TARGET");
  const targetText = operands[operands.length - 1]!;
  if (parseLink(targetText, linkPort))
    throw usageError(`slipstream cp: ${targetText}: a shared link can only be a SOURCE`);
  const target = parseRemote(targetText);
  const sourceTexts = operands.slice(0, -1);
  const links = sourceTexts.map((s) => parseLink(s, linkPort));
  const link = links.find((l) => l !== null);
  if (link) {
    if (sourceTexts.length > 1) throw usageError("slipstream cp: a shared link must be the only SOURCE");
    if (target)
      throw usageError(`slipstream cp: a shared link can only be copied to a local path, not ${targetText}`);
    return { direction: "link", link, target: targetText };
  }
  const remotes = sourceTexts.map((s) => parseRemote(s));
  const remoteCount = remotes.filter((r) => r !== null).length;
  if (remoteCount === 0) {
    if (!target) {
      throw usageError(
        "slipstream cp: SOURCE or TARGET must be a server (host:path) or SOURCE a slipstream:// link; both are local paths here",
      );
    }
    return { direction: "upload", sources: sourceTexts, target };
  }
  if (remoteCount < sourceTexts.length) {
    const local = sourceTexts[remotes.indexOf(null)]!;
    throw usageError(
      `slipstream cp: ${local} is a local path but other SOURCEs are on a server; copy them in two runs`,
    );
  }
  const first = remotes[0]!;
  for (const [i, r] of remotes.entries()) {
    if (r!.port !== null) {
      throw usageError(
        `slipstream cp: ${sourceTexts[i]}: a UDP port (host:PORT:path) is only meaningful in TARGET`,
      );
    }
    if (r!.host !== first.host || r!.user !== first.user) {
      throw usageError(
        `slipstream cp: all remote SOURCEs must be on one server (${sourceTexts[0]} and ${sourceTexts[i]} are not)`,
      );
    }
  }
  const server = { user: first.user, host: first.host };
  const sources = remotes.map((r, i) => ({ path: remotePath(r!.path), operand: sourceTexts[i]! }));
  return target
    ? { direction: "remote-to-remote", server, sources, target }
    : { direction: "download", server, sources, target: targetText };
}

/** A remote operand's path as a virtual path of its server (`host:` = the root of the view). */
export function remotePath(path: string): string {
  return "/" + path.replace(/^\/+/, "").replace(/\/+$/, "");
}

export interface SourceInfo {
  /** a real path (uploads) or a virtual path on the sending server (downloads) */
  path: string;
  directory: boolean;
}

export interface CopyPlan {
  /**
   * the receiver directory (no leading `/`) in the receiving user's view; with --remote-token
   * relative to the token's path (server.md §15)
   */
  destinationPath: string;
  mappings: { srcPath: string; destPath: string }[];
}

/**
 * scp naming (server.md §5): into a directory, each source keeps its base name below it;
 * otherwise a single file source is written to exactly `target` and a single directory source
 * becomes `target`.
 */
export function nameCopy(sources: readonly SourceInfo[], target: string, intoDirectory: boolean): CopyPlan {
  const relative = target.replace(/^\/+/, "");
  if (intoDirectory) {
    return {
      destinationPath: relative.replace(/\/+$/, ""),
      mappings: sources.map((s) => ({ srcPath: s.path, destPath: posix.basename(s.path) })),
    };
  }
  const only = sources[0]!;
  if (only.directory) return { destinationPath: relative, mappings: [{ srcPath: only.path, destPath: "" }] };
  const parent = posix.dirname(relative);
  return {
    destinationPath: parent === "." ? "" : parent,
    mappings: [{ srcPath: only.path, destPath: posix.basename(relative) }],
  };
}

/** Whether a remote TARGET path names a directory by its form alone (uploads, remote → remote). */
export function remoteTargetIsDirectory(path: string, sourceCount: number): boolean {
  return path.endsWith("/") || sourceCount > 1 || path.replace(/^\/+/, "") === "";
}

/** `sources` that must be directories only with -r; the error names the operand. */
export function requireRecursive(operand: string, directory: boolean, recursive: boolean): void {
  if (directory && !recursive) throw usageError(`slipstream cp: ${operand} is a directory (use -r)`);
}

/** scp naming of local SOURCEs onto a remote TARGET path. */
export async function planCopy(
  sources: readonly string[],
  targetPath: string,
  recursive: boolean,
): Promise<CopyPlan> {
  const infos = await Promise.all(
    sources.map(async (s) => {
      const path = resolve(s);
      const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
        throw usageError(
          `slipstream cp: ${s}: ${error.code === "ENOENT" ? "no such file or directory" : error.message}`,
        );
      });
      requireRecursive(s, info.isDirectory(), recursive);
      return { path, directory: info.isDirectory() };
    }),
  );
  return nameCopy(infos, targetPath, remoteTargetIsDirectory(targetPath, sources.length));
}

/**
 * A local TARGET as the receiving directory (an absolute path without its leading `/`) and the
 * naming below it: a TARGET ending in `/`, several sources, or an existing directory take the
 * sources below it (as scp does).
 */
export async function planLocalTarget(sources: readonly SourceInfo[], target: string): Promise<CopyPlan> {
  const absolute = resolve(target);
  const existing = await stat(absolute).catch(() => null);
  const intoDirectory = target.endsWith("/") || sources.length > 1 || existing?.isDirectory() === true;
  if (!intoDirectory && existing !== null && sources[0]!.directory) {
    throw usageError(`slipstream cp: ${target} exists and is not a directory`);
  }
  return nameCopy(sources, absolute, intoDirectory);
}

/** A local TARGET directory that must be one (a link's files go below it). */
export async function localDirectory(target: string): Promise<string> {
  const absolute = resolve(target);
  const existing = await stat(absolute).catch(() => null);
  if (existing !== null && !existing.isDirectory())
    throw usageError(`slipstream cp: ${target} is not a directory (a link's files go below one)`);
  return absolute.replace(/^\/+/, "");
}
