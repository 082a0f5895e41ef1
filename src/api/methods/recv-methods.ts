import type { RecvCaller, RecvService } from "../../server/recv/recv-service.js";
import type { MethodContext } from "../rpc/context.js";
import type { MethodRegistry } from "../rpc/registry.js";
import * as m from "../schema/recv-methods.js";
import { requireSession } from "./session-helpers.js";

function caller(ctx: MethodContext): RecvCaller {
  const s = requireSession(ctx);
  return { user: s.user, superuser: s.superuser };
}

/** recv.* methods of api.md §4. */
export function registerRecvMethods(registry: MethodRegistry, recv: RecvService): void {
  registry.add(m.recvGetTransfersMethod, (p, ctx) => {
    const who = caller(ctx);
    const statuses = p.status;
    return recv.records.list(
      (v) =>
        (who.superuser || v.receivingUser === who.user) &&
        (statuses === undefined || statuses.includes(v.status)) &&
        (p.sourceServerUid === null || v.sourceServerUid === p.sourceServerUid),
      p.offset,
      p.limit,
    );
  });
  registry.add(m.recvGetTransferMethod, (p, ctx) => ({ ...recv.visibleTransfer(caller(ctx), p.transferId) }));
  registry.add(m.recvGetSourcesMethod, (p) => recv.getSources(p.offset, p.limit).map((s) => ({ ...s })));
  registry.add(m.recvGetAuthorizedClientsMethod, (p) =>
    recv.clients
      .list()
      .slice(p.offset, p.offset + p.limit)
      .map((c) => ({ ...c })),
  );
  registry.add(m.recvAddAuthorizedClientMethod, (p, ctx) => ({
    ...recv.addClient(caller(ctx), p.clientPublicKey, p.user, p.description),
  }));
  registry.add(m.recvRemoveAuthorizedClientMethod, (p) => {
    recv.removeClient(p.clientPublicKey);
    return null;
  });
  registry.add(m.recvAllowOnlyAuthorizedClientsMethod, (p) => {
    recv.clients.setOnlyAuthorizedAllowed(p.onlyAuthorizedClientsAllowed);
    return null;
  });
}
