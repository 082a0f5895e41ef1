/**
 * Destinations and their connections (api.md §3.1, §3.2): validation, the identity rule of
 * `createDestination`, persistence, and one ConnectionLink per destination.
 */
import { isIP } from "node:net";
import type { SenderEvent } from "../../core/endpoint/sender.js";
import { epochMicrosNow } from "../../io/drivers/clock.js";
import type { UdpSender } from "../../io/drivers/udp-sender.js";
import type { ConnectionStructure, TransferCounts } from "../engine/connection-monitor.js";
import { ServiceError } from "../errors.js";
import type { ServerEvents } from "../events.js";
import { newId } from "../ids.js";
import type { ServerOptions } from "../options/definitions.js";
import { type Caller, canSee, ownerFilter, ownershipOf, page, requireVisible } from "./caller.js";
import { ConnectionLink, type LinkConfig } from "./connection-link.js";
import type { DestinationRecord, DestinationSettings, UserData } from "./records.js";
import type { SendStore } from "./send-store.js";

const IDENTITY_KEYS = [
  "destinationPort",
  "destinationPublicKey",
  "relayHost",
  "relayPort",
  "localAddress",
  "localPort",
] as const satisfies readonly (keyof DestinationSettings)[];
const RECONNECT_KEYS: readonly (keyof DestinationSettings)[] = [
  "destinationAddress",
  ...IDENTITY_KEYS,
  "cipher",
];
const RATE_KEYS = ["sendRate", "sendRateMin", "sendRateMax", "rateControlMethod"] as const;

export type DestinationPatch = Partial<DestinationSettings> & { userData?: UserData };

export interface DestinationHooks {
  counts(destinationId: string): TransferCounts;
  onSenderReady(destinationId: string, sender: UdpSender): void;
  onSenderEvent(destinationId: string, e: SenderEvent): void;
  onSnapshot(destinationId: string, c: ConnectionStructure): void;
}

interface Entry {
  record: DestinationRecord;
  link: ConnectionLink;
}

export class DestinationService {
  private readonly entries = new Map<string, Entry>();
  private readonly byConnection = new Map<string, string>();

  constructor(
    private readonly store: SendStore,
    private readonly events: ServerEvents,
    private readonly options: ServerOptions,
    private readonly linkConfig: LinkConfig,
    private readonly hooks: DestinationHooks,
  ) {}

  /** Opens the connections of the stored destinations. */
  start(): void {
    for (const record of this.store.loadDestinations()) this.attach(record);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.link.close()));
    this.entries.clear();
  }

  create(caller: Caller, params: DestinationPatch & { destinationAddress: string }): DestinationRecord {
    const o = this.options;
    const settings: DestinationSettings = {
      destinationAddress: params.destinationAddress,
      destinationPort: params.destinationPort ?? 8886,
      destinationPublicKey: params.destinationPublicKey ?? null,
      cipher: params.cipher ?? (o.cipher === "chacha20-poly1305" ? "chacha20-poly1305" : "aes-256-gcm"),
      rateControlMethod: params.rateControlMethod ?? o.defaultRateControl,
      sendRate: params.sendRate ?? o.defaultSendRate,
      sendRateMin: params.sendRateMin ?? o.defaultSendRateMin,
      sendRateMax: params.sendRateMax ?? o.defaultSendRateMax,
      relayHost: params.relayHost === "" ? null : (params.relayHost ?? o.sendRelayHost),
      relayPort: params.relayPort ?? o.sendRelayPort,
      localAddress: params.localAddress ?? null,
      localPort: params.localPort ?? 0,
      maxActiveTransfers: params.maxActiveTransfers ?? 1,
    };
    this.validate(settings);
    const same = this.findIdentity(caller, settings);
    if (same) {
      const differs = (Object.keys(settings) as (keyof DestinationSettings)[]).some(
        (k) =>
          k !== "destinationAddress" &&
          settings[k] !== same.record[k] &&
          !(k === "destinationPublicKey" && settings[k] === null && same.record.keyLearned),
      );
      if (differs || (params.userData && !sameUserData(params.userData, same.record.userData))) {
        throw new ServiceError(
          "CONFLICT",
          `destination ${same.record.destinationId} already exists for this receiver with other settings; use send.updateDestination`,
          undefined,
          { id: same.record.destinationId },
        );
      }
      return same.record;
    }
    const record: DestinationRecord = {
      ...settings,
      destinationId: newId(),
      connectionId: newId(),
      ...ownershipOf(caller),
      creationTime: epochMicrosNow(),
      userData: params.userData ?? {},
    };
    this.store.saveDestination(record);
    this.attach(record);
    this.events.emit(
      "send.destinationCreated",
      {
        destinationId: record.destinationId,
        destinationAddress: record.destinationAddress,
        destinationIP: isIP(record.destinationAddress) ? record.destinationAddress : null,
        destinationPort: record.destinationPort,
      },
      record.owner,
    );
    return record;
  }

  get(caller: Caller, destinationId: string): DestinationRecord {
    const entry = this.entries.get(destinationId);
    return requireVisible(entry?.record, caller, "destination", destinationId, "destinationId");
  }

  /** A destination without the ownership check (the transfer service's own lookups). */
  find(destinationId: string): DestinationRecord | undefined {
    return this.entries.get(destinationId)?.record;
  }

  link(destinationId: string): ConnectionLink | undefined {
    return this.entries.get(destinationId)?.link;
  }

  list(caller: Caller, owner: string | undefined, offset: number, limit: number): DestinationRecord[] {
    const mine = ownerFilter(caller, owner);
    return page([...this.entries.values()].map((e) => e.record).filter(mine), offset, limit);
  }

  connection(caller: Caller, connectionId: string): ConnectionStructure {
    const destinationId = this.byConnection.get(connectionId);
    const entry = destinationId ? this.entries.get(destinationId) : undefined;
    requireVisible(entry?.record, caller, "connection", connectionId, "connectionId");
    return entry!.link.monitor.snapshot;
  }

  connections(
    caller: Caller,
    o: { destinationId: string | null; owner?: string; offset: number; limit: number },
  ): ConnectionStructure[] {
    const mine = ownerFilter(caller, o.owner);
    const list = [...this.entries.values()].filter(
      (e) => mine(e.record) && (o.destinationId === null || e.record.destinationId === o.destinationId),
    );
    return page(list, o.offset, o.limit).map((e) => e.link.monitor.snapshot);
  }

  update(caller: Caller, destinationId: string, patch: DestinationPatch): DestinationRecord {
    const record = this.get(caller, destinationId);
    const next: DestinationRecord = { ...record };
    for (const [key, value] of Object.entries(patch) as [keyof DestinationPatch, unknown][]) {
      if (value === undefined) continue;
      if (key === "relayHost" && value === "") next.relayHost = null;
      else (next as unknown as Record<string, unknown>)[key] = value;
    }
    this.validate(next);
    const same = this.findIdentity(caller, next);
    if (same && same.record.destinationId !== destinationId) {
      throw new ServiceError(
        "CONFLICT",
        `destination ${same.record.destinationId} already has this identity`,
        undefined,
        { id: same.record.destinationId },
      );
    }
    const changed = (Object.keys(next) as (keyof DestinationRecord)[]).filter(
      (k) => JSON.stringify(next[k]) !== JSON.stringify(record[k]),
    );
    if (changed.length === 0) return record;
    Object.assign(record, next);
    if (changed.includes("destinationPublicKey")) record.keyLearned = false;
    this.store.saveDestination(record);
    const entry = this.entries.get(destinationId)!;
    if (changed.some((k) => RECONNECT_KEYS.includes(k as keyof DestinationSettings))) entry.link.reopen();
    else if (changed.some((k) => (RATE_KEYS as readonly string[]).includes(k))) entry.link.applyRates(record);
    this.events.emit("send.destinationUpdated", { destinationId, changed }, record.owner);
    return record;
  }

  /** Removes the destination and closes its connection (the caller checked its transfers). */
  async delete(caller: Caller, destinationId: string): Promise<void> {
    const record = this.get(caller, destinationId);
    const entry = this.entries.get(destinationId)!;
    const ip = entry.link.destinationIP;
    this.entries.delete(destinationId);
    this.byConnection.delete(record.connectionId);
    this.store.deleteDestination(destinationId);
    await entry.link.close();
    this.events.emit(
      "send.destinationDeleted",
      { destinationId, destinationIP: ip, destinationPort: record.destinationPort },
      record.owner,
    );
  }

  save(record: DestinationRecord): void {
    this.store.saveDestination(record);
  }

  private attach(record: DestinationRecord): void {
    const id = record.destinationId;
    const link = new ConnectionLink(() => record, this.linkConfig, {
      counts: () => this.hooks.counts(id),
      onSnapshot: (c) => this.hooks.onSnapshot(id, c),
      onEvent: (e) => this.hooks.onSenderEvent(id, e),
      onReplaced: (sender) => this.hooks.onSenderReady(id, sender),
      onKeyLearned: (key) => {
        if (record.destinationPublicKey !== null) return;
        record.destinationPublicKey = key;
        record.keyLearned = true;
        this.store.saveDestination(record);
        this.events.emit(
          "send.destinationUpdated",
          { destinationId: id, changed: ["destinationPublicKey"] },
          record.owner,
        );
      },
    });
    this.entries.set(id, { record, link });
    this.byConnection.set(record.connectionId, id);
  }

  /**
   * The caller's destination with this identity. Only one the caller can see: a token session
   * must not be handed (or told the id of) a destination its user made in another session.
   */
  private findIdentity(caller: Caller, s: DestinationSettings): Entry | undefined {
    for (const entry of this.entries.values()) {
      const r = entry.record;
      if (r.owner !== caller.user || !canSee(r, caller)) continue;
      if (r.destinationAddress.toLowerCase() !== s.destinationAddress.toLowerCase()) continue;
      // a key learned on first use still matches a request that gave none
      const sameKey = (k: (typeof IDENTITY_KEYS)[number]) =>
        r[k] === s[k] || (k === "destinationPublicKey" && s[k] === null && r.keyLearned === true);
      if (IDENTITY_KEYS.every(sameKey)) return entry;
    }
    return undefined;
  }

  private validate(s: DestinationSettings): void {
    if (!(s.sendRateMin <= s.sendRate && s.sendRate <= s.sendRateMax)) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        `rates out of order: need sendRateMin (${s.sendRateMin}) ≤ sendRate (${s.sendRate}) ≤ sendRateMax (${s.sendRateMax}) kbps`,
        "sendRate",
      );
    }
    if (!isHostName(s.destinationAddress)) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        `destinationAddress '${s.destinationAddress}' is not a host name or IP address`,
        "destinationAddress",
      );
    }
    if (s.localAddress !== null && !isIP(s.localAddress)) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        `localAddress '${s.localAddress}' is not an IP address`,
        "localAddress",
      );
    }
    if (s.relayHost !== null && s.destinationPublicKey === null) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        "destinationPublicKey is required with a relay: relays only carry sessions authenticated by the receiver's key",
        "destinationPublicKey",
      );
    }
    if (this.options.strictDestinationKeys && s.destinationPublicKey === null) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        "destinationPublicKey is required: this server runs with --strict-destination-keys",
        "destinationPublicKey",
      );
    }
  }
}

function isHostName(value: string): boolean {
  if (isIP(value)) return true;
  return /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/.test(
    value,
  );
}

function sameUserData(a: UserData, b: UserData): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
