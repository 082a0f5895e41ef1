import type { Clock } from "../clock.js";
import type { ServerDatabase } from "../database.js";
import type { ServerEvents } from "../events.js";
import { newId } from "../ids.js";
import { hashPassword } from "../passwords.js";
import { TokenTable, tokenPrefix, type TokenTableDeleteListener } from "./token-table.js";

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

export type SharedTokenDeleteListener = TokenTableDeleteListener<SharedTokenRecord>;

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
export class SharedTokenStore extends TokenTable<SharedTokenRecord, SharedTokenRow> {
  constructor(
    database: ServerDatabase,
    clock: Clock,
    events: ServerEvents,
    /** `--api-disable-shared-tokens` */
    readonly disabled: boolean,
  ) {
    super(database, clock, events, {
      component: "sharedTokens",
      migrations: MIGRATIONS,
      table: "shared_tokens",
      deletedEvent: "send.sharedTokenDeleted",
      fromRow,
    });
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

  /** Whether an unexpired token offers the manifest (it then counts as `referenced`). */
  offers(manifestId: string): boolean {
    for (const record of this.tokens.values())
      if (record.manifestId === manifestId && !this.isExpired(record)) return true;
    return false;
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
}
