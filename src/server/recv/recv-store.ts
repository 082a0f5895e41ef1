/**
 * SQLite persistence of the receiving side (server.md §12): receive records (JSON documents by
 * transferId), the authorised-clients allow-list and the allow-list flag. With
 * `--persistent-transfers` off the receive records are emptied at start; the allow-list is always kept.
 */
import type { ServerDatabase } from "../database.js";
import type { AuthorizedClientRecord, ReceiveRecordDoc } from "./recv-records.js";

const MIGRATIONS = [
  `CREATE TABLE recv_transfers (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE recv_authorized_clients (public_key TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE recv_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

type Table = "recv_transfers" | "recv_authorized_clients";

export class RecvStore {
  private seq = 0;

  constructor(
    private readonly database: ServerDatabase,
    persistentTransfers: boolean,
  ) {
    database.migrate("recv", MIGRATIONS);
    const db = database.db;
    if (!persistentTransfers) db.exec("DELETE FROM recv_transfers");
    for (const table of ["recv_transfers", "recv_authorized_clients"] as const) {
      const row = db.prepare(`SELECT MAX(seq) AS seq FROM ${table}`).get() as { seq: number | null };
      this.seq = Math.max(this.seq, row.seq ?? 0);
    }
  }

  loadTransfers(): ReceiveRecordDoc[] {
    return this.load<ReceiveRecordDoc>("recv_transfers");
  }

  saveTransfer(doc: ReceiveRecordDoc): void {
    this.save("recv_transfers", "id", doc.view.transferId, doc);
  }

  deleteTransfer(id: string): void {
    if (!this.database.db.open) return;
    this.database.db.prepare("DELETE FROM recv_transfers WHERE id = ?").run(id);
  }

  loadClients(): AuthorizedClientRecord[] {
    return this.load<AuthorizedClientRecord>("recv_authorized_clients");
  }

  saveClient(client: AuthorizedClientRecord): void {
    this.save("recv_authorized_clients", "public_key", client.clientPublicKey, client);
  }

  deleteClient(publicKey: string): void {
    this.database.db.prepare("DELETE FROM recv_authorized_clients WHERE public_key = ?").run(publicKey);
  }

  setting(name: string): string | null {
    const row = this.database.db.prepare("SELECT value FROM recv_settings WHERE name = ?").get(name) as
      { value: string } | undefined;
    return row?.value ?? null;
  }

  setSetting(name: string, value: string): void {
    this.database.db
      .prepare(
        "INSERT INTO recv_settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
      )
      .run(name, value);
  }

  private load<T>(table: Table): T[] {
    const rows = this.database.db.prepare(`SELECT doc FROM ${table} ORDER BY seq`).all() as Array<{
      doc: string;
    }>;
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  /** Insert or replace; an existing row keeps its place in the order. */
  private save(table: Table, key: string, id: string, doc: unknown): void {
    // a verdict that lands while the server shuts down, after the database closed
    if (!this.database.db.open) return;
    this.database.db
      .prepare(
        `INSERT INTO ${table} (${key}, seq, doc) VALUES (?, ?, ?) ON CONFLICT(${key}) DO UPDATE SET doc = excluded.doc`,
      )
      .run(id, ++this.seq, JSON.stringify(doc));
  }
}
