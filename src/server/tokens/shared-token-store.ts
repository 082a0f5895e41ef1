import type { Clock } from "../clock.js";
import type { ServerDatabase } from "../database.js";
import type { ServerEvents } from "../events.js";
import { newId } from "../ids.js";
import { hashPassword, verifyPassword } from "../passwords.js";
import { tokenPrefix, type TokenDeleteReason } from "./token-store.js";

/** One shared token, a download link (api.md §3.6, §5.15 `tokenType: "shared"`). */
export interface SharedTokenRecord {
  readonly token: string;
  /** the creating user: shared-token sessions act as this user */
  readonly owner: string;
  /** the API token whose session created it (its `share` permission), else null */
  readonly ownerToken: string | null;
  readonly ownerTokenSession: string | null;
  /** the manifest offered */
  readonly manifestId: string;
  readonly description: string;
  readonly creationTime: number;
  /** microseconds; null = never */
  readonly expiryTime: number | null;
  /** transfers that may be created with it; null = unlimited */
  readonly downloadLimit: number | null;
  /** transfers created with it so far */
  downloadCount: number;
  /** last login with it; null = never used */
  lastUseTime: number | null;
  readonly passwordHash: string | null;
  userData: Readonly<Record<string, string>>;
}

export interface NewSharedToken {
  owner: string;
  ownerToken: string | null;
  ownerTokenSession: string | null;
  manifestId: string;
  description: string;
  expiryTime: number | null;
  downloadLimit: number | null;
  password: string | null;
  userData: Record<string, string>;
}

export type SharedTokenDeleteListener = (record: SharedTokenRecord, reason: TokenDeleteReason) => void;

interface SharedTokenRow {
  token: string;
  owner: string;
  owner_token: string | null;
  owner_token_session: string | null;
  manifest_id: string;
  description: string;
  creation_time: number;
  expiry_time: number | null;
  download_limit: number | null;
  download_count: number;
  last_use_time: number | null;
  password_hash: string | null;
  user_data: string;
}

const MIGRATIONS = [
  `CREATE TABLE shared_tokens (
     token TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     owner_token TEXT,
     owner_token_session TEXT,
     manifest_id TEXT NOT NULL,
     description TEXT NOT NULL,
     creation_time INTEGER NOT NULL,
     expiry_time INTEGER,
     download_limit INTEGER,
     download_count INTEGER NOT NULL,
     last_use_time INTEGER,
     password_hash TEXT,
     user_data TEXT NOT NULL
   )`,
];

function fromRow(row: SharedTokenRow): SharedTokenRecord {
  return {
    token: row.token,
    owner: row.owner,
    ownerToken: row.owner_token,
    ownerTokenSession: row.owner_token_session,
    manifestId: row.manifest_id,
    description: row.description,
    creationTime: row.creation_time,
    expiryTime: row.expiry_time,
    downloadLimit: row.download_limit,
    downloadCount: row.download_count,
    lastUseTime: row.last_use_time,
    passwordHash: row.password_hash,
    userData: JSON.parse(row.user_data) as Record<string, string>,
  };
}

/**
 * Shared tokens (server.md §18), kept in memory and written through to the `shared_tokens` table
 * so they survive a restart. Checks of the caller's rights and of the manifest are the caller's
 * job; this store keeps records, expiry, passwords, download counts and the events.
 */
export class SharedTokenStore {
  private readonly tokens = new Map<string, SharedTokenRecord>();
  private readonly deleteListeners = new Set<SharedTokenDeleteListener>();

  constructor(
    private readonly database: ServerDatabase,
    private readonly clock: Clock,
    private readonly events: ServerEvents,
    /** `--api-disable-shared-tokens` */
    readonly disabled: boolean,
  ) {
    database.migrate("sharedTokens", MIGRATIONS);
    const rows = database.db.prepare("SELECT * FROM shared_tokens").all() as SharedTokenRow[];
    for (const row of rows) this.tokens.set(row.token, fromRow(row));
  }

  async create(spec: NewSharedToken): Promise<SharedTokenRecord> {
    const record: SharedTokenRecord = {
      token: newId(),
      owner: spec.owner,
      ownerToken: spec.ownerToken,
      ownerTokenSession: spec.ownerTokenSession,
      manifestId: spec.manifestId,
      description: spec.description,
      creationTime: this.clock.nowMicros(),
      expiryTime: spec.expiryTime,
      downloadLimit: spec.downloadLimit,
      downloadCount: 0,
      lastUseTime: null,
      passwordHash: spec.password === null ? null : await hashPassword(spec.password),
      userData: { ...spec.userData },
    };
    this.database.db
      .prepare(
        `INSERT INTO shared_tokens (token, owner, owner_token, owner_token_session, manifest_id,
           description, creation_time, expiry_time, download_limit, download_count, last_use_time,
           password_hash, user_data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.token,
        record.owner,
        record.ownerToken,
        record.ownerTokenSession,
        record.manifestId,
        record.description,
        record.creationTime,
        record.expiryTime,
        record.downloadLimit,
        record.downloadCount,
        record.lastUseTime,
        record.passwordHash,
        JSON.stringify(record.userData),
      );
    this.tokens.set(record.token, record);
    this.events.emit(
      "send.sharedTokenCreated",
      {
        tokenPrefix: tokenPrefix(record.token),
        manifestId: record.manifestId,
        expiryTime: record.expiryTime,
        downloadLimit: record.downloadLimit,
      },
      record.owner,
    );
    return record;
  }

  /** The record, expired or not; undefined when there is none. */
  find(token: string): SharedTokenRecord | undefined {
    return this.tokens.get(token);
  }

  isExpired(record: SharedTokenRecord): boolean {
    return record.expiryTime !== null && this.clock.nowMicros() >= record.expiryTime;
  }

  /** The record when it exists and has not expired. */
  live(token: string): SharedTokenRecord | null {
    const record = this.tokens.get(token);
    return record === undefined || this.isExpired(record) ? null : record;
  }

  /** Whether an unexpired token offers the manifest (it then counts as `referenced`). */
  offers(manifestId: string): boolean {
    for (const record of this.tokens.values())
      if (record.manifestId === manifestId && !this.isExpired(record)) return true;
    return false;
  }

  /** Every record (expired ones too), oldest first. */
  list(): SharedTokenRecord[] {
    return [...this.tokens.values()].sort((a, b) => a.creationTime - b.creationTime);
  }

  /** Whether `password` opens `record` (any password does when none is set). */
  async passwordMatches(record: SharedTokenRecord, password: string | null): Promise<boolean> {
    if (record.passwordHash === null) return true;
    if (password === null) return false;
    return verifyPassword(password, record.passwordHash);
  }

  /** Note a login with it. */
  touch(record: SharedTokenRecord): void {
    record.lastUseTime = this.clock.nowMicros();
    this.database.db
      .prepare("UPDATE shared_tokens SET last_use_time = ? WHERE token = ?")
      .run(record.lastUseTime, record.token);
  }

  /** Whether another transfer may be created with it (`downloadLimit` not reached). */
  hasDownloadsLeft(record: SharedTokenRecord): boolean {
    return record.downloadLimit === null || record.downloadCount < record.downloadLimit;
  }

  /** Count a transfer created with it and emit `send.sharedTokenUsed`. */
  countDownload(record: SharedTokenRecord, transferId: string, clientAddress: string): void {
    record.downloadCount += 1;
    this.database.db
      .prepare("UPDATE shared_tokens SET download_count = ? WHERE token = ?")
      .run(record.downloadCount, record.token);
    this.events.emit(
      "send.sharedTokenUsed",
      {
        tokenPrefix: tokenPrefix(record.token),
        manifestId: record.manifestId,
        transferId,
        downloadCount: record.downloadCount,
        clientAddress,
      },
      record.owner,
    );
  }

  setUserData(record: SharedTokenRecord, userData: Record<string, string>): void {
    record.userData = { ...userData };
    this.database.db
      .prepare("UPDATE shared_tokens SET user_data = ? WHERE token = ?")
      .run(JSON.stringify(record.userData), record.token);
  }

  /** Remove a token; listeners (the API: end its sessions) hear of it. False when unknown. */
  delete(token: string, reason: TokenDeleteReason): boolean {
    const record = this.tokens.get(token);
    if (record === undefined) return false;
    this.tokens.delete(token);
    this.database.db.prepare("DELETE FROM shared_tokens WHERE token = ?").run(token);
    this.events.emit("send.sharedTokenDeleted", { tokenPrefix: tokenPrefix(token), reason }, record.owner);
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
      const expired = record.expiryTime !== null && now >= record.expiryTime;
      if (expired && this.delete(record.token, "expired")) count++;
    }
    return count;
  }

  onDelete(listener: SharedTokenDeleteListener): () => void {
    this.deleteListeners.add(listener);
    return () => this.deleteListeners.delete(listener);
  }
}
