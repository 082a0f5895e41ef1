import type { ServerDatabase } from "./database.js";

/** api.md §5.16: the fixed keys of every entry plus the event's own fields (§7). */
export interface EventLogEntry extends NewEventLogEntry {
  _seq: number;
}

/** An entry before the log gave it its `_seq`. */
export interface NewEventLogEntry {
  _event: string;
  _serverId: string;
  _timestamp: number;
  owner: string | null;
  [field: string]: unknown;
}

export interface EventLogQuery {
  afterSeq: number;
  since: number | null;
  until: number | null;
  /** names or `prefix*` patterns; null = all */
  events: string[] | null;
  order: "asc" | "desc";
  offset: number;
  limit: number;
  /** null = every owner (elevated superuser); otherwise only entries owned by this user */
  owner: string | null;
}

const MIGRATIONS = [
  `CREATE TABLE event_log (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event TEXT NOT NULL,
     timestamp INTEGER NOT NULL,
     owner TEXT,
     entry TEXT NOT NULL
   );
   CREATE INDEX event_log_owner ON event_log (owner, seq);
   CREATE INDEX event_log_time ON event_log (timestamp);`,
];

/** True when `name` matches one of `patterns` (exact names, `prefix*`, or `*`). */
export function eventMatches(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p));
}

/**
 * The persistent event log (server.md §17). `_seq` comes from SQLite AUTOINCREMENT, so it keeps
 * increasing across restarts and is never reused, even after entries are removed.
 */
export class EventLog {
  constructor(private readonly database: ServerDatabase) {
    database.migrate("event_log", MIGRATIONS);
  }

  /** Store an entry; returns it with its `_seq`. */
  append(entry: NewEventLogEntry): EventLogEntry {
    const placeholder = this.database.db
      .prepare("INSERT INTO event_log (event, timestamp, owner, entry) VALUES (?, ?, ?, '')")
      .run(entry._event, entry._timestamp, entry.owner);
    const seq = Number(placeholder.lastInsertRowid);
    const full: EventLogEntry = { ...entry, _seq: seq };
    this.database.db.prepare("UPDATE event_log SET entry = ? WHERE seq = ?").run(JSON.stringify(full), seq);
    return full;
  }

  query(q: EventLogQuery): EventLogEntry[] {
    const where = ["seq > ?"];
    const args: (string | number)[] = [q.afterSeq];
    if (q.since !== null) {
      where.push("timestamp >= ?");
      args.push(q.since);
    }
    if (q.until !== null) {
      where.push("timestamp < ?");
      args.push(q.until);
    }
    if (q.owner !== null) {
      where.push("owner = ?");
      args.push(q.owner);
    }
    if (q.events !== null) {
      if (q.events.length === 0) return [];
      const alternatives = q.events.map((pattern) => {
        if (pattern.endsWith("*")) {
          args.push(pattern.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`) + "%");
          return "event LIKE ? ESCAPE '\\'";
        }
        args.push(pattern);
        return "event = ?";
      });
      where.push(`(${alternatives.join(" OR ")})`);
    }
    const order = q.order === "desc" ? "DESC" : "ASC";
    args.push(q.limit, q.offset);
    const rows = this.database.db
      .prepare(
        `SELECT entry FROM event_log WHERE ${where.join(" AND ")} ORDER BY seq ${order} LIMIT ? OFFSET ?`,
      )
      .all(...args) as { entry: string }[];
    return rows.map((row) => JSON.parse(row.entry) as EventLogEntry);
  }

  /** Remove entries older than `beforeTimestamp` and beyond the newest `maxEntries`; returns the count. */
  prune(beforeTimestamp: number | null, maxEntries: number | null): number {
    let removed = 0;
    if (beforeTimestamp !== null) {
      removed += this.database.db
        .prepare("DELETE FROM event_log WHERE timestamp < ?")
        .run(beforeTimestamp).changes;
    }
    if (maxEntries !== null) {
      removed += this.database.db
        .prepare(
          "DELETE FROM event_log WHERE seq <= (SELECT seq FROM event_log ORDER BY seq DESC LIMIT 1 OFFSET ?)",
        )
        .run(maxEntries).changes;
    }
    return removed;
  }
}
