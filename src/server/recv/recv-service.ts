/**
 * The receiving side of the server: the UDP receive ports (encrypted with the server's key, the
 * allow-list enforced in the handshake), receive records measured once per second, sources,
 * events (api.md §7.3) and persistence. API handlers only call the methods of this class.
 */
import type { PeerInfo } from "../../core/transport/handshake.js";
import type { IncomingTransfer } from "../../core/endpoint/receiver.js";
import { monotonicMicros, toEpochMicros } from "../../io/drivers/clock.js";
import { formatPublicKey } from "../../io/keys.js";
import {
  UdpReceiver,
  type AdmitDecision,
  type FileVerified,
  type TransferEnd,
  type UdpReceiverOptions,
} from "../../io/drivers/udp-receiver.js";
import { ServiceError } from "../errors.js";
import type { ServerState } from "../server-state.js";
import { admitFor, judgeKey, tokenAdmission, type Refusal, type TransferAdmission } from "./admission.js";
import { verifyReceiveToken } from "../tokens/index.js";
import { AuthorizedClients } from "./authorized-clients.js";
import { RecvRecords } from "./recv-records-service.js";
import { RecvStore } from "./recv-store.js";
import { splitAddress, type AuthorizedClientRecord } from "./recv-records.js";
import { SourceTracker, type SourceView } from "./sources.js";

export const RECV_TRANSFER_EXPIRY_SECONDS = 3600;

export interface RecvCaller {
  user: string;
  superuser: boolean;
}

interface LiveSession {
  receiver: UdpReceiver;
  publicKey: string | null;
  sourceServerUid: string | null;
  ip: string;
  port: number;
}

export type ReceiverOptionsBase = Omit<UdpReceiverOptions, "port" | "checkpointDir">;

export class RecvService {
  readonly clients: AuthorizedClients;
  readonly records: RecvRecords;
  readonly receivers: UdpReceiver[] = [];
  private readonly store: RecvStore;
  private readonly sessions = new Map<string, LiveSession>();
  private readonly sources = new Map<string, SourceTracker>();
  /** keys refused by the handshake policy, in order, to name them in recv.clientRejected */
  private readonly refusedKeys: Array<{ code: string; key: string | null }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly state: ServerState,
    expirySeconds = RECV_TRANSFER_EXPIRY_SECONDS,
  ) {
    const o = state.options;
    this.store = new RecvStore(state.database, o.persistentTransfers);
    this.clients = new AuthorizedClients(this.store, state.users, o.recvOnlyAuthorizedClients);
    this.records = new RecvRecords(this.store, state.events, {
      expirySeconds,
      rateWindowSeconds: o.rateWindow,
      checkpointSeconds: Math.max(1, o.checkpointFrequency),
      clock: state.clock,
    });
    for (const r of this.records.all()) {
      if (r.sourceServerUid) this.sourceFor(r.sourceServerUid, r.startTime).noteRecord(r);
    }
  }

  /** Opens one receiver per port; `base` holds the socket and connection settings. */
  async open(
    ports: readonly number[],
    base: ReceiverOptionsBase,
    checkpointDirOf: (port: number) => string,
    /** a receive-side relay's transport for a port, instead of the port's own socket */
    transportFor?: (port: number) => UdpReceiverOptions["transport"],
  ): Promise<void> {
    const o = this.state.options;
    // relays only carry encrypted sessions
    const minCipher = transportFor && o.minCipher === "none" ? "chacha20-poly1305" : o.minCipher;
    for (const port of ports) {
      let self: UdpReceiver | null = null;
      const transport = transportFor?.(port);
      const receiver = await UdpReceiver.open({
        ...base,
        ...(transport ? { transport } : {}),
        port,
        checkpointDir: checkpointDirOf(port),
        security: {
          keyPair: this.state.serverKey,
          minCipher,
          authorize: (key) => this.refuseKey(formatPublicKey(key)),
        },
        admitSession: (peer) => (peer.publicKey === null ? this.refuseKey(null) : null),
        onSessionEvent: (e) => {
          if (e.type === "sessionOpened" && self) this.onSessionOpened(self, e.session, e.from, e.peer);
          else if (e.type === "sessionClosed") this.onSessionClosed(e.session);
          else if (e.type === "sessionRejected") this.onSessionRejected(e.from, e.code);
        },
        admitTransfer: (transfer, peer, session) =>
          self
            ? this.admitTransfer(self, transfer, peer, session)
            : { code: "RECEIVER_BUSY", message: "the receiver is starting" },
      });
      self = receiver;
      receiver.onTransferEnded = (end: TransferEnd) => this.records.ended(end);
      receiver.onFileVerified = (f: FileVerified) => this.records.fileVerified(f);
      receiver.onFileFailed = (f) => this.records.fileFailed(f.transfer, f.code, f.message);
      this.receivers.push(receiver);
    }
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.tick();
    await Promise.all(this.receivers.map((r) => r.close()));
    // verdicts still finishing (a file close, a rename) land before the records are saved
    await new Promise((resolve) => setTimeout(resolve, 50));
    this.records.saveAll();
    this.receivers.length = 0;
  }

  // API operations ---------------------------------------------------------------------------------

  getSources(offset: number, limit: number): SourceView[] {
    return [...this.sources.values()]
      .map((s) => s.view)
      .sort((a, b) => a.firstSeenTime - b.firstSeenTime)
      .slice(offset, offset + limit);
  }

  addClient(
    caller: RecvCaller,
    key: string,
    user: string | null,
    description: string,
  ): AuthorizedClientRecord {
    const client = this.clients.add(key, user, description, caller.user, this.state.clock.nowMicros());
    this.state.events.emit(
      "recv.authorizedClientAdded",
      { clientPublicKey: client.clientPublicKey, user: client.user },
      null,
    );
    return client;
  }

  removeClient(key: string): void {
    const removed = this.clients.remove(key);
    this.state.events.emit("recv.authorizedClientRemoved", { clientPublicKey: removed }, null);
    if (!this.clients.onlyAuthorizedAllowed) return;
    for (const [id, s] of this.sessions) {
      if (s.publicKey === removed) {
        s.receiver.closeSession(
          id,
          "NOT_AUTHORIZED",
          "this sender's key was removed from the receiver's allow-list",
        );
      }
    }
  }

  // receiver callbacks -------------------------------------------------------------------------------

  private refuseKey(key: string | null): Refusal | null {
    const refusal = judgeKey(this.clients, key);
    if (refusal) {
      if (this.refusedKeys.length > 256) this.refusedKeys.shift();
      this.refusedKeys.push({ code: refusal.code, key });
    }
    return refusal;
  }

  private onSessionOpened(receiver: UdpReceiver, session: string, from: string, peer: PeerInfo): void {
    const { ip, port } = splitAddress(from);
    this.sessions.set(session, {
      receiver,
      publicKey: peer.publicKey,
      sourceServerUid: peer.serverUid,
      ip,
      port,
    });
    const now = this.state.clock.nowMicros();
    const connection = receiver.endpoint.session(session);
    if (peer.serverUid && connection)
      this.sourceFor(peer.serverUid, now).opened(session, connection, ip, port);
    if (peer.publicKey) this.clients.seen(peer.publicKey, now);
    this.state.events.emit(
      "recv.sourceConnected",
      {
        sourceIP: ip,
        sourcePort: port,
        sourceServerUid: peer.serverUid,
        sourcePublicKey: peer.publicKey,
        authorized: peer.publicKey !== null && this.clients.find(peer.publicKey) !== undefined,
      },
      null,
    );
  }

  private onSessionClosed(session: string): void {
    const s = this.sessions.get(session);
    if (!s) return;
    this.sessions.delete(session);
    if (s.sourceServerUid) this.sources.get(s.sourceServerUid)?.closed(session);
  }

  private onSessionRejected(from: string, code: string): void {
    const head = this.refusedKeys[0];
    const key = head && head.code === code ? (this.refusedKeys.shift()?.key ?? null) : null;
    this.rejected(from, key, code);
  }

  private rejected(from: string, key: string | null, reason: string): void {
    const { ip, port } = splitAddress(from);
    this.state.events.emit(
      "recv.clientRejected",
      { sourceIP: ip, sourcePort: port, sourcePublicKey: key, reason },
      null,
    );
  }

  private admitTransfer(
    receiver: UdpReceiver,
    transfer: IncomingTransfer,
    peer: PeerInfo | null,
    session: string,
  ): AdmitDecision | Promise<AdmitDecision> {
    const key = peer?.publicKey ?? null;
    const live = this.sessions.get(session);
    // a receive token (only ever on an encrypted session) writes as its owner, below its path
    const token = transfer.receiveToken;
    if (token) {
      return verifyReceiveToken(this.state, token.token, token.password).then((grant) =>
        this.decide(receiver, transfer, peer, live, key, tokenAdmission(grant)),
      );
    }
    return this.decide(receiver, transfer, peer, live, key, admitFor(this.state, this.clients, key));
  }

  private decide(
    receiver: UdpReceiver,
    transfer: IncomingTransfer,
    peer: PeerInfo | null,
    live: { ip: string; port: number } | undefined,
    key: string | null,
    decision: TransferAdmission,
  ): AdmitDecision {
    if (!("code" in decision)) decision = this.busyOr(transfer.id, decision);
    if ("code" in decision) {
      this.records.refusedAtAdmission(transfer.id);
      this.rejected(live ? `${live.ip}:${live.port}` : "", key, decision.code);
      return decision;
    }
    this.records.admitted(receiver, transfer, {
      receivingUser: decision.user,
      sandboxRoot: decision.root,
      sourceIP: live?.ip ?? "",
      sourcePort: live?.port ?? 0,
      peer,
    });
    return { root: decision.root };
  }

  /**
   * --max-incoming-transfers: beyond it a new transfer is answered RECEIVER_BUSY (its sender
   * queues it again and retries with backoff); one already receiving here (a resume) is let in.
   */
  private busyOr(transferId: string, admission: TransferAdmission): TransferAdmission {
    const max = this.state.options.maxIncomingTransfers;
    const receiving = this.records
      .all()
      .filter((r) => r.status === "receiving" && r.transferId !== transferId);
    if (receiving.length < max) return admission;
    return {
      code: "RECEIVER_BUSY",
      message: `the receiver has ${receiving.length} transfers receiving (--max-incoming-transfers ${max}); retry later`,
    };
  }

  // once per second ------------------------------------------------------------------------------------

  private tick(): void {
    const nowMonotonic = monotonicMicros();
    const now = toEpochMicros(nowMonotonic);
    const bySource = this.records.tick(nowMonotonic);
    for (const [uid, source] of this.sources) {
      const mine = this.records.all().filter((r) => r.sourceServerUid === uid);
      const sample = bySource.get(uid) ?? { bytes: 0, seconds: 1, active: false };
      const key = source.view.sourcePublicKey;
      source.update(
        now,
        mine,
        sample.bytes,
        sample.seconds,
        sample.active,
        key !== null && this.clients.find(key) !== undefined,
        this.state.options.rateWindow,
        this.state.options.peerTimeout * 1e6,
      );
      this.state.events.publishSnapshot({ type: "source", id: uid, owner: null, object: { ...source.view } });
    }
  }

  private sourceFor(uid: string, firstSeen: number): SourceTracker {
    let s = this.sources.get(uid);
    if (!s) {
      s = new SourceTracker(uid, firstSeen);
      this.sources.set(uid, s);
    }
    return s;
  }

  /** The caller's view of one record: its receiving user or a superuser, else NOT_FOUND. */
  visibleTransfer(caller: RecvCaller, transferId: string) {
    const r = this.records.get(transferId);
    if (!r || (!caller.superuser && r.receivingUser !== caller.user)) {
      throw new ServiceError(
        "NOT_FOUND",
        `no received transfer with transferId ${transferId}`,
        "transferId",
        {
          id: transferId,
        },
      );
    }
    return r;
  }
}
