import type { Clock } from "../clock.js";
import type { ServerDatabase } from "../database.js";
import type { ServerEvents } from "../events.js";
import { newId } from "../ids.js";
import { hashPassword } from "../passwords.js";
import { TokenTable, tokenPrefix, type TokenTableDeleteListener } from "./token-table.js";

export { tokenPrefix, type TokenDeleteReason } from "./token-table.js";

/** Token-session permissions (api.md §1.4). */
export const TOKEN_PERMISSIONS = ["download", "upload", "modify", "share"] as const;
export type ApiTokenPermission = (typeof TOKEN_PERMISSIONS)[number];

/** One API token (api.md §5.15, `tokenType: "api"`); the password only as its scrypt hash. */
export interface ApiTokenRecord {
  readonly token: string;
  readonly owner: string;
  readonly ownerToken: string | null;
  readonly ownerTokenSession: string | null;
  readonly permissions: readonly ApiTokenPermission[];
  /** confining virtual path in the owner's view, normalised (`/a/b`) */
  readonly path: string;
  readonly description: string;
  readonly creationTime: number;
  /** microseconds; null = never */
  readonly expiryTime: number | null;
  /** last login (or receive) with it; null = never used */
  lastUseTime: number | null;
  readonly passwordHash: string | null;
  userData: Readonly<Record<string, string>>;
}

export interface NewApiToken {
  owner: string;
  permissions: readonly ApiTokenPermission[];
  path: string;
  description: string;
  expiryTime: number | null;
  password: string | null;
  userData: Record<string, string>;
}

export type TokenDeleteListener = TokenTableDeleteListener<ApiTokenRecord>;

interface TokenRow {
  token: string;
  owner: string;
  owner_token: string | null;
  owner_token_session: string | null;
  permissions: string;
  path: string;
  description: string;
  creation_time: number;
  expiry_time: number | null;
  last_use_time: number | null;
  password_hash: string | null;
  user_data: string;
}

const MIGRATIONS = [
  `CREATE TABLE api_tokens (
     token TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     owner_token TEXT,
     owner_token_session TEXT,
     permissions TEXT NOT NULL,
     path TEXT NOT NULL,
     description TEXT NOT NULL,
     creation_time INTEGER NOT NULL,
     expiry_time INTEGER,
     last_use_time INTEGER,
     password_hash TEXT,
     user_data TEXT NOT NULL
   )`,
];

function isPermission(value: string): value is ApiTokenPermission {
  return (TOKEN_PERMISSIONS as readonly string[]).includes(value);
}

function fromRow(row: TokenRow): ApiTokenRecord {
  const permissions = (JSON.parse(row.permissions) as string[]).filter(isPermission);
  return {
    token: row.token,
    owner: row.owner,
    ownerToken: row.owner_token,
    ownerTokenSession: row.owner_token_session,
    permissions,
    path: row.path,
    description: row.description,
    creationTime: row.creation_time,
    expiryTime: row.expiry_time,
    lastUseTime: row.last_use_time,
    passwordHash: row.password_hash,
    userData: JSON.parse(row.user_data) as Record<string, string>,
  };
}

/**
 * API tokens (server.md §18), kept in memory and written through to the `api_tokens` table so
 * they survive a restart. Checks of the caller's rights and of the path are the caller's job;
 * this store keeps records, expiry, passwords and the events.
 */
export class ApiTokenStore extends TokenTable<ApiTokenRecord, TokenRow> {
  constructor(
    database: ServerDatabase,
    clock: Clock,
    events: ServerEvents,
    /** `--api-disable-api-tokens` */
    readonly disabled: boolean,
  ) {
    super(database, clock, events, {
      component: "tokens",
      migrations: MIGRATIONS,
      table: "api_tokens",
      deletedEvent: "server.apiTokenDeleted",
      fromRow,
    });
  }

  async create(spec: NewApiToken): Promise<ApiTokenRecord> {
    const record: ApiTokenRecord = {
      token: newId(),
      owner: spec.owner,
      ownerToken: null,
      ownerTokenSession: null,
      permissions: [...new Set(spec.permissions)],
      path: spec.path,
      description: spec.description,
      creationTime: this.clock.nowMicros(),
      expiryTime: spec.expiryTime,
      lastUseTime: null,
      passwordHash: spec.password === null ? null : await hashPassword(spec.password),
      userData: { ...spec.userData },
    };
    this.database.db
      .prepare(
        `INSERT INTO api_tokens (token, owner, owner_token, owner_token_session, permissions, path,
           description, creation_time, expiry_time, last_use_time, password_hash, user_data)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        record.token,
        record.owner,
        record.ownerToken,
        record.ownerTokenSession,
        JSON.stringify(record.permissions),
        record.path,
        record.description,
        record.creationTime,
        record.expiryTime,
        record.lastUseTime,
        record.passwordHash,
        JSON.stringify(record.userData),
      );
    this.tokens.set(record.token, record);
    this.events.emit(
      "server.apiTokenCreated",
      {
        tokenPrefix: tokenPrefix(record.token),
        permissions: record.permissions,
        path: record.path,
        expiryTime: record.expiryTime,
      },
      record.owner,
    );
    return record;
  }
}
