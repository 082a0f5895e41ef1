import type { Clock } from "./clock.js";
import type { EventLog, EventLogEntry } from "./event-log.js";
import type { Logger } from "./logger.js";

/** Kinds of statistics snapshot pushed to subscribers (api.md §1.8). */
export type SnapshotType = "transfer" | "connection" | "recvTransfer" | "source";

/** One snapshot of one object, published by the engine once per second while it changes. */
export interface SnapshotPublication {
  type: SnapshotType;
  /** object id: transferId, connectionId, … */
  id: string;
  /** user who may see it; null = superusers only */
  owner: string | null;
  /** the API structure (Transfer, Connection, ReceiveTransfer, Source) */
  object: unknown;
  /** the last snapshot of a transfer that reached a final status: never coalesced away */
  final?: boolean;
}

export type EventListener = (entry: EventLogEntry) => void;
export type SnapshotListener = (snapshot: SnapshotPublication) => void;

/**
 * The server's publish/subscribe hub. Whatever happens on the server is `emit`ted here once: the
 * entry is stored in the event log (when enabled), written to the server log at info level and
 * handed to every listener (WebSocket subscriptions, triggers). Snapshots go only to listeners.
 * A failing listener is logged and never disturbs the publisher.
 */
export class ServerEvents {
  private readonly eventListeners = new Set<EventListener>();
  private readonly snapshotListeners = new Set<SnapshotListener>();
  private memorySeq = 0;

  constructor(
    private readonly opts: { log: EventLog | null; serverId: string; clock: Clock; logger: Logger },
  ) {}

  get eventLogAvailable(): boolean {
    return this.opts.log !== null;
  }

  get eventLog(): EventLog | null {
    return this.opts.log;
  }

  /** Record event `name` (api.md §7) with its fields; `owner` null = visible to superusers only. */
  emit(name: string, fields: Record<string, unknown> = {}, owner: string | null = null): EventLogEntry {
    const base = {
      ...fields,
      _event: name,
      _serverId: this.opts.serverId,
      _timestamp: this.opts.clock.nowMicros(),
      owner,
    };
    let entry: EventLogEntry;
    try {
      entry = this.opts.log ? this.opts.log.append(base) : { ...base, _seq: ++this.memorySeq };
    } catch (error) {
      this.opts.logger.error({ err: error, event: name }, "cannot write the event log");
      entry = { ...base, _seq: ++this.memorySeq };
    }
    this.opts.logger.info({ component: "event", ...fields, owner }, name);
    for (const listener of this.eventListeners) {
      try {
        listener(entry);
      } catch (error) {
        this.opts.logger.error({ err: error, event: name }, "event listener failed");
      }
    }
    return entry;
  }

  publishSnapshot(snapshot: SnapshotPublication): void {
    for (const listener of this.snapshotListeners) {
      try {
        listener(snapshot);
      } catch (error) {
        this.opts.logger.error({ err: error, type: snapshot.type }, "snapshot listener failed");
      }
    }
  }

  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onSnapshot(listener: SnapshotListener): () => void {
    this.snapshotListeners.add(listener);
    return () => this.snapshotListeners.delete(listener);
  }

  /** true while someone listens for snapshots: the engine may skip building them otherwise */
  get hasSnapshotListeners(): boolean {
    return this.snapshotListeners.size > 0;
  }
}
