import { access, constants, lstat, readdir, realpath, stat } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { join, sep } from "node:path";
import { errnoCode } from "../errors.js";
import {
  checkContainment,
  FileOpError,
  resolveVirtualPath,
  type ResolvedPath,
  type SandboxView,
} from "../sandbox.js";
import type { ParsedFileMapping } from "./file-mapping.js";
import type { ManifestEntry } from "./records.js";

/** One entry of a manifest, as the scan finds it (see ManifestEntry). */
export type ScannedEntry = ManifestEntry;

export interface ScanOptions {
  /** called with the number of entries found so far, at every yield and once at the end */
  onProgress?(filesScanned: number): void;
  /** aborting makes the scan reject with a ManifestScanError whose `aborted` is true */
  signal?: AbortSignal;
  /** give the event loop a turn after this many filesystem items (default 1000) */
  yieldEvery?: number;
}

/** Why a scan failed; `message` is meant for the user (Manifest.errorMessage). */
export class ManifestScanError extends Error {
  override readonly name = "ManifestScanError";
  constructor(
    message: string,
    readonly aborted = false,
  ) {
    super(message);
  }
}

/** How many lstat/access calls run at once within one directory. */
const STAT_BATCH = 32;

const OS_ERROR_TEXT: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a path component is not a directory",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "name too long",
  EIO: "input/output error",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  ESTALE: "stale file handle",
};

/** The OS error as text without the real path Node puts in its messages (it would leak the sandbox location). */
function osErrorText(error: unknown): string {
  const code = errnoCode(error);
  if (code === undefined) throw error; // not an OS error: a bug, let it surface as one
  return `${OS_ERROR_TEXT[code] ?? "system error"} (${code})`;
}

/** A FileOpError of the sandbox helpers as a scan error; their messages are not reused because some carry real paths. */
function sandboxFailure(error: unknown, virtual: string): unknown {
  if (!(error instanceof FileOpError)) return error;
  switch (error.code) {
    case "NOT_FOUND":
      return new ManifestScanError(`${virtual}: no such file or directory`);
    case "FORBIDDEN":
      return new ManifestScanError(`${virtual}: permission denied`);
    case "INVALID_ARGUMENT":
      return new ManifestScanError(`${virtual}: a symbolic link on this path leads outside the sandbox`);
    default:
      return new ManifestScanError(`${virtual}: ${error.message}`);
  }
}

function isInside(child: string, parent: string): boolean {
  return parent === sep || child === parent || child.startsWith(parent + sep);
}

/** `parent/name`, for virtual paths (`/` is the top) and destination paths (`""` is the top). */
function childOf(parent: string, name: string): string {
  if (parent === "") return name;
  return parent.endsWith("/") ? parent + name : `${parent}/${name}`;
}

/** A file or directory found by the walk: its canonical real path and the two paths it is known by. */
interface WorkItem {
  kind: "file" | "dir";
  real: string;
  virtual: string;
  dest: string;
  size: number;
  mtime: number;
  /** device and inode, to skip a directory reached twice */
  identity: string;
}

/** One top-level source: a mapping, or one root of a multi-root view when the mapping is `/`. */
interface Source {
  virtual: string;
  real: string;
  /** canonical real directory of the sandbox root the source lives in; "/" without a sandbox */
  rootCanonical: string;
  dest: string;
}

/**
 * Expand `mappings` into manifest entries (api.md §3.3), depth first in name order.
 *
 * Rules decided here:
 * - A symbolic link is followed when its target stays inside the sandbox root it was found in
 *   (the rule `checkContainment` applies to every file method, so every srcPath reported is one
 *   `ls` accepts); a link leaving it, a broken link or a link loop fails the scan naming the link.
 * - A directory reached twice while walking one source (same device and inode) is skipped, which
 *   also ends link loops. Two mappings of the same directory are both walked (e.g. `/a:x`, `/a:y`).
 * - Sockets, FIFOs and devices fail the scan naming them: reading a FIFO or a device can block or
 *   never end, and silently leaving a file out would give a copy that looks complete but is not.
 * - An entry vanishing between readdir and lstat is left out (it no longer exists); any other
 *   missing or unreadable file or directory fails the scan with its virtual path and the OS error.
 * - Two entries with the same destPath fail, and so does a file whose destPath another entry
 *   needs as a directory (the receiver could not create both).
 * - A directory that is empty becomes an `isEmptyDir` entry, except when its destPath is `""`
 *   (the destination directory itself, which the receiver creates anyway).
 */
export async function scanManifest(
  mappings: readonly ParsedFileMapping[],
  view: SandboxView,
  opts: ScanOptions = {},
): Promise<ScannedEntry[]> {
  const scan = new Scan(view, opts);
  for (const mapping of mappings) {
    for (const source of await scan.sourcesOf(mapping)) await scan.walk(source);
  }
  opts.onProgress?.(scan.entries.length);
  return scan.entries;
}

class Scan {
  readonly entries: ScannedEntry[] = [];
  /** destPath of every entry → its srcPath */
  private readonly destOwners = new Map<string, { src: string; isFile: boolean }>();
  /** every directory some entry's destPath passes through → the srcPath of the first such entry */
  private readonly dirPrefixes = new Map<string, string>();
  private readonly rootCanonicals = new Map<string, string>();
  private readonly yieldEvery: number;
  private sinceYield = 0;

  constructor(
    private readonly view: SandboxView,
    private readonly opts: ScanOptions,
  ) {
    this.yieldEvery = Math.max(1, opts.yieldEvery ?? 1000);
  }

  async sourcesOf(mapping: ParsedFileMapping): Promise<Source[]> {
    this.checkAborted();
    let resolved: ResolvedPath;
    try {
      resolved = resolveVirtualPath(this.view, mapping.srcPath, "srcPath");
    } catch (error) {
      throw sandboxFailure(error, mapping.srcPath);
    }
    if (resolved.real === null) {
      // the top level of a multi-root view: each root is a directory below it
      const names = [...(this.view.roots?.keys() ?? [])].sort();
      const sources: Source[] = [];
      for (const name of names)
        sources.push(
          ...(await this.sourcesOf({ srcPath: `/${name}`, destPath: childOf(mapping.destPath, name) })),
        );
      return sources;
    }
    try {
      await checkContainment(resolved, true, "srcPath");
    } catch (error) {
      throw sandboxFailure(error, resolved.virtual);
    }
    const rootReal = resolved.rootReal ?? sep;
    let rootCanonical = this.rootCanonicals.get(rootReal);
    if (rootCanonical === undefined) {
      rootCanonical = await this.fs(resolved.rootVirtual, () => realpath(rootReal));
      this.rootCanonicals.set(rootReal, rootCanonical);
    }
    return [{ virtual: resolved.virtual, real: resolved.real, rootCanonical, dest: mapping.destPath }];
  }

  /** Walk one source with an explicit stack (no recursion limit on depth). */
  async walk(source: Source): Promise<void> {
    const canonical = await this.fs(source.virtual, () => realpath(source.real));
    if (!isInside(canonical, source.rootCanonical))
      throw new ManifestScanError(
        `${source.virtual}: a symbolic link on this path leads outside the sandbox`,
      );
    const stats = await this.fs(source.virtual, () => stat(canonical, { bigint: true }));
    const stack: WorkItem[] = [await this.item(canonical, source.virtual, source.dest, stats)];
    const visited = new Set<string>();
    while (stack.length > 0) {
      this.checkAborted();
      const item = stack.pop() as WorkItem;
      if (item.kind === "file") {
        this.add(item, false);
      } else if (!visited.has(item.identity)) {
        visited.add(item.identity);
        const children = await this.readDirectory(item, source.rootCanonical);
        if (children.length === 0) this.add(item, true);
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
      }
      await this.tick(1);
    }
  }

  /** The items directly below a directory, in name order. */
  private async readDirectory(dir: WorkItem, rootCanonical: string): Promise<WorkItem[]> {
    const names = (await this.fs(dir.virtual, () => readdir(dir.real), "cannot read directory ")).sort();
    const items: WorkItem[] = [];
    for (let start = 0; start < names.length; start += STAT_BATCH) {
      this.checkAborted();
      const batch = names.slice(start, start + STAT_BATCH);
      // settle the whole batch so the failure reported is the first in name order, not the fastest
      const found = await Promise.allSettled(batch.map((name) => this.child(dir, name, rootCanonical)));
      for (const outcome of found) {
        if (outcome.status === "rejected") throw outcome.reason;
        if (outcome.value !== null) items.push(outcome.value);
      }
      await this.tick(batch.length);
    }
    return items;
  }

  /** One directory entry, followed when it is a link; null when it vanished since readdir. */
  private async child(dir: WorkItem, name: string, rootCanonical: string): Promise<WorkItem | null> {
    const real = join(dir.real, name);
    const virtual = childOf(dir.virtual, name);
    const dest = childOf(dir.dest, name);
    let stats: BigIntStats;
    try {
      stats = await lstat(real, { bigint: true });
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return null;
      throw new ManifestScanError(`${virtual}: ${osErrorText(error)}`);
    }
    if (!stats.isSymbolicLink()) return this.item(real, virtual, dest, stats);
    let target: string;
    try {
      target = await realpath(real);
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT")
        throw new ManifestScanError(`${virtual}: broken symbolic link (its target does not exist)`);
      if (code === "ELOOP") throw new ManifestScanError(`${virtual}: symbolic link loop`);
      throw new ManifestScanError(`${virtual}: cannot follow symbolic link: ${osErrorText(error)}`);
    }
    if (!isInside(target, rootCanonical))
      throw new ManifestScanError(`${virtual}: symbolic link points outside the sandbox`);
    const targetStats = await this.fs(virtual, () => stat(target, { bigint: true }));
    return this.item(target, virtual, dest, targetStats);
  }

  /** Keep what the manifest needs of a file or directory; refuse every other type. */
  private async item(real: string, virtual: string, dest: string, stats: BigIntStats): Promise<WorkItem> {
    const found = {
      real,
      virtual,
      dest,
      size: Number(stats.size),
      mtime: Number(stats.mtimeNs / 1000n),
      identity: `${stats.dev}:${stats.ino}`,
    };
    if (stats.isDirectory()) return { kind: "dir", ...found, size: 0 };
    if (!stats.isFile()) {
      const what = stats.isFIFO()
        ? "a named pipe"
        : stats.isSocket()
          ? "a socket"
          : stats.isCharacterDevice() || stats.isBlockDevice()
            ? "a device"
            : "not a regular file";
      throw new ManifestScanError(`${virtual}: is ${what}; only regular files and directories can be sent`);
    }
    if (dest === "")
      throw new ManifestScanError(
        `${virtual}: a file needs a destPath (it cannot replace the destination directory itself)`,
      );
    // unreadable files fail the scan now rather than halfway through a transfer
    await this.fs(virtual, () => access(real, constants.R_OK), "cannot read ");
    return { kind: "file", ...found };
  }

  private add(item: WorkItem, isEmptyDir: boolean): void {
    if (isEmptyDir && item.dest === "") return;
    this.claim(item.dest, item.virtual, !isEmptyDir);
    this.entries.push({
      srcPath: item.virtual,
      localPath: item.real,
      destPath: item.dest,
      fileSize: item.size,
      mtime: item.mtime,
      isEmptyDir,
    });
  }

  private claim(dest: string, src: string, isFile: boolean): void {
    const owner = this.destOwners.get(dest);
    if (owner !== undefined)
      throw new ManifestScanError(
        `destination path "${dest}" would be written by both ${owner.src} and ${src}`,
      );
    const user = this.dirPrefixes.get(dest);
    if (isFile && user !== undefined)
      throw new ManifestScanError(
        `destination path "${dest}" is a file from ${src} but a directory for ${user}`,
      );
    this.destOwners.set(dest, { src, isFile });
    for (let slash = dest.indexOf("/"); slash !== -1; slash = dest.indexOf("/", slash + 1)) {
      const prefix = dest.slice(0, slash);
      const prefixOwner = this.destOwners.get(prefix);
      if (prefixOwner?.isFile)
        throw new ManifestScanError(
          `destination path "${prefix}" is a file from ${prefixOwner.src} but a directory for ${src}`,
        );
      if (!this.dirPrefixes.has(prefix)) this.dirPrefixes.set(prefix, src);
    }
  }

  /** Run one filesystem call, turning an OS error into a scan error naming the virtual path. */
  private async fs<T>(virtual: string, call: () => Promise<T>, prefix = ""): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new ManifestScanError(`${prefix}${virtual}: ${osErrorText(error)}`);
    }
  }

  private async tick(items: number): Promise<void> {
    this.sinceYield += items;
    if (this.sinceYield < this.yieldEvery) return;
    this.sinceYield = 0;
    this.opts.onProgress?.(this.entries.length);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.checkAborted();
  }

  private checkAborted(): void {
    if (this.opts.signal?.aborted) throw new ManifestScanError("manifest scan was aborted", true);
  }
}
