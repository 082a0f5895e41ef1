/**
 * What the sending side adds to the server's background work: its records join the collection
 * pass (server.md §13), and triggers learn where a destination is (`dest`, api.md §7). Call once
 * the SendService exists: `attachSendService(server.state, service)`.
 */
import { isIPv6 } from "node:net";
import { garbageCollectorOf, manifestExpiryTime, sendCollector, transferExpiryTime } from "../gc/index.js";
import type { SendService } from "../send/send-service.js";
import type { ServerState } from "../server-state.js";
import { sharedTokensOf } from "../tokens/index.js";
import { triggersOf } from "../triggers/index.js";

export function attachSendService(state: ServerState, service: SendService): () => void {
  const gc = garbageCollectorOf(state);
  const isManifestShared = (manifestId: string) => sharedTokensOf(state).offers(manifestId);
  const unregister = gc.register(sendCollector(service, { events: state.events, isManifestShared }));
  service.transfers.expiryTimeOf = (t) => transferExpiryTime(t, gc.current);
  service.manifests.expiryTimeOf = (m) =>
    manifestExpiryTime(m, service.transfers.transfers.values(), gc.current, isManifestShared(m.manifestId));
  triggersOf(state)?.setDestinationLookup((destinationId) => {
    const record = service.destinations.find(destinationId);
    if (record === undefined) return null;
    const host = service.destinations.link(destinationId)?.destinationIP ?? record.destinationAddress;
    return `${isIPv6(host) ? `[${host}]` : host}:${record.destinationPort}`;
  });
  return unregister;
}
