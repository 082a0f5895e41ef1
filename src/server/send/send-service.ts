/**
 * The sending side of a server: destinations with their live connections, manifests and the
 * transfer queues, persisted in the server database. The API layer calls these services.
 */
import { Connection } from "../../core/transport/connection.js";
import { ServiceError } from "../errors.js";
import type { ServerState } from "../server-state.js";
import { canSee, type Caller } from "./caller.js";
import { DestinationService } from "./destination-service.js";
import { ManifestService } from "./manifest-service.js";
import type { UserData } from "./records.js";
import { viewForOwner } from "../tokens/index.js";
import { RelayPool } from "./relay-pool.js";
import { SendStore } from "./send-store.js";
import { TransferService } from "./transfer-service.js";

export class SendService {
  readonly store: SendStore;
  readonly destinations: DestinationService;
  readonly manifests: ManifestService;
  readonly transfers: TransferService;
  private readonly relays: RelayPool;

  constructor(state: ServerState) {
    const o = state.options;
    this.store = new SendStore(state.database, {
      destinations: o.persistentDestinations,
      transfers: o.persistentTransfers,
    });
    this.manifests = new ManifestService(this.store, state.events, state.logger, (owner, token) =>
      viewForOwner(state, owner, token),
    );
    this.relays = new RelayPool(state.serverKey, {
      relayPublicKey: o.sendRelayKey,
      keepaliveMs: o.keepaliveInterval * 1000,
    });
    let transfers: TransferService | null = null;
    this.destinations = new DestinationService(
      this.store,
      state.events,
      o,
      {
        datagramSize: o.datagramSize,
        keepaliveInterval: o.keepaliveInterval,
        peerTimeout: o.peerTimeout,
        stallTimeout: o.stallTimeout,
        recvBufferSize: o.socketRecvBuffer,
        sendBufferSize: o.socketSendBuffer,
        rateWindowSeconds: o.rateWindow,
        identity: { serverId: state.serverId, serverUid: state.serverUid },
        security:
          o.cipher === "none" && o.minCipher === "none"
            ? null
            : { keyPair: state.serverKey, minCipher: o.minCipher },
        relays: this.relays,
      },
      {
        counts: (id) => transfers?.counts(id) ?? { queued: 0, active: 0 },
        onSenderReady: (id, sender) => transfers?.onSenderReady(id, sender),
        onSenderEvent: (id, e) => {
          transfers?.onSenderEvent(id, e);
          if (e.type === "connected" || e.type === "disconnected") this.onConnectionChange(state, id, e);
        },
        onSnapshot: (_id, c) =>
          state.events.publishSnapshot({ type: "connection", id: c.connectionId, owner: c.owner, object: c }),
      },
    );
    this.transfers = transfers = new TransferService(
      this.store,
      state.events,
      state.logger,
      this.destinations,
      this.manifests,
      {
        datagramSize: o.datagramSize,
        blockSize: Connection.blockSizeFor(o.datagramSize),
        maxConcurrentTransfers: o.maxConcurrentTransfers,
        defaultCheckpointSeconds: o.checkpointFrequency,
        encrypted: !(o.cipher === "none" && o.minCipher === "none"),
        rateWindowSeconds: o.rateWindow,
      },
    );
  }

  start(): void {
    this.transfers.start();
    this.destinations.start();
  }

  async stop(): Promise<void> {
    this.transfers.stop();
    this.manifests.stop();
    await this.destinations.stop();
    await this.relays.close();
  }

  async deleteDestination(caller: Caller, destinationId: string, force: boolean): Promise<void> {
    const record = this.destinations.get(caller, destinationId);
    const unfinished = this.transfers.unfinishedOf(record.destinationId);
    if (unfinished.length > 0 && !force) {
      throw new ServiceError(
        "CONFLICT",
        `destination ${destinationId} has ${unfinished.length} unfinished transfer(s); cancel them or pass force: true`,
        "destinationId",
      );
    }
    for (const t of unfinished) this.transfers.failForDeletedDestination(t);
    await this.destinations.delete(caller, destinationId);
  }

  /** The user data of a destination, manifest or transfer, after `change`. */
  changeUserData(caller: Caller, objectId: string, change: (data: UserData) => UserData): UserData {
    const d = this.destinations.find(objectId);
    if (d && canSee(d, caller)) {
      d.userData = checkUserData(change(d.userData));
      this.destinations.save(d);
      return d.userData;
    }
    const m = this.manifests.manifests.get(objectId);
    if (m && canSee(m, caller)) {
      m.userData = checkUserData(change(m.userData));
      this.store.saveManifest(m);
      return m.userData;
    }
    const t = this.transfers.transfers.get(objectId);
    if (t && canSee(t, caller)) {
      t.userData = checkUserData(change(t.userData));
      this.store.saveTransfer(t);
      return t.userData;
    }
    throw new ServiceError(
      "NOT_FOUND",
      `no destination, manifest or transfer with id ${objectId}`,
      "objectId",
      {
        id: objectId,
      },
    );
  }

  private onConnectionChange(
    state: ServerState,
    destinationId: string,
    e: { type: "connected" } | { type: "disconnected"; code: string; message: string },
  ): void {
    const d = this.destinations.find(destinationId);
    if (!d) return;
    const link = this.destinations.link(destinationId);
    const stats = link?.current?.endpoint.connection?.peer;
    if (e.type === "connected") {
      state.events.emit(
        "send.connectionConnected",
        {
          connectionId: d.connectionId,
          destinationId,
          lastDestinationServerId: stats?.serverId ?? null,
          lastDestinationServerUid: stats?.serverUid ?? null,
          cipher: stats?.cipher ?? null,
        },
        d.owner,
      );
    } else if (e.code !== "closed") {
      state.events.emit(
        "send.connectionError",
        { connectionId: d.connectionId, destinationId, lastError: e.code, lastErrorMessage: e.message },
        d.owner,
      );
    }
  }
}

function checkUserData(data: UserData): UserData {
  const keys = Object.keys(data);
  if (keys.length > 64) throw new ServiceError("INVALID_ARGUMENT", "userData: at most 64 keys", "userData");
  return data;
}
