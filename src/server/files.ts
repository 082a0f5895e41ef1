import { cp, lstat, mkdir, readdir, readlink, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import { errnoCode } from "./errors.js";
import {
  checkContainment,
  FileOpError,
  resolveVirtualPath,
  virtualPathOf,
  type ResolvedPath,
  type SandboxView,
} from "./sandbox.js";

/** api.md §5.19 */
export interface LsEntry {
  mode: string | null;
  mtime: number;
  name: string;
  path: string;
  size: number;
  target: string | null;
  type: "file" | "dir" | "symlink" | "other";
}

export interface DuResult {
  path: string;
  totalSize: number;
  fileCount: number;
  dirCount: number;
}

function failure(
  error: unknown,
  virtual: string,
  param: string,
  enotdir: "NOT_FOUND" | "CONFLICT" = "NOT_FOUND",
): never {
  if (error instanceof FileOpError) throw error;
  switch (errnoCode(error)) {
    case "ENOENT":
      throw new FileOpError("NOT_FOUND", `no such file or directory: ${virtual}`, param);
    case "ENOTDIR":
      throw new FileOpError(enotdir, `a file is in the way: ${virtual}`, param);
    case "EACCES":
    case "EPERM":
      throw new FileOpError("FORBIDDEN", `permission denied: ${virtual}`, param);
    case "EEXIST":
      throw new FileOpError("CONFLICT", `already exists: ${virtual}`, param);
    case "ENOTEMPTY":
      throw new FileOpError("CONFLICT", `directory not empty: ${virtual}`, param);
    case "EINVAL":
      throw new FileOpError("INVALID_ARGUMENT", `invalid operation on ${virtual}`, param);
    default:
      throw error;
  }
}

async function resolveChecked(
  view: SandboxView,
  path: string,
  param: string,
  followFinal: boolean,
): Promise<ResolvedPath> {
  const resolved = resolveVirtualPath(view, path, param);
  await checkContainment(resolved, followFinal, param);
  return resolved;
}

function entryType(s: BigIntStats): LsEntry["type"] {
  if (s.isSymbolicLink()) return "symlink";
  if (s.isDirectory()) return "dir";
  if (s.isFile()) return "file";
  return "other";
}

async function makeEntry(view: SandboxView, real: string, virtual: string, s: BigIntStats): Promise<LsEntry> {
  const type = entryType(s);
  let target: string | null = null;
  if (type === "symlink") {
    try {
      target = virtualPathOf(view, resolvePath(dirname(real), await readlink(real)));
    } catch {
      target = null;
    }
  }
  return {
    mode: (Number(s.mode) & 0o7777).toString(8).padStart(4, "0"),
    mtime: Number(s.mtimeNs / 1000n),
    name: virtual === "/" ? "/" : basename(virtual),
    path: virtual,
    size: type === "file" ? Number(s.size) : 0,
    target,
    type,
  };
}

function childVirtual(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/** The top level of a view (api.md §2.5 `lsRoots`). */
export async function lsRoots(view: SandboxView): Promise<LsEntry[]> {
  if (view.roots === null || view.roots.has(""))
    return ls(view, "/", { recursive: false, includeHidden: true, offset: 0, limit: 10_000 });
  const entries: LsEntry[] = [];
  for (const name of [...view.roots.keys()].sort()) {
    const resolved = await resolveChecked(view, `/${name}`, "path", true);
    const s = await stat(resolved.real as string, { bigint: true });
    entries.push(await makeEntry(view, resolved.real as string, `/${name}`, s));
  }
  return entries;
}

export interface LsOptions {
  recursive: boolean;
  includeHidden: boolean;
  offset: number;
  limit: number;
}

/** Directory listing in name order (depth first when recursive); a file lists as one entry. */
export async function ls(view: SandboxView, path: string, opts: LsOptions): Promise<LsEntry[]> {
  const resolved = await resolveChecked(view, path, "path", true);
  if (resolved.real === null) return (await lsRoots(view)).slice(opts.offset, opts.offset + opts.limit);
  const wanted = opts.offset + opts.limit;
  const out: LsEntry[] = [];
  try {
    const top = await stat(resolved.real, { bigint: true });
    if (!top.isDirectory())
      return [await makeEntry(view, resolved.real, resolved.virtual, top)].slice(opts.offset, wanted);
    const walk = async (real: string, virtual: string): Promise<void> => {
      const names = (await readdir(real)).sort();
      for (const name of names) {
        if (out.length >= wanted) return;
        if (!opts.includeHidden && name.startsWith(".")) continue;
        const childReal = join(real, name);
        const childV = childVirtual(virtual, name);
        let s: BigIntStats;
        try {
          s = await lstat(childReal, { bigint: true });
        } catch {
          continue; // vanished while listing
        }
        out.push(await makeEntry(view, childReal, childV, s));
        if (opts.recursive && s.isDirectory()) await walk(childReal, childV);
      }
    };
    await walk(resolved.real, resolved.virtual);
  } catch (error) {
    failure(error, resolved.virtual, "path");
  }
  return out.slice(opts.offset, wanted);
}

/** Total size of the files under `path` (links not followed), counting files and subdirectories. */
export async function du(view: SandboxView, path: string): Promise<DuResult> {
  const resolved = await resolveChecked(view, path, "path", true);
  const result: DuResult = { path: resolved.virtual, totalSize: 0, fileCount: 0, dirCount: 0 };
  if (resolved.real === null) {
    for (const root of view.roots?.keys() ?? []) {
      const sub = await du(view, `/${root}`);
      result.totalSize += sub.totalSize;
      result.fileCount += sub.fileCount;
      result.dirCount += sub.dirCount + 1;
    }
    return result;
  }
  const walk = async (real: string): Promise<void> => {
    for (const name of await readdir(real)) {
      const child = join(real, name);
      const s = await lstat(child);
      if (s.isDirectory()) {
        result.dirCount++;
        await walk(child);
      } else {
        result.fileCount++;
        if (s.isFile()) result.totalSize += s.size;
      }
    }
  };
  try {
    const top = await stat(resolved.real);
    if (top.isDirectory()) await walk(resolved.real);
    else {
      result.fileCount = 1;
      result.totalSize = top.size;
    }
  } catch (error) {
    failure(error, resolved.virtual, "path");
  }
  return result;
}

export async function makeDirectory(view: SandboxView, path: string, parents: boolean): Promise<void> {
  const resolved = await resolveChecked(view, path, "path", true);
  if (resolved.real === null) {
    if (parents) return;
    throw new FileOpError("CONFLICT", "the top level of the view already exists", "path");
  }
  try {
    const existing = await stat(resolved.real).catch((error: unknown) => {
      if (errnoCode(error) === "ENOENT") return null;
      throw error;
    });
    if (existing !== null) {
      if (!existing.isDirectory())
        throw new FileOpError("CONFLICT", `a file is in the way: ${resolved.virtual}`, "path");
      if (!parents) throw new FileOpError("CONFLICT", `already exists: ${resolved.virtual}`, "path");
      return;
    }
    await mkdir(resolved.real, { recursive: parents });
  } catch (error) {
    failure(error, resolved.virtual, "path", "CONFLICT");
  }
}

export async function move(
  view: SandboxView,
  srcPath: string,
  destPath: string,
  overwrite: boolean,
): Promise<void> {
  const src = await resolveChecked(view, srcPath, "srcPath", false);
  const dest = await resolveChecked(view, destPath, "destPath", false);
  if (src.isRoot || src.real === null)
    throw new FileOpError("CONFLICT", "cannot move a sandbox root", "srcPath");
  if (dest.isRoot || dest.real === null)
    throw new FileOpError("CONFLICT", "cannot replace a sandbox root", "destPath");
  try {
    await lstat(src.real);
  } catch (error) {
    failure(error, src.virtual, "srcPath");
  }
  const existing = await lstat(dest.real).catch(() => null);
  if (existing !== null) {
    if (!overwrite) throw new FileOpError("CONFLICT", `target exists: ${dest.virtual}`, "destPath");
    if (existing.isDirectory())
      throw new FileOpError("CONFLICT", `target is a directory: ${dest.virtual}`, "destPath");
  }
  try {
    await rename(src.real, dest.real);
  } catch (error) {
    if (errnoCode(error) !== "EXDEV") failure(error, dest.virtual, "destPath");
    try {
      await cp(src.real, dest.real, {
        recursive: true,
        force: overwrite,
        errorOnExist: !overwrite,
        verbatimSymlinks: true,
      });
      await rm(src.real, { recursive: true });
    } catch (copyError) {
      failure(copyError, dest.virtual, "destPath");
    }
  }
}

export async function remove(view: SandboxView, path: string, recursive: boolean): Promise<void> {
  const resolved = await resolveChecked(view, path, "path", false);
  if (resolved.isRoot || resolved.real === null)
    throw new FileOpError("CONFLICT", "cannot remove a sandbox root", "path");
  try {
    const s = await lstat(resolved.real);
    if (!s.isDirectory()) await unlink(resolved.real);
    else if (recursive) await rm(resolved.real, { recursive: true });
    else await rmdir(resolved.real);
  } catch (error) {
    failure(error, resolved.virtual, "path");
  }
}
