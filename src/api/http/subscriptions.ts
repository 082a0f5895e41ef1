import type { EventLogEntry } from "../../server/event-log.js";
import { eventMatches } from "../../server/event-log.js";
import type { ServerEvents, SnapshotPublication, SnapshotType } from "../../server/events.js";
import { newId } from "../../server/ids.js";
import type { Logger } from "../../server/logger.js";
import type { SessionRecord, SessionStore } from "../auth/sessions.js";
import { ApiError } from "../rpc/errors.js";

/** A socket notifications can be pushed to. */
export interface PushTarget {
  readonly id: string;
  /** `done` runs when the frame has been handed to the OS (or failed) */
  send(text: string, done: (error?: Error) => void): void;
  /** bytes queued but not yet sent */
  bufferedAmount(): number;
  isOpen(): boolean;
}

export type SnapshotSelector = "transfers" | "connections" | "recvTransfers" | "sources";

const SELECTOR_OF: Record<SnapshotType, SnapshotSelector> = {
  transfer: "transfers",
  connection: "connections",
  recvTransfer: "recvTransfers",
  source: "sources",
};

interface Subscription {
  readonly subscriptionId: string;
  readonly session: SessionRecord;
  readonly events: string[];
  readonly snapshots: SnapshotSelector[];
  readonly ids: string[] | null;
  /** event frames handed to the socket but not yet written */
  undelivered: number;
}

interface TargetState {
  readonly target: PushTarget;
  readonly subscriptions: Map<string, Subscription>;
  /** newest snapshot per subscription and object while the socket is slow */
  readonly pendingSnapshots: Map<string, string>;
  flushTimer: NodeJS.Timeout | null;
}

export interface SubscriptionLimits {
  /** more undelivered events than this loses the subscription (api.md §1.8) */
  maxUndelivered: number;
  /** above this many buffered bytes, snapshots are coalesced */
  slowSocketBytes: number;
  flushIntervalMs: number;
}

const DEFAULT_LIMITS: SubscriptionLimits = {
  maxUndelivered: 10_000,
  slowSocketBytes: 1 << 20,
  flushIntervalMs: 100,
};

function notification(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", method, params });
}

function visibleTo(session: SessionRecord, owner: string | null): boolean {
  return session.superuser || (owner !== null && owner === session.user);
}

/**
 * WebSocket subscriptions (api.md §2.4, §1.8): forwards event-log entries and engine snapshots
 * published on ServerEvents to the sockets whose subscriptions select them and whose session may
 * see them. Slow sockets get only the newest snapshot per object; events are never dropped unless
 * the subscription is lost.
 */
export class SubscriptionHub {
  private readonly targets = new Map<string, TargetState>();
  private readonly unhook: (() => void)[];
  private readonly limits: SubscriptionLimits;

  constructor(
    events: ServerEvents,
    sessions: SessionStore,
    private readonly logger: Logger,
    limits: Partial<SubscriptionLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.unhook = [
      events.onEvent((entry) => this.pushEvent(entry)),
      events.onSnapshot((snapshot) => this.pushSnapshot(snapshot)),
      sessions.onEnd((session) => this.endSession(session.sessionId)),
    ];
  }

  attach(target: PushTarget): void {
    this.targets.set(target.id, {
      target,
      subscriptions: new Map(),
      pendingSnapshots: new Map(),
      flushTimer: null,
    });
  }

  detach(targetId: string): void {
    const state = this.targets.get(targetId);
    if (state?.flushTimer) clearTimeout(state.flushTimer);
    this.targets.delete(targetId);
  }

  subscribe(
    targetId: string,
    session: SessionRecord,
    filters: { events: string[]; snapshots: SnapshotSelector[]; ids: string[] | null },
  ): string {
    const state = this.targets.get(targetId);
    if (!state) throw new ApiError("UNAVAILABLE", "subscribe needs a WebSocket connection");
    const subscriptionId = newId();
    state.subscriptions.set(subscriptionId, { subscriptionId, session, ...filters, undelivered: 0 });
    return subscriptionId;
  }

  unsubscribe(subscriptionId: string, session: SessionRecord): void {
    for (const state of this.targets.values()) {
      const subscription = state.subscriptions.get(subscriptionId);
      if (subscription && (subscription.session.user === session.user || session.superuser)) {
        state.subscriptions.delete(subscriptionId);
        return;
      }
    }
    throw ApiError.notFound(`unknown subscription ${subscriptionId}`, subscriptionId);
  }

  /** Count of live subscriptions (tests, diagnostics). */
  get subscriptionCount(): number {
    let count = 0;
    for (const state of this.targets.values()) count += state.subscriptions.size;
    return count;
  }

  close(): void {
    for (const unhook of this.unhook) unhook();
    for (const id of [...this.targets.keys()]) this.detach(id);
  }

  private endSession(sessionId: string): void {
    for (const state of this.targets.values()) {
      for (const [id, subscription] of state.subscriptions) {
        if (subscription.session.sessionId === sessionId) state.subscriptions.delete(id);
      }
    }
  }

  private pushEvent(entry: EventLogEntry): void {
    for (const state of this.targets.values()) {
      if (!state.target.isOpen()) continue;
      for (const subscription of [...state.subscriptions.values()]) {
        if (!eventMatches(entry._event, subscription.events) || !visibleTo(subscription.session, entry.owner))
          continue;
        if (subscription.undelivered >= this.limits.maxUndelivered) {
          this.lose(state, subscription);
          continue;
        }
        subscription.undelivered++;
        state.target.send(
          notification("event", { subscriptionId: subscription.subscriptionId, entry }),
          () => {
            subscription.undelivered--;
          },
        );
      }
    }
  }

  private lose(state: TargetState, subscription: Subscription): void {
    state.subscriptions.delete(subscription.subscriptionId);
    this.logger.warn(
      { component: "api", subscriptionId: subscription.subscriptionId },
      "subscription lost: client too far behind",
    );
    const params = {
      subscriptionId: subscription.subscriptionId,
      reason: "more than 10,000 undelivered events",
    };
    state.target.send(notification("subscriptionLost", params), () => undefined);
  }

  private pushSnapshot(snapshot: SnapshotPublication): void {
    const selector = SELECTOR_OF[snapshot.type];
    for (const state of this.targets.values()) {
      if (!state.target.isOpen()) continue;
      for (const subscription of state.subscriptions.values()) {
        if (!subscription.snapshots.includes(selector)) continue;
        if (subscription.ids !== null && !subscription.ids.includes(snapshot.id)) continue;
        if (!visibleTo(subscription.session, snapshot.owner)) continue;
        const text = notification("snapshot", {
          subscriptionId: subscription.subscriptionId,
          type: snapshot.type,
          object: snapshot.object,
        });
        const key = `${subscription.subscriptionId}:${snapshot.type}:${snapshot.id}`;
        if (
          state.pendingSnapshots.size === 0 &&
          state.target.bufferedAmount() < this.limits.slowSocketBytes
        ) {
          state.target.send(text, () => undefined);
        } else {
          state.pendingSnapshots.delete(key); // re-insert: keeps flush order by recency
          state.pendingSnapshots.set(key, text);
          this.scheduleFlush(state);
        }
      }
    }
  }

  private scheduleFlush(state: TargetState): void {
    if (state.flushTimer !== null) return;
    state.flushTimer = setTimeout(() => {
      state.flushTimer = null;
      if (!state.target.isOpen()) {
        state.pendingSnapshots.clear();
        return;
      }
      for (const [key, text] of state.pendingSnapshots) {
        if (state.target.bufferedAmount() >= this.limits.slowSocketBytes) break;
        state.pendingSnapshots.delete(key);
        state.target.send(text, () => undefined);
      }
      if (state.pendingSnapshots.size > 0) this.scheduleFlush(state);
    }, this.limits.flushIntervalMs);
  }
}
