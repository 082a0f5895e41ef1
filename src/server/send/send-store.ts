/**
 * SQLite persistence of destinations, manifests (with their entries) and transfers (with their
 * per-file outcomes), in the server database. Records are JSON documents keyed by id; manifest
 * entries are rows, read a page at a time. With persistence off the tables are emptied at start.
 */
import type { ServerDatabase } from "../database.js";
import type {
  DestinationRecord,
  FileOutcome,
  ManifestEntry,
  ManifestRecord,
  TransferRecord,
} from "./records.js";

const MIGRATIONS = [
  `CREATE TABLE send_destinations (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE send_manifests (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE send_manifest_entries (
     manifest_id TEXT NOT NULL, idx INTEGER NOT NULL, src TEXT NOT NULL, local TEXT NOT NULL,
     dest TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL, empty_dir INTEGER NOT NULL,
     PRIMARY KEY (manifest_id, idx)) WITHOUT ROWID;
   CREATE TABLE send_transfers (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE send_transfer_files (
     transfer_id TEXT NOT NULL, idx INTEGER NOT NULL, doc TEXT NOT NULL,
     PRIMARY KEY (transfer_id, idx)) WITHOUT ROWID;`,
];

interface EntryRow {
  src: string;
  local: string;
  dest: string;
  size: number;
  mtime: number;
  empty_dir: number;
}

type Table = "send_destinations" | "send_manifests" | "send_transfers";

export class SendStore {
  private seq = 0;

  constructor(
    private readonly database: ServerDatabase,
    persistent: { destinations: boolean; transfers: boolean },
  ) {
    database.migrate("send", MIGRATIONS);
    const db = database.db;
    if (!persistent.destinations) db.exec("DELETE FROM send_destinations");
    if (!persistent.transfers) {
      db.exec(
        "DELETE FROM send_transfers; DELETE FROM send_transfer_files; DELETE FROM send_manifests; DELETE FROM send_manifest_entries",
      );
    }
    for (const table of ["send_destinations", "send_manifests", "send_transfers"] as const) {
      const row = db.prepare(`SELECT MAX(seq) AS seq FROM ${table}`).get() as { seq: number | null };
      this.seq = Math.max(this.seq, row.seq ?? 0);
    }
  }

  loadDestinations(): DestinationRecord[] {
    return this.load<DestinationRecord>("send_destinations");
  }

  loadManifests(): ManifestRecord[] {
    return this.load<ManifestRecord>("send_manifests");
  }

  loadTransfers(): TransferRecord[] {
    return this.load<TransferRecord>("send_transfers");
  }

  saveDestination(d: DestinationRecord): void {
    this.save("send_destinations", d.destinationId, d);
  }

  saveManifest(m: ManifestRecord): void {
    this.save("send_manifests", m.manifestId, m);
  }

  saveTransfer(t: TransferRecord): void {
    this.save("send_transfers", t.transferId, t);
  }

  deleteDestination(id: string): void {
    this.database.db.prepare("DELETE FROM send_destinations WHERE id = ?").run(id);
  }

  deleteManifest(id: string): void {
    this.database.db.transaction(() => {
      this.database.db.prepare("DELETE FROM send_manifests WHERE id = ?").run(id);
      this.database.db.prepare("DELETE FROM send_manifest_entries WHERE manifest_id = ?").run(id);
    })();
  }

  deleteTransfer(id: string): void {
    this.database.db.transaction(() => {
      this.database.db.prepare("DELETE FROM send_transfers WHERE id = ?").run(id);
      this.database.db.prepare("DELETE FROM send_transfer_files WHERE transfer_id = ?").run(id);
    })();
  }

  /** Stores the scanned entries and the completed manifest in one transaction. */
  completeManifest(m: ManifestRecord, entries: readonly ManifestEntry[]): void {
    const db = this.database.db;
    const insert = db.prepare(
      "INSERT INTO send_manifest_entries (manifest_id, idx, src, local, dest, size, mtime, empty_dir) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    db.transaction(() => {
      db.prepare("DELETE FROM send_manifest_entries WHERE manifest_id = ?").run(m.manifestId);
      entries.forEach((e, i) =>
        insert.run(
          m.manifestId,
          i,
          e.srcPath,
          e.localPath,
          e.destPath,
          e.fileSize,
          e.mtime,
          e.isEmptyDir ? 1 : 0,
        ),
      );
      this.save("send_manifests", m.manifestId, m);
    })();
  }

  manifestEntries(manifestId: string, offset = 0, limit = -1): ManifestEntry[] {
    const rows = this.database.db
      .prepare(
        "SELECT src, local, dest, size, mtime, empty_dir FROM send_manifest_entries WHERE manifest_id = ? AND idx >= ? ORDER BY idx LIMIT ?",
      )
      .all(manifestId, offset, limit) as EntryRow[];
    return rows.map((r) => ({
      srcPath: r.src,
      localPath: r.local,
      destPath: r.dest,
      fileSize: r.size,
      mtime: r.mtime,
      isEmptyDir: r.empty_dir === 1,
    }));
  }

  saveFileOutcomes(transferId: string, outcomes: readonly FileOutcome[]): void {
    if (outcomes.length === 0) return;
    const db = this.database.db;
    const upsert = db.prepare(
      "INSERT INTO send_transfer_files (transfer_id, idx, doc) VALUES (?, ?, ?) ON CONFLICT(transfer_id, idx) DO UPDATE SET doc = excluded.doc",
    );
    db.transaction(() => {
      for (const o of outcomes) upsert.run(transferId, o.index, JSON.stringify(o));
    })();
  }

  fileOutcomes(transferId: string): Map<number, FileOutcome> {
    const rows = this.database.db
      .prepare("SELECT doc FROM send_transfer_files WHERE transfer_id = ?")
      .all(transferId) as { doc: string }[];
    const map = new Map<number, FileOutcome>();
    for (const r of rows) {
      const o = JSON.parse(r.doc) as FileOutcome;
      map.set(o.index, o);
    }
    return map;
  }

  private load<T>(table: Table): T[] {
    const rows = this.database.db.prepare(`SELECT doc FROM ${table} ORDER BY seq`).all() as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  private save(table: Table, id: string, doc: object): void {
    this.database.db
      .prepare(
        `INSERT INTO ${table} (id, seq, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc`,
      )
      .run(id, ++this.seq, JSON.stringify(doc));
  }
}
