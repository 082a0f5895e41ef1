import type { IncomingMessage } from "node:http";
import type { SessionRecord, SessionStore } from "../auth/sessions.js";
import type { CallContext } from "../rpc/context.js";
import { API_VERSION, MIN_API_VERSION } from "../../server/version.js";
import { formatAddress, normalizeIp } from "./addresses.js";

export const API_VERSION_HEADER = "slipstream-api-version";

/** A message when the client's Slipstream-Api-Version is outside [minApiVersion, apiVersion], else null. */
export function apiVersionMismatch(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header[0] : header;
  const version = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (Number.isInteger(version) && version >= MIN_API_VERSION && version <= API_VERSION) return null;
  return `client API version ${JSON.stringify(text)} is not served: this server speaks versions ${MIN_API_VERSION} to ${API_VERSION}`;
}

/** The session named by `Authorization: Bearer <sessionKey>`, if live. */
export function sessionFromHeader(req: IncomingMessage, sessions: SessionStore): SessionRecord | null {
  const header = req.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer\s+([0-9a-f]{64})\s*$/i.exec(header);
  return match ? sessions.byKeyLive(match[1].toLowerCase()) : null;
}

export function callContextFor(
  req: IncomingMessage,
  sessions: SessionStore,
  transport: "http" | "websocket",
  socketId: string | null,
): CallContext {
  const clientIp = normalizeIp(req.socket.remoteAddress);
  return {
    transport,
    clientIp,
    clientAddress: formatAddress(clientIp, req.socket.remotePort),
    binding: { session: sessionFromHeader(req, sessions) },
    socketId,
    apiVersionMismatch: apiVersionMismatch(req.headers[API_VERSION_HEADER]),
  };
}
