import type { ServerState } from "../../server/server-state.js";
import type { SessionStore } from "./sessions.js";

/**
 * Applies changes to the users file made while the server runs (server.md §6: picked up within
 * 5 s, at once on SIGHUP): sessions of removed users and of users whose password changed end;
 * users who may no longer elevate lose elevation.
 */
export class UsersWatcher {
  private fingerprint: string;
  private hashes: Map<string, string>;

  constructor(
    private readonly state: ServerState,
    private readonly sessions: SessionStore,
  ) {
    this.fingerprint = state.users.fingerprint();
    this.hashes = this.readHashes();
  }

  private readHashes(): Map<string, string> {
    try {
      return new Map(this.state.users.list().map((u) => [u.name, u.passwordHash]));
    } catch (error) {
      this.state.logger.warn({ component: "users", err: error }, "cannot read the users file");
      return this.hashes;
    }
  }

  /** Check the file now; `force` re-reads even when it looks unchanged. */
  check(force = false): void {
    const fingerprint = this.state.users.fingerprint();
    if (!force && fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    const before = this.hashes;
    this.hashes = this.readHashes();
    for (const [name, hash] of before) {
      if (this.hashes.get(name) !== hash) this.sessions.endUser(name);
    }
    for (const session of this.sessions.all()) {
      session.canElevate = this.state.canElevate(session.user);
      if (!session.canElevate) session.superuser = false;
    }
    this.state.logger.info({ component: "users" }, "users file reloaded");
  }
}
