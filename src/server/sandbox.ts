import { mkdir, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, sep } from "node:path";
import { errnoCode, ServiceError, type ServiceErrorCode } from "./errors.js";

/** Codes of file-operation failures; the API reports them with the same `data.code`. */
export type FileErrorCode = ServiceErrorCode;

export class FileOpError extends ServiceError {
  override readonly name = "FileOpError";
}

/** A target of a sandbox mapping (api.md §5.20): a plain string is a File target. */
export type SandboxTarget =
  string | { type: "File"; path: string } | { type: string; [field: string]: unknown };
/** virtual root name → target; key "" maps the whole view */
export type SandboxMapping = Record<string, SandboxTarget>;

/** What one user sees: null roots = the whole filesystem; otherwise virtual root name → real dir. */
export interface SandboxView {
  readonly roots: ReadonlyMap<string, string> | null;
}

/** `%u` becomes the user name, `%%` a literal `%`. */
export function expandUserPattern(path: string, user: string): string {
  return path.replace(/%[%u]/g, (m) => (m === "%%" ? "%" : user));
}

/** Build a user's view from the mapping that applies to them (null = no sandbox). */
export function viewFromMapping(mapping: SandboxMapping | null, user: string): SandboxView {
  if (mapping === null) return { roots: null };
  const roots = new Map<string, string>();
  for (const [name, target] of Object.entries(mapping)) {
    let path: string;
    if (typeof target === "string") path = target;
    else if (target.type === "File" && typeof target.path === "string") path = target.path;
    else
      throw new FileOpError(
        "UNAVAILABLE",
        `sandbox root "${name}": ${String(target.type)} targets are not supported yet`,
      );
    const expanded = expandUserPattern(path, user);
    if (!isAbsolute(expanded))
      throw new FileOpError("INVALID_ARGUMENT", `sandbox root "${name}": path must be absolute`);
    roots.set(name, expanded);
  }
  return { roots };
}

/** A virtual path resolved against a view. */
export interface ResolvedPath {
  /** normalised virtual path, `/a/b` */
  virtual: string;
  /** real filesystem path; null for the virtual top level of a multi-root view */
  real: string | null;
  /** real directory of the root the path lives in (null at the multi-root top level) */
  rootReal: string | null;
  /** virtual path of that root (`/` or `/name`) */
  rootVirtual: string;
  /** the path is the root of its view or sandbox root */
  isRoot: boolean;
}

/** Split a virtual path, refusing NUL bytes and `..` segments (api.md §1.7). */
export function splitVirtualPath(path: string, param: string): string[] {
  if (path.includes("\0"))
    throw new FileOpError("INVALID_ARGUMENT", `parameter '${param}' contains a NUL byte`, param);
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) {
    throw new FileOpError("INVALID_ARGUMENT", `parameter '${param}' must not contain '..' segments`, param);
  }
  return segments;
}

export function resolveVirtualPath(view: SandboxView, path: string, param: string): ResolvedPath {
  const segments = splitVirtualPath(path, param);
  const virtual = "/" + segments.join("/");
  if (view.roots === null) {
    return {
      virtual,
      real: join("/", ...segments),
      rootReal: "/",
      rootVirtual: "/",
      isRoot: segments.length === 0,
    };
  }
  const whole = view.roots.get("");
  if (whole !== undefined) {
    return {
      virtual,
      real: join(whole, ...segments),
      rootReal: whole,
      rootVirtual: "/",
      isRoot: segments.length === 0,
    };
  }
  if (segments.length === 0) return { virtual, real: null, rootReal: null, rootVirtual: "/", isRoot: true };
  const rootReal = view.roots.get(segments[0]);
  if (rootReal === undefined)
    throw new FileOpError("NOT_FOUND", `no such file or directory: ${virtual}`, param);
  return {
    virtual,
    real: join(rootReal, ...segments.slice(1)),
    rootReal,
    rootVirtual: `/${segments[0]}`,
    isRoot: segments.length === 1,
  };
}

function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** The real path of the deepest existing ancestor of `path` (itself included). */
async function realpathOfExisting(path: string): Promise<string> {
  for (let current = path; ; current = dirname(current)) {
    try {
      return await realpath(current);
    } catch (error) {
      const code = errnoCode(error);
      if ((code !== "ENOENT" && code !== "ENOTDIR") || current === dirname(current)) throw error;
    }
  }
}

/**
 * Refuse paths that leave their sandbox root through a symbolic link. With `followFinal` false
 * the last component may itself be a link (rm and mv act on the link, not its target).
 * Creates a missing sandbox root directory (File targets are created on first use).
 */
export async function checkContainment(
  resolved: ResolvedPath,
  followFinal: boolean,
  param: string,
): Promise<void> {
  if (resolved.real === null || resolved.rootReal === null) return;
  if (resolved.rootReal === "/") return; // no sandbox: nothing to escape from
  let rootReal: string;
  try {
    await mkdir(resolved.rootReal, { recursive: true });
    rootReal = await realpath(resolved.rootReal);
  } catch (error) {
    throw new FileOpError("FORBIDDEN", `sandbox root is not accessible: ${String(error)}`, param);
  }
  const probe = followFinal || resolved.isRoot ? resolved.real : dirname(resolved.real);
  let actual: string;
  try {
    actual = await realpathOfExisting(probe);
  } catch (error) {
    if (errnoCode(error) === "EACCES")
      throw new FileOpError("FORBIDDEN", `permission denied: ${resolved.virtual}`, param);
    throw new FileOpError("NOT_FOUND", `no such file or directory: ${resolved.virtual}`, param);
  }
  if (!inside(actual, rootReal)) {
    throw new FileOpError(
      "INVALID_ARGUMENT",
      `parameter '${param}' leaves the sandbox through a symbolic link`,
      param,
    );
  }
}

/** Virtual path of a real path inside one of the view's roots, or null when outside all of them. */
export function virtualPathOf(view: SandboxView, real: string): string | null {
  if (view.roots === null) return real;
  for (const [name, root] of view.roots) {
    if (inside(real, root)) {
      const rest = real.slice(root.length).split(sep).filter(Boolean);
      return "/" + (name === "" ? rest : [name, ...rest]).join("/");
    }
  }
  return null;
}

/**
 * Which mapping applies to which user. By default the global `--sandbox-dir` (`{"": dir}`, `%u`
 * allowed) or none; per-user and API-set mappings plug in through `setMappingSource`.
 */
export class SandboxPolicy {
  private source: (user: string) => SandboxMapping | null;

  constructor(readonly sandboxDir: string | null) {
    this.source = () => (sandboxDir === null ? null : { "": sandboxDir });
  }

  /** Replace how a user's mapping is found (a user's own mapping replaces the global one). */
  setMappingSource(source: (user: string) => SandboxMapping | null): void {
    this.source = source;
  }

  mappingFor(user: string): SandboxMapping | null {
    return this.source(user);
  }

  viewFor(user: string): SandboxView {
    return viewFromMapping(this.source(user), user);
  }
}
