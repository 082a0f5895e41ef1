/**
 * Positional arguments of a trigger run (api.md §7): per event, which entry fields go to $1, $2, …
 * An absent value is an empty string. `dest` is the destination's `IP:port`, `source` the
 * sender's, `client` the API client's `clientAddress`.
 */
import { isIPv6 } from "node:net";

type Fields = Record<string, unknown>;

/** The `IP:port` of a destination the entry names only by its id; null when unknown. */
export type DestinationLookup = (destinationId: string) => string | null;

type ArgumentList = (f: Fields, dest: () => string) => unknown[];

const source = (f: Fields): string =>
  f.sourceIP === undefined || f.sourceIP === null ? "" : hostPort(String(f.sourceIP), f.sourcePort);

const transferAtDest: ArgumentList = (f, dest) => [f.transferId, dest(), f.destinationPath];
const destinationChange: ArgumentList = (f, dest) => [dest(), f.clientAddress, f.destinationId];
const recvTransfer: ArgumentList = (f) => [f.transferId, source(f), f.rootPath];

const ARGUMENTS: Record<string, ArgumentList> = {
  launch: (f) => [f.apiPort, f.serverId, f.serverUid],
  shutdown: (f) => [f.reason],
  "auth.login": (f) => [f.user, f.clientAddress, f.authMethod],
  "auth.loginFailed": (f) => [f.user, f.clientAddress, f.reason],
  "auth.superuser": (f) => [f.user, f.clientAddress],
  "server.bandwidthLimitsUpdated": (f) => [f.incomingRateLimit, f.outgoingRateLimit],
  "server.sandboxMappingUpdated": (f) => [f.mappingUser],
  "server.apiTokenCreated": (f) => [f.tokenPrefix, f.owner],
  "server.apiTokenDeleted": (f) => [f.tokenPrefix, f.reason],
  "server.garbageCollected": (f) => [f.transfers, f.manifests],
  "send.destinationCreated": destinationChange,
  "send.destinationUpdated": destinationChange,
  "send.destinationDeleted": destinationChange,
  "send.connectionConnected": (f, dest) => [dest(), f.connectionId, f.lastDestinationServerUid],
  "send.connectionError": (f, dest) => [dest(), f.lastError, f.connectionId],
  "send.manifestCreated": (f) => [f.manifestId],
  "send.manifestComplete": (f) => [f.manifestId, f.totalFiles, f.totalSize],
  "send.manifestError": (f) => [f.manifestId, f.errorMessage],
  "send.manifestDeleted": (f) => [f.manifestId, f.reason],
  "send.transferCreated": transferAtDest,
  "send.transferQueued": transferAtDest,
  "send.transferStarted": transferAtDest,
  "send.transferSuspended": (f, dest) => [f.transferId, dest()],
  "send.transferResumed": (f, dest) => [f.transferId, dest()],
  "send.transferComplete": (f, dest) => [f.transferId, dest(), f.destinationPath, f.totalBytes],
  "send.transferError": (f, dest) => [f.transferId, dest(), f.destinationPath, f.errorMessage],
  "send.transferCancelled": transferAtDest,
  "send.transferDeleted": (f) => [f.transferId, f.reason],
  "send.sharedTokenCreated": (f) => [f.tokenPrefix, f.manifestId],
  "send.sharedTokenUsed": (f) => [f.tokenPrefix, f.transferId, f.clientAddress],
  "send.sharedTokenDeleted": (f) => [f.tokenPrefix, f.reason],
  "recv.sourceConnected": (f) => [source(f), f.sourceServerUid],
  "recv.clientRejected": (f) => [source(f), f.reason],
  "recv.authorizedClientAdded": (f) => [f.clientPublicKey, f.user],
  "recv.authorizedClientRemoved": (f) => [f.clientPublicKey],
  "recv.transferStarted": recvTransfer,
  "recv.fileComplete": (f) => [f.path, f.transferId, f.size, f.sha256],
  "recv.transferComplete": (f) => [...recvTransfer(f, () => ""), f.totalFiles, f.totalSize],
  "recv.transferError": (f) => [...recvTransfer(f, () => ""), f.lastErrorMessage],
  "recv.transferCancelled": recvTransfer,
};

/** `ip:port`, with brackets around an IPv6 address. */
function hostPort(ip: string, port: unknown): string {
  const host = isIPv6(ip) ? `[${ip}]` : ip;
  return port === undefined || port === null ? host : `${host}:${String(port)}`;
}

/** An argument as the script sees it; NUL cannot be passed to a process. */
export function argumentText(value: unknown): string {
  let text: string;
  if (value === undefined || value === null) text = "";
  else if (typeof value === "string") text = value;
  else if (typeof value === "number" || typeof value === "boolean") text = String(value);
  else text = JSON.stringify(value);
  return text.replaceAll("\0", "");
}

/** `dest` of an entry: its own IP and port when it has them, else what `lookup` knows. */
function destinationOf(f: Fields, lookup: DestinationLookup): string {
  if (typeof f.destinationIP === "string" && f.destinationIP !== "")
    return hostPort(f.destinationIP, f.destinationPort);
  if (typeof f.destinationId === "string") {
    const known = lookup(f.destinationId);
    if (known !== null) return known;
  }
  if (typeof f.destinationAddress === "string") return hostPort(f.destinationAddress, f.destinationPort);
  return "";
}

/** The positional arguments for event `name` with entry `fields`; none for an event not in §7. */
export function triggerArguments(
  name: string,
  fields: Fields,
  lookup: DestinationLookup = () => null,
): string[] {
  if (!Object.hasOwn(ARGUMENTS, name)) return [];
  return ARGUMENTS[name]!(fields, () => destinationOf(fields, lookup)).map(argumentText);
}
