import type { ConnectionStructure } from "../../server/engine/connection-monitor.js";
import { ServiceError } from "../../server/errors.js";
import type { Caller } from "../../server/send/caller.js";
import type { DestinationRecord } from "../../server/send/records.js";
import type { SendService } from "../../server/send/send-service.js";
import { SharedDownloads } from "../../server/tokens/shared-downloads.js";
import type { MethodContext } from "../rpc/context.js";
import type { MethodRegistry } from "../rpc/registry.js";
import * as m from "../schema/send-methods.js";
import type { Destination, UserData } from "../schema/send-structures.js";
import { requireSession, servicesOf } from "./session-helpers.js";
import { registerSharedTokenMethods } from "./token-methods.js";

function caller(ctx: MethodContext): Caller {
  const s = requireSession(ctx);
  return { user: s.user, superuser: s.superuser, token: s.token, sessionId: s.sessionId };
}

/** A Destination: its settings plus the fields that mirror its connection's latest snapshot. */
export function destinationStructure(d: DestinationRecord, c: ConnectionStructure): Destination {
  const { keyLearned: _learned, ...settings } = d;
  return {
    ...settings,
    destinationIP: c.destinationIP || null,
    encryptedConnectionState: c.encryptedConnectionState,
    encryptionEnabled: c.encryptionEnabled,
    lastDestinationServerId: c.lastDestinationServerId,
    lastDestinationServerUid: c.lastDestinationServerUid,
    lastError: c.lastError,
    lastErrorMessage: c.lastErrorMessage,
    lastRecvTime: c.lastRecvTime,
    lastSendTime: c.lastSendTime,
    numTransfersActive: c.numTransfersActive,
    numTransfersQueued: c.numTransfersQueued,
    rateControllerActive: d.rateControlMethod !== "fixed",
    relayIP: c.relayIP,
    relayPort: d.relayHost === null ? null : d.relayPort,
    roundTripTimeMs: c.roundTripTimeMs,
  };
}

/** The token of a shared-token session, else null. */
function sharedToken(ctx: MethodContext): string | null {
  const s = requireSession(ctx);
  return s.authMethod === "sharedToken" ? s.token : null;
}

/**
 * send.* methods of api.md §3, with the shared tokens of §3.6 when the registry belongs to a
 * server (their sessions and links need its services).
 */
export function registerSendMethods(registry: MethodRegistry, send: SendService): void {
  const { destinations, manifests, transfers } = send;
  const dest = (d: DestinationRecord, ctx: MethodContext) =>
    destinationStructure(d, destinations.connection(caller(ctx), d.connectionId));
  const services = servicesOf(registry);
  const shared = services === undefined ? null : new SharedDownloads(services.state, send);
  if (shared !== null && services !== undefined) registerSharedTokenMethods(registry, shared, services);
  /** who reads a manifest: the caller, or for a shared-token session the owner of its manifest */
  const manifestReader = (ctx: MethodContext, manifestId: string): Caller => {
    const token = sharedToken(ctx);
    return token === null || shared === null
      ? caller(ctx)
      : shared.manifestCaller(token, caller(ctx), manifestId);
  };
  const changeUserData = (ctx: MethodContext, objectId: string, change: (data: UserData) => UserData) =>
    shared?.changeTokenUserData(caller(ctx), objectId, change) ??
    send.changeUserData(caller(ctx), objectId, change);

  registry.add(m.createDestinationMethod, (p, ctx) => dest(destinations.create(caller(ctx), p), ctx));
  registry.add(m.getDestinationMethod, (p, ctx) => dest(destinations.get(caller(ctx), p.destinationId), ctx));
  registry.add(m.getDestinationsMethod, (p, ctx) =>
    destinations.list(caller(ctx), p.owner, p.offset, p.limit).map((d) => dest(d, ctx)),
  );
  registry.add(m.updateDestinationMethod, ({ destinationId, ...patch }, ctx) =>
    dest(destinations.update(caller(ctx), destinationId, patch), ctx),
  );
  registry.add(m.deleteDestinationMethod, async (p, ctx) => {
    await send.deleteDestination(caller(ctx), p.destinationId, p.force);
    return null;
  });
  registry.add(m.getConnectionMethod, (p, ctx) => destinations.connection(caller(ctx), p.connectionId));
  registry.add(m.getConnectionsMethod, (p, ctx) => destinations.connections(caller(ctx), p));

  registry.add(m.createManifestMethod, (p, ctx) => manifests.create(caller(ctx), p.fileMappings, p.userData));
  registry.add(m.getManifestMethod, (p, ctx) =>
    manifests.view(manifests.get(manifestReader(ctx, p.manifestId), p.manifestId)),
  );
  registry.add(m.getManifestsMethod, (p, ctx) => {
    const token = sharedToken(ctx);
    return token === null || shared === null ? manifests.list(caller(ctx), p) : shared.manifests(token, p);
  });
  registry.add(m.getManifestFilesMethod, (p, ctx) =>
    manifests.files(manifestReader(ctx, p.manifestId), p.manifestId, p.offset, p.limit),
  );
  registry.add(m.waitForManifestMethod, (p, ctx) =>
    manifests.wait(caller(ctx), p.manifestId, p.timeoutSeconds, ctx.shutdownSignal),
  );
  registry.add(m.deleteManifestMethod, (p, ctx) => {
    shared?.refuseDeletingOffered(caller(ctx), p.manifestId);
    manifests.delete(caller(ctx), p.manifestId);
    return null;
  });

  registry.add(m.createTransferMethod, (p, ctx) => {
    const token = sharedToken(ctx);
    if (token === null || shared === null) return transfers.create(caller(ctx), p);
    return shared.createTransfer(token, caller(ctx), p, ctx.clientAddress);
  });
  registry.add(m.getTransferMethod, (p, ctx) => transfers.view(transfers.get(caller(ctx), p.transferId)));
  registry.add(m.getTransfersMethod, (p, ctx) => transfers.list(caller(ctx), p));
  registry.add(m.getTransferFilesMethod, (p, ctx) =>
    transfers.files(caller(ctx), p.transferId, p.status, p.offset, p.limit),
  );
  registry.add(m.waitForTransferMethod, (p, ctx) =>
    transfers.wait(caller(ctx), p.transferId, p.statuses, p.timeoutSeconds, ctx.shutdownSignal),
  );
  registry.add(m.suspendTransferMethod, (p, ctx) => transfers.suspend(caller(ctx), p.transferId));
  registry.add(m.resumeTransferMethod, (p, ctx) => transfers.resume(caller(ctx), p.transferId));
  registry.add(m.cancelTransferMethod, (p, ctx) => transfers.cancel(caller(ctx), p.transferId));
  registry.add(m.failTransferMethod, (p, ctx) => transfers.fail(caller(ctx), p.transferId, p.errorMessage));
  registry.add(m.deleteTransferMethod, (p, ctx) => {
    transfers.delete(caller(ctx), p.transferId);
    return null;
  });
  registry.add(m.setSendRateMethod, ({ transferId, destinationId, ...rates }, ctx) => {
    if ((transferId === undefined) === (destinationId === undefined)) {
      throw new ServiceError(
        "INVALID_ARGUMENT",
        "give exactly one of transferId and destinationId",
        "transferId",
      );
    }
    const who = caller(ctx);
    const transfer = transferId === undefined ? null : transfers.get(who, transferId);
    const id = transfer?.destinationId ?? destinationId!;
    if (transfer && !destinations.find(id)) {
      throw new ServiceError(
        "NOT_FOUND",
        `the destination of transfer ${transferId} was deleted`,
        "transferId",
      );
    }
    const updated = destinations.update(who, id, rates);
    return transfer ? transfers.view(transfer) : dest(updated, ctx);
  });

  registry.add(m.updateObjectUserDataMethod, (p, ctx) =>
    changeUserData(ctx, p.objectId, (data) => ({ ...data, ...p.userData })),
  );
  registry.add(m.deleteObjectUserDataMethod, (p, ctx) =>
    changeUserData(ctx, p.objectId, (data) =>
      Object.fromEntries(Object.entries(data).filter(([k]) => !p.keys.includes(k))),
    ),
  );
}
