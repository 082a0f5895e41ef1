/**
 * The GC settings in the server database (server.md §12: kept across restarts), one row per
 * setting once they were changed, plus the time of the last pass.
 */
import type { ServerDatabase } from "../database.js";
import { DEFAULT_GC_SETTINGS, GC_SETTING_KEYS, type GarbageCollectSettingsValues } from "./gc-settings.js";

const MIGRATIONS = [`CREATE TABLE gc_settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`];

const LAST_RUN = "lastRunTime";

export class GcSettingsStore {
  constructor(private readonly database: ServerDatabase) {
    database.migrate("gc", MIGRATIONS);
  }

  load(): { settings: GarbageCollectSettingsValues; lastRunTime: number | null } {
    const rows = this.database.db.prepare("SELECT name, value FROM gc_settings").all() as {
      name: string;
      value: number;
    }[];
    const stored = new Map(rows.map((row) => [row.name, row.value]));
    const settings = { ...DEFAULT_GC_SETTINGS };
    for (const key of GC_SETTING_KEYS) {
      const value = stored.get(key);
      if (value !== undefined) settings[key] = value;
    }
    return { settings, lastRunTime: stored.get(LAST_RUN) ?? null };
  }

  saveSettings(settings: GarbageCollectSettingsValues): void {
    this.database.db.transaction(() => {
      for (const key of GC_SETTING_KEYS) this.put(key, settings[key]);
    })();
  }

  saveLastRunTime(time: number): void {
    this.put(LAST_RUN, time);
  }

  private put(name: string, value: number): void {
    // a pass finishing while the server shuts down, after the database closed
    if (!this.database.db.open) return;
    this.database.db
      .prepare(
        "INSERT INTO gc_settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
      )
      .run(name, value);
  }
}
