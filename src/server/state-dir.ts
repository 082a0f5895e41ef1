import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errnoCode, StartupError } from "./errors.js";
import { newId } from "./ids.js";
import { writeFileAtomic } from "./fs-util.js";

/** The state dir of a running server, locked against a second server (server.md §2.3, §12). */
export interface StateDir {
  readonly path: string;
  readonly ephemeral: boolean;
  /** Release the lock; an ephemeral dir is deleted. Safe to call twice. */
  release(): void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}

/** State dirs locked by this process (a lock file holding our own pid may be stale after pid reuse). */
const lockedHere = new Set<string>();

/** Take `<dir>/lock`: holds our pid; a lock whose pid is gone is stale and taken over. */
function takeLock(dir: string): () => void {
  const lockPath = join(dir, "lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      lockedHere.add(lockPath);
      return () => {
        lockedHere.delete(lockPath);
        try {
          if (readFileSync(lockPath, "utf8").trim() === String(process.pid)) unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if (errnoCode(error) !== "EEXIST")
        throw new StartupError(`cannot create ${lockPath}: ${String(error)}`);
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(lockPath, "utf8").trim());
    } catch {
      continue; // vanished between open and read: try again
    }
    const ours = holder === process.pid;
    if (
      (ours && lockedHere.has(lockPath)) ||
      (!ours && Number.isInteger(holder) && holder > 0 && processAlive(holder))
    ) {
      throw new StartupError(`state dir ${dir} is in use by another server (pid ${holder})`, 2);
    }
    try {
      unlinkSync(lockPath); // stale lock
    } catch {
      // someone else removed it
    }
  }
  throw new StartupError(`cannot take the lock ${lockPath}`, 2);
}

/** Create (mode 0700) and lock the state dir; `ephemeral` makes a fresh temporary one. */
export function openStateDir(path: string, ephemeral: boolean): StateDir {
  const dir = ephemeral ? mkdtempSync(join(tmpdir(), "slipstream-state-")) : path;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StartupError(`cannot create state dir ${dir}: ${String(error)}`);
  }
  const unlock = takeLock(dir);
  let released = false;
  return {
    path: dir,
    ephemeral,
    release() {
      if (released) return;
      released = true;
      unlock();
      if (ephemeral) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `serverUid`: made once and kept in `<state-dir>/server.uid`. */
export function loadServerUid(dir: string): string {
  const path = join(dir, "server.uid");
  try {
    const uid = readFileSync(path, "utf8").trim();
    if (/^[0-9a-f]{32}$/.test(uid)) return uid;
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw new StartupError(`cannot read ${path}: ${String(error)}`);
  }
  const uid = newId();
  writeFileAtomic(path, `${uid}\n`, 0o600);
  return uid;
}
