import { ServiceError } from "../errors.js";
import { FileOpError, splitVirtualPath } from "../sandbox.js";

/** Most `fileMappings` entries one `send.createManifest` call may carry (api.md §3.3). */
export const MAX_FILE_MAPPINGS = 100_000;

/** One `fileMappings` entry as the API accepts it (api.md §3.3). */
export type FileMappingInput = string | { srcPath: string; destPath?: string };

/** A validated entry: `srcPath` a normalised virtual path (`/a/b`), `destPath` relative (`a/b`, `""` = the transfer's `destinationPath` itself). */
export interface ParsedFileMapping {
  srcPath: string;
  destPath: string;
}

/**
 * A malformed `fileMappings` entry: a ServiceError with code INVALID_ARGUMENT and param
 * `fileMappings`, so the API layer reports it like any other bad parameter; the message names the
 * entry (`fileMappings[3]: …`).
 */
export class MappingError extends ServiceError {
  override readonly name: string = "MappingError";
  constructor(
    message: string,
    /** position of the entry in `fileMappings`, or -1 when the list itself is wrong */
    readonly index: number,
  ) {
    super("INVALID_ARGUMENT", message, "fileMappings");
  }
}

/**
 * Split `"src:dest"` at the first unescaped `:`. `\:` is a literal colon and `\\` a literal
 * backslash; any other backslash is kept as it is, so paths with ordinary backslashes need no
 * escaping. Returns dest = null when there is no separator (`"src"`).
 */
export function splitMappingString(text: string): { src: string; dest: string | null } {
  let src = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\" && (text[i + 1] === ":" || text[i + 1] === "\\")) {
      src += text[i + 1];
      i++;
    } else if (c === ":") {
      return { src, dest: unescape(text.slice(i + 1)) };
    } else {
      src += c;
    }
  }
  return { src, dest: null };
}

/** The destination half uses the same escapes, so `a:b\:c` maps `a` to `b:c`. */
function unescape(text: string): string {
  return text.replace(/\\([:\\])/g, "$1");
}

/**
 * Normalise a destination path to a relative POSIX path: a leading `/` is ignored, `.` and empty
 * segments dropped, `..` resolved. Returns null when `..` climbs above the top. Backslashes and
 * drive letters (`C:`) are ordinary characters here.
 */
export function normaliseDestPath(path: string): string | null {
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(segment);
  }
  return out.join("/");
}

/** Validate one `fileMappings` entry (string or object form) and normalise both paths. */
export function parseFileMapping(input: FileMappingInput, index: number): ParsedFileMapping {
  const where = `fileMappings[${index}]`;
  let src: unknown;
  let dest: unknown;
  if (typeof input === "string") {
    ({ src, dest } = splitMappingString(input));
  } else if (typeof input === "object" && input !== null && !Array.isArray(input)) {
    src = input.srcPath;
    dest = input.destPath ?? null;
  } else {
    throw new MappingError(`${where}: must be a string "src:dest" or an object {srcPath, destPath}`, index);
  }
  if (typeof src !== "string") throw new MappingError(`${where}: srcPath must be a string`, index);
  if (dest !== null && typeof dest !== "string")
    throw new MappingError(`${where}: destPath must be a string`, index);
  if (src === "") throw new MappingError(`${where}: srcPath is empty`, index);
  if (src.includes("\0")) throw new MappingError(`${where}: srcPath contains a NUL byte`, index);
  if (dest?.includes("\0")) throw new MappingError(`${where}: destPath contains a NUL byte`, index);

  let segments: string[];
  try {
    segments = splitVirtualPath(src, "srcPath");
  } catch (error) {
    if (!(error instanceof FileOpError)) throw error;
    throw new MappingError(`${where}: srcPath must not contain '..' segments`, index);
  }
  const srcPath = "/" + segments.join("/");
  const destPath = normaliseDestPath(dest ?? srcPath);
  if (destPath === null)
    throw new MappingError(`${where}: destPath climbs above the destination directory with '..'`, index);
  return { srcPath, destPath };
}

/** Validate the whole `fileMappings` parameter: a non-empty list of at most MAX_FILE_MAPPINGS entries. */
export function parseFileMappings(inputs: readonly FileMappingInput[]): ParsedFileMapping[] {
  if (!Array.isArray(inputs)) throw new MappingError("fileMappings must be a list", -1);
  if (inputs.length === 0) throw new MappingError("fileMappings must not be empty", -1);
  if (inputs.length > MAX_FILE_MAPPINGS)
    throw new MappingError(
      `fileMappings has ${inputs.length} entries; at most ${MAX_FILE_MAPPINGS} are allowed per call`,
      -1,
    );
  return inputs.map((input, index) => parseFileMapping(input, index));
}
