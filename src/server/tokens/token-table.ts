import type { Clock } from "../clock.js";
import type { ServerDatabase } from "../database.js";
import type { ServerEvents } from "../events.js";
import { verifyPassword } from "../passwords.js";

export type TokenDeleteReason = "api" | "expired";

/** Only the first characters of a token go into events and logs (api.md §7.1). */
export function tokenPrefix(token: string): string {
  return token.slice(0, 8);
}

/** The fields every kind of token record has, whatever else it keeps. */
export interface TokenTableRecord {
  readonly token: string;
  readonly owner: string;
  readonly creationTime: number;
  /** microseconds; null = never */
  readonly expiryTime: number | null;
  lastUseTime: number | null;
  readonly passwordHash: string | null;
  userData: Readonly<Record<string, string>>;
}

export type TokenTableDeleteListener<R> = (record: R, reason: TokenDeleteReason) => void;

/** What tells one kind of token apart from another in storage. */
export interface TokenTableSpec<R, Row> {
  /** the component name for `ServerDatabase.migrate` */
  readonly component: string;
  readonly migrations: readonly string[];
  /** the SQLite table, with columns `token`, `last_use_time` and `user_data` */
  readonly table: string;
  /** the event emitted when a token is deleted */
  readonly deletedEvent: string;
  readonly fromRow: (row: Row) => R;
}

function expiredAt(record: TokenTableRecord, now: number): boolean {
  return record.expiryTime !== null && now >= record.expiryTime;
}

/**
 * Tokens of one kind, kept in memory and written through to one SQLite table so they survive a
 * restart: lookup, expiry, passwords, use times, user data, deletion and its listeners. Creating
 * a token, and whatever else is particular to its kind, is the subclass's job.
 */
export class TokenTable<R extends TokenTableRecord, Row extends { token: string }> {
  protected readonly tokens = new Map<string, R>();
  private readonly deleteListeners = new Set<TokenTableDeleteListener<R>>();

  constructor(
    protected readonly database: ServerDatabase,
    protected readonly clock: Clock,
    protected readonly events: ServerEvents,
    private readonly spec: TokenTableSpec<R, Row>,
  ) {
    database.migrate(spec.component, spec.migrations);
    const rows = database.db.prepare(`SELECT * FROM ${spec.table}`).all() as Row[];
    for (const row of rows) this.tokens.set(row.token, spec.fromRow(row));
  }

  /** The record, expired or not; undefined when there is none. */
  find(token: string): R | undefined {
    return this.tokens.get(token);
  }

  isExpired(record: R): boolean {
    return expiredAt(record, this.clock.nowMicros());
  }

  /** The record when it exists and has not expired. */
  live(token: string): R | null {
    const record = this.tokens.get(token);
    return record === undefined || this.isExpired(record) ? null : record;
  }

  /** Every record (expired ones too), oldest first. */
  list(): R[] {
    return [...this.tokens.values()].sort((a, b) => a.creationTime - b.creationTime);
  }

  /** Whether `password` opens `record` (any password does when none is set). */
  async passwordMatches(record: R, password: string | null): Promise<boolean> {
    if (record.passwordHash === null) return true;
    if (password === null) return false;
    return verifyPassword(password, record.passwordHash);
  }

  /** Note a use: a login with it (for API tokens, a receive too). */
  touch(record: R): void {
    record.lastUseTime = this.clock.nowMicros();
    this.database.db
      .prepare(`UPDATE ${this.spec.table} SET last_use_time = ? WHERE token = ?`)
      .run(record.lastUseTime, record.token);
  }

  setUserData(record: R, userData: Record<string, string>): void {
    record.userData = { ...userData };
    this.database.db
      .prepare(`UPDATE ${this.spec.table} SET user_data = ? WHERE token = ?`)
      .run(JSON.stringify(record.userData), record.token);
  }

  /** Remove a token; listeners (the API: end its sessions) hear of it. False when unknown. */
  delete(token: string, reason: TokenDeleteReason): boolean {
    const record = this.tokens.get(token);
    if (record === undefined) return false;
    this.tokens.delete(token);
    this.database.db.prepare(`DELETE FROM ${this.spec.table} WHERE token = ?`).run(token);
    this.events.emit(this.spec.deletedEvent, { tokenPrefix: tokenPrefix(token), reason }, record.owner);
    for (const listener of this.deleteListeners) listener(record, reason);
    return true;
  }

  /** Delete every expired token (the collection pass); returns how many went. */
  collectExpired(): number {
    return this.deleteExpired(this.clock.nowMicros());
  }

  /** Delete every token whose expiryTime is at or before `now` (microseconds); returns how many went. */
  deleteExpired(now: number): number {
    let count = 0;
    for (const record of [...this.tokens.values()]) {
      if (expiredAt(record, now) && this.delete(record.token, "expired")) count++;
    }
    return count;
  }

  onDelete(listener: TokenTableDeleteListener<R>): () => void {
    this.deleteListeners.add(listener);
    return () => this.deleteListeners.delete(listener);
  }
}
