import type { Clock } from "../../server/clock.js";
import { newId, newSecretHex } from "../../server/ids.js";
import type { Session } from "../schema/structures.js";

export type AuthMethod = Session["authMethod"];

/** A live session held by the server; `sessionKey` is the bearer secret. */
export interface SessionRecord {
  readonly sessionId: string;
  readonly sessionKey: string;
  readonly user: string;
  readonly authMethod: AuthMethod;
  readonly clientAddress: string;
  readonly creationTime: number;
  lastUseTime: number;
  canElevate: boolean;
  superuser: boolean;
  /** token sessions: the confining virtual path */
  readonly path: string | null;
  /** token sessions: granted permissions; null = unrestricted */
  readonly permissions: string[] | null;
  readonly token: string | null;
  /** token expiry, microseconds (caps expiryTime) */
  readonly tokenExpiryTime: number | null;
  ended: boolean;
}

export interface NewSession {
  user: string;
  authMethod: AuthMethod;
  clientAddress: string;
  canElevate: boolean;
  path?: string | null;
  permissions?: string[] | null;
  token?: string | null;
  tokenExpiryTime?: number | null;
}

export type SessionEndListener = (
  session: SessionRecord,
  reason: "logout" | "idle" | "user" | "token" | "shutdown",
) => void;

/**
 * Sessions (api.md §1.2): created by auth, found by key, ended by logout, by
 * `--api-session-idle-timeout` without a call, or when their user is removed or changes password.
 */
export class SessionStore {
  private readonly byKey = new Map<string, SessionRecord>();
  private readonly listeners = new Set<SessionEndListener>();

  constructor(
    private readonly clock: Clock,
    /** seconds */
    private readonly idleTimeout: number,
  ) {}

  create(spec: NewSession): SessionRecord {
    const now = this.clock.nowMicros();
    const record: SessionRecord = {
      sessionId: newId(),
      sessionKey: newSecretHex(32),
      user: spec.user,
      authMethod: spec.authMethod,
      clientAddress: spec.clientAddress,
      creationTime: now,
      lastUseTime: now,
      canElevate: spec.canElevate,
      superuser: false,
      path: spec.path ?? null,
      permissions: spec.permissions ?? null,
      token: spec.token ?? null,
      tokenExpiryTime: spec.tokenExpiryTime ?? null,
      ended: false,
    };
    this.byKey.set(record.sessionKey, record);
    return record;
  }

  expiryTime(session: SessionRecord): number {
    const idle = session.lastUseTime + Math.round(this.idleTimeout * 1_000_000);
    return session.tokenExpiryTime === null ? idle : Math.min(idle, session.tokenExpiryTime);
  }

  /** The session, if it is still live (an idle or ended one is dropped). */
  live(session: SessionRecord | null): SessionRecord | null {
    if (session === null || session.ended) return null;
    if (this.clock.nowMicros() >= this.expiryTime(session)) {
      this.end(session, "idle");
      return null;
    }
    return session;
  }

  byKeyLive(sessionKey: string): SessionRecord | null {
    return this.live(this.byKey.get(sessionKey) ?? null);
  }

  touch(session: SessionRecord): void {
    session.lastUseTime = this.clock.nowMicros();
  }

  end(session: SessionRecord, reason: Parameters<SessionEndListener>[1]): void {
    if (session.ended) return;
    session.ended = true;
    this.byKey.delete(session.sessionKey);
    for (const listener of this.listeners) listener(session, reason);
  }

  /** End every session of `user` (user removed, password changed). */
  endUser(user: string, reason: "user" | "token" = "user"): void {
    for (const session of [...this.byKey.values()]) if (session.user === user) this.end(session, reason);
  }

  /** End every session opened with `token` (the token was deleted). */
  endToken(token: string): void {
    for (const session of [...this.byKey.values()]) if (session.token === token) this.end(session, "token");
  }

  endAll(reason: Parameters<SessionEndListener>[1]): void {
    for (const session of [...this.byKey.values()]) this.end(session, reason);
  }

  /** Drop idle sessions (called periodically). */
  sweep(): void {
    for (const session of [...this.byKey.values()]) this.live(session);
  }

  all(): SessionRecord[] {
    return [...this.byKey.values()];
  }

  onEnd(listener: SessionEndListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The Session structure (api.md §5.1). */
  toStructure(session: SessionRecord, withKey: boolean): Session {
    return {
      authMethod: session.authMethod,
      canElevate: session.canElevate,
      clientAddress: session.clientAddress,
      creationTime: session.creationTime,
      expiryTime: this.expiryTime(session),
      lastUseTime: session.lastUseTime,
      path: session.path,
      permissions: session.permissions,
      sessionId: session.sessionId,
      ...(withKey ? { sessionKey: session.sessionKey } : {}),
      superuser: session.superuser,
      token: session.token,
      user: session.user,
    };
  }
}
