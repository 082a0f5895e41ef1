import Database from "better-sqlite3";
import { join } from "node:path";
import { StartupError } from "./errors.js";

export type SqliteDatabase = Database.Database;

/**
 * `<state-dir>/slipstream.db` (server.md §12): SQLite in WAL mode. Each component owns its
 * tables and brings them up to date with `migrate(component, steps)`: step i runs once, in order,
 * and the count of applied steps per component is kept in `schema_migrations`.
 */
export class ServerDatabase {
  readonly db: SqliteDatabase;

  constructor(readonly path: string) {
    try {
      this.db = new Database(path);
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("foreign_keys = ON");
      this.db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
      );
    } catch (error) {
      throw new StartupError(`cannot open database ${path}: ${String(error)}`);
    }
  }

  static open(stateDir: string): ServerDatabase {
    return new ServerDatabase(join(stateDir, "slipstream.db"));
  }

  /** Apply the steps of `component` not yet applied, each in a transaction. */
  migrate(component: string, steps: readonly string[]): void {
    const row = this.db
      .prepare("SELECT version FROM schema_migrations WHERE component = ?")
      .get(component) as { version: number } | undefined;
    const applied = row?.version ?? 0;
    const upsert = this.db.prepare(
      "INSERT INTO schema_migrations (component, version) VALUES (?, ?) " +
        "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
    );
    for (let i = applied; i < steps.length; i++) {
      this.db.transaction(() => {
        this.db.exec(steps[i]);
        upsert.run(component, i + 1);
      })();
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
