import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errnoCode, StartupError } from "./errors.js";
import { writeFileAtomic } from "./fs-util.js";
import { hashPassword, randomPassword, verifyPassword } from "./passwords.js";

/** One entry of `<state-dir>/users.json` (server.md §6). */
export interface UserRecord {
  name: string;
  passwordHash: string;
  superuser: boolean;
  /** microseconds since the epoch */
  creationTime: number;
}

interface UsersFileContent {
  version: 1;
  users: Record<string, Omit<UserRecord, "name">>;
}

export const USER_NAME_PATTERN = /^[a-z_][a-z0-9_.-]{0,63}$/;
export const RESERVED_USER_NAMES = ["anonymous"];

/** Throws an Error naming what is wrong with `name`, if anything. */
export function checkUserName(name: string): void {
  if (!USER_NAME_PATTERN.test(name)) {
    throw new Error(`invalid user name ${JSON.stringify(name)}: use [a-z_][a-z0-9_.-]{0,63}`);
  }
  if (RESERVED_USER_NAMES.includes(name)) throw new Error(`user name ${JSON.stringify(name)} is reserved`);
}

export function usersFilePath(stateDir: string): string {
  return join(stateDir, "users.json");
}

export function adminPasswordPath(stateDir: string): string {
  return join(stateDir, "admin.password");
}

/**
 * The users file of a state dir. Every method reads the file afresh and writes it atomically, so
 * the CLI and a running server can share it; the server notices changes through `fingerprint()`.
 */
export class UsersFile {
  readonly path: string;

  constructor(readonly stateDir: string) {
    this.path = usersFilePath(stateDir);
  }

  exists(): boolean {
    try {
      statSync(this.path);
      return true;
    } catch {
      return false;
    }
  }

  /** Changes whenever the file is replaced or modified (inode, size, mtime). */
  fingerprint(): string {
    try {
      const s = statSync(this.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return "missing";
    }
  }

  list(): UserRecord[] {
    return Object.entries(this.read().users)
      .map(([name, record]) => ({ name, ...record }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): UserRecord | null {
    const record = this.read().users[name];
    return record ? { name, ...record } : null;
  }

  async add(name: string, password: string, superuser: boolean, nowMicros: number): Promise<UserRecord> {
    checkUserName(name);
    if (this.get(name)) throw new Error(`user ${name} already exists`);
    const passwordHash = await hashPassword(password);
    const content = this.read();
    if (content.users[name]) throw new Error(`user ${name} already exists`);
    content.users[name] = { passwordHash, superuser, creationTime: nowMicros };
    this.write(content);
    return { name, ...content.users[name] };
  }

  remove(name: string): void {
    const content = this.read();
    if (!content.users[name]) throw new Error(`no user ${name}`);
    delete content.users[name];
    this.write(content);
  }

  async setPassword(name: string, password: string): Promise<void> {
    if (!this.get(name)) throw new Error(`no user ${name}`);
    const passwordHash = await hashPassword(password);
    const content = this.read();
    const record = content.users[name];
    if (!record) throw new Error(`no user ${name}`);
    record.passwordHash = passwordHash;
    this.write(content);
  }

  setSuperuser(name: string, superuser: boolean): void {
    const content = this.read();
    const record = content.users[name];
    if (!record) throw new Error(`no user ${name}`);
    record.superuser = superuser;
    this.write(content);
  }

  /** The user, when the password is right; null otherwise (unknown user or wrong password). */
  async verify(name: string, password: string): Promise<UserRecord | null> {
    const record = this.get(name);
    if (!record) {
      await hashPassword(password); // same cost as a real check: no user-existence timing oracle
      return null;
    }
    return (await verifyPassword(password, record.passwordHash)) ? record : null;
  }

  /**
   * First start (server.md §2.3): create the users file with the superuser `admin` and
   * `admin.password` (mode 0600, random 24 characters). Returns the password file path, or null
   * when the users file already existed.
   */
  async initialize(nowMicros: number): Promise<string | null> {
    if (this.exists()) return null;
    const password = randomPassword(24);
    const passwordPath = adminPasswordPath(this.stateDir);
    writeFileSync(passwordPath, `${password}\n`, { mode: 0o600 });
    const passwordHash = await hashPassword(password);
    this.write({ version: 1, users: { admin: { passwordHash, superuser: true, creationTime: nowMicros } } });
    return passwordPath;
  }

  private read(): UsersFileContent {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return { version: 1, users: {} };
      throw new StartupError(`cannot read ${this.path}: ${String(error)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new StartupError(`${this.path} is not valid JSON: ${String(error)}`, 2);
    }
    if (typeof parsed !== "object" || parsed === null || !("users" in parsed)) {
      throw new StartupError(`${this.path}: expected {"version": 1, "users": {...}}`, 2);
    }
    const users = (parsed as { users: unknown }).users;
    if (typeof users !== "object" || users === null)
      throw new StartupError(`${this.path}: "users" must be an object`, 2);
    return { version: 1, users: users as UsersFileContent["users"] };
  }

  private write(content: UsersFileContent): void {
    writeFileAtomic(this.path, JSON.stringify(content, null, 2) + "\n", 0o600);
  }
}
