/**
 * Shared tokens meet the sending side (api.md §1.4 "shared token", §3.6): creating them on a
 * manifest, what a shared-token session may reach (its manifest, its own destinations and
 * transfers), download counting, and the manifests they keep `referenced`.
 */
import { ServiceError } from "../errors.js";
import { canSee, type Caller, ownerFilter, ownershipOf, page } from "../send/caller.js";
import type { ManifestView } from "../send/manifest-service.js";
import type { UserData } from "../send/records.js";
import type { SendService } from "../send/send-service.js";
import type { CreateTransferParams, TransferView } from "../send/transfer-service.js";
import type { ServerState } from "../server-state.js";
import type { SharedTokenRecord, SharedTokenStore } from "./shared-token-store.js";
import { apiTokensOf, sharedTokensOf } from "./token-access.js";

export interface SharedTokenSpec {
  manifestId: string;
  description: string;
  expiryTime: number | null;
  downloadLimit: number | null;
  password: string | null;
  userData: UserData;
}

export interface SharedTokenFilter {
  manifestId: string | null;
  owner?: string;
  includeExpired: boolean;
  offset: number;
  limit: number;
}

function noManifest(manifestId: string): ServiceError {
  return new ServiceError("NOT_FOUND", `no manifest with manifestId ${manifestId}`, "manifestId", {
    id: manifestId,
  });
}

function checkUserData(data: UserData): UserData {
  if (Object.keys(data).length > 64)
    throw new ServiceError("INVALID_ARGUMENT", "userData: at most 64 keys", "userData");
  return data;
}

export class SharedDownloads {
  readonly tokens: SharedTokenStore;

  constructor(
    private readonly state: ServerState,
    private readonly send: SendService,
  ) {
    this.tokens = sharedTokensOf(state);
    const usedByTransfers = send.manifests.isReferenced;
    send.manifests.isReferenced = (id) => usedByTransfers(id) || this.tokens.offers(id);
  }

  /** A new shared token on a manifest the caller sees (NOT_FOUND) that has not failed (CONFLICT). */
  async create(caller: Caller, spec: SharedTokenSpec): Promise<SharedTokenRecord> {
    const manifest = this.send.manifests.get(caller, spec.manifestId);
    if (manifest.status === "error") {
      throw new ServiceError(
        "CONFLICT",
        `manifest ${spec.manifestId} failed (${manifest.errorMessage}): nothing to share`,
        "manifestId",
      );
    }
    return this.tokens.create({ ...ownershipOf(caller), ...spec });
  }

  /** The shared token if the caller may see it (api.md §1.3 owner), else NOT_FOUND. */
  visible(caller: Caller, token: string): SharedTokenRecord {
    const record = this.tokens.find(token);
    if (record === undefined || !canSee(record, caller))
      throw new ServiceError("NOT_FOUND", "no shared token with that value", "token");
    return record;
  }

  list(caller: Caller, filter: SharedTokenFilter): SharedTokenRecord[] {
    const mine = ownerFilter(caller, filter.owner);
    const wanted = this.tokens
      .list()
      .filter((r) => mine(r))
      .filter((r) => filter.manifestId === null || r.manifestId === filter.manifestId)
      .filter((r) => filter.includeExpired || !this.tokens.isExpired(r));
    return page(wanted, filter.offset, filter.limit);
  }

  /**
   * The caller through which a shared-token session reads its manifest: the manifest's own
   * owner. Any other manifest id is NOT_FOUND.
   */
  manifestCaller(sharedToken: string, session: Caller, manifestId: string): Caller {
    const record = this.tokens.find(sharedToken);
    const manifest = this.send.manifests.manifests.get(manifestId);
    if (record === undefined || record.manifestId !== manifestId || manifest === undefined)
      throw noManifest(manifestId);
    return {
      user: manifest.owner,
      superuser: false,
      token: manifest.ownerToken,
      sessionId: session.sessionId,
    };
  }

  /**
   * `send.getManifests` of a shared-token session: the one manifest its token offers (the link
   * carries only the token, so this is how its holder finds the manifestId).
   */
  manifests(
    sharedToken: string,
    filter: { status?: string[]; offset: number; limit: number },
  ): ManifestView[] {
    const record = this.tokens.find(sharedToken);
    const manifest = record && this.send.manifests.manifests.get(record.manifestId);
    if (manifest === undefined || (filter.status && !filter.status.includes(manifest.status))) return [];
    return page([manifest], filter.offset, filter.limit).map((m) => this.send.manifests.view(m));
  }

  /**
   * `send.createTransfer` of a shared-token session: its manifest only, to one of its own
   * destinations, while the download limit allows; counts one download.
   */
  createTransfer(
    sharedToken: string,
    session: Caller,
    params: CreateTransferParams,
    clientAddress: string,
  ): TransferView {
    const record = this.tokens.live(sharedToken);
    if (record === null) throw new ServiceError("FORBIDDEN", "this shared token has expired or was revoked");
    if (params.manifestId !== record.manifestId || !this.send.manifests.manifests.has(params.manifestId))
      throw noManifest(params.manifestId);
    if (!this.tokens.hasDownloadsLeft(record)) {
      throw new ServiceError(
        "FORBIDDEN",
        `the download limit of this shared token (${record.downloadLimit}) is reached`,
      );
    }
    this.send.destinations.get(session, params.destinationId);
    // The manifest belongs to the token's owner and the destination to the token session: the
    // transfer is made as the owner (who sees both), then handed to the token that asked for it.
    const asOwner: Caller = {
      user: record.owner,
      superuser: true,
      token: null,
      sessionId: session.sessionId,
    };
    const { transferId } = this.send.transfers.create(asOwner, params);
    const transfer = this.send.transfers.transfers.get(transferId);
    if (transfer === undefined) throw new Error(`transfer ${transferId} vanished on creation`);
    Object.assign(transfer, ownershipOf(session));
    this.send.store.saveTransfer(transfer);
    this.tokens.countDownload(record, transferId, clientAddress);
    return this.send.transfers.view(transfer);
  }

  /** `send.deleteManifest` refuses a manifest a live shared token offers (CONFLICT). */
  refuseDeletingOffered(caller: Caller, manifestId: string): void {
    this.send.manifests.get(caller, manifestId);
    if (this.tokens.offers(manifestId)) {
      throw new ServiceError(
        "CONFLICT",
        `manifest ${manifestId} is offered by a live shared token; delete the token first`,
        "manifestId",
      );
    }
  }

  /**
   * User data of a shared or API token the caller owns (`send.updateObjectUserData`), after
   * `change`; null when `objectId` is no such token.
   */
  changeTokenUserData(
    caller: Caller,
    objectId: string,
    change: (data: UserData) => UserData,
  ): UserData | null {
    const shared = this.tokens.find(objectId);
    if (shared !== undefined && canSee(shared, caller)) {
      this.tokens.setUserData(shared, checkUserData(change({ ...shared.userData })));
      return { ...shared.userData };
    }
    const apiTokens = apiTokensOf(this.state);
    const api = apiTokens.find(objectId);
    if (api !== undefined && canSee(api, caller)) {
      apiTokens.setUserData(api, checkUserData(change({ ...api.userData })));
      return { ...api.userData };
    }
    return null;
  }
}
