import { ServiceError } from "../../server/errors.js";
import type { Caller } from "../../server/send/caller.js";
import type { SharedDownloads } from "../../server/tokens/shared-downloads.js";
import {
  apiTokensOf,
  existingVirtualPath,
  sharedTokensOf,
  type ApiTokenRecord,
  type SharedTokenRecord,
} from "../../server/tokens/index.js";
import type { TokenTable, TokenTableRecord } from "../../server/tokens/token-table.js";
import type { AuthMethod, SessionRecord } from "../auth/sessions.js";
import type { MethodContext } from "../rpc/context.js";
import { ApiError } from "../rpc/errors.js";
import type { MethodRegistry } from "../rpc/registry.js";
import { SHARED_TOKEN_GRANT } from "../schema/define.js";
import {
  authTokenMethod,
  createAPITokenMethod,
  createSharedTokenMethod,
  deleteAPITokenMethod,
  deleteSharedTokenMethod,
  getAPITokenMethod,
  getAPITokensMethod,
  getSharedTokenMethod,
  getSharedTokensMethod,
  type Token,
} from "../schema/token-methods.js";
import type { ApiServices } from "../services.js";
import { attachServices, delay, requireSession } from "./session-helpers.js";

/** The Token structure of an API token (api.md §5.15); the only place a token string is returned. */
export function apiTokenStructure(record: ApiTokenRecord): Token {
  return {
    creationTime: record.creationTime,
    description: record.description,
    downloadCount: null,
    downloadLimit: null,
    expiryTime: record.expiryTime,
    lastUseTime: record.lastUseTime,
    link: null,
    manifestId: null,
    owner: record.owner,
    ownerToken: record.ownerToken,
    ownerTokenSession: record.ownerTokenSession,
    passwordRequired: record.passwordHash !== null,
    path: record.path,
    permissions: [...record.permissions],
    token: record.token,
    tokenType: "api",
    userData: { ...record.userData },
  };
}

/** The Token structure of a shared token (api.md §5.15), with its `slipstream://` link. */
export function sharedTokenStructure(record: SharedTokenRecord, linkAddress: string): Token {
  return {
    creationTime: record.creationTime,
    description: record.description,
    downloadCount: record.downloadCount,
    downloadLimit: record.downloadLimit,
    expiryTime: record.expiryTime,
    lastUseTime: record.lastUseTime,
    link: `slipstream://${linkAddress}/download?token=${record.token}`,
    manifestId: record.manifestId,
    owner: record.owner,
    ownerToken: record.ownerToken,
    ownerTokenSession: record.ownerTokenSession,
    passwordRequired: record.passwordHash !== null,
    path: null,
    permissions: ["download"],
    token: record.token,
    tokenType: "shared",
    userData: { ...record.userData },
  };
}

/**
 * A token's expiry from `expirySeconds`/`expiryTime` (absolute wins; it must lie ahead). `0`
 * seconds means never, which only an elevated superuser may ask for.
 */
function expiryFrom(
  now: number,
  p: { expirySeconds: number; expiryTime: number | null },
  session: SessionRecord,
): number | null {
  if (p.expiryTime !== null) {
    if (p.expiryTime <= now)
      throw new ServiceError("INVALID_ARGUMENT", "expiryTime must be in the future", "expiryTime");
    return p.expiryTime;
  }
  if (p.expirySeconds !== 0) return now + p.expirySeconds * 1_000_000;
  if (!session.superuser) {
    throw new ApiError("NOT_SUPERUSER", "only an elevated superuser may create a token that never expires", {
      param: "expirySeconds",
    });
  }
  return null;
}

/** The send-side caller of a session (who owns what it creates). */
function callerOf(session: SessionRecord): Caller {
  return {
    user: session.user,
    superuser: session.superuser,
    token: session.token,
    sessionId: session.sessionId,
  };
}

/** What authToken needs of a token of either kind. */
interface LoginCandidate {
  authMethod: Extract<AuthMethod, "apiToken" | "sharedToken">;
  disabledMessage: string | null;
  owner: string;
  token: string;
  expiryTime: number | null;
  path: string | null;
  permissions: string[];
  expired(): boolean;
  passwordMatches(password: string | null): Promise<boolean>;
  /** still there after the password check (not deleted meanwhile) */
  present(): boolean;
  touch(): void;
}

/** The candidate for `record`, a token of `table`, granting what `grant` says. */
function loginCandidateOf<R extends TokenTableRecord, Row extends { token: string }>(
  table: TokenTable<R, Row>,
  record: R,
  grant: Pick<LoginCandidate, "authMethod" | "disabledMessage" | "path" | "permissions">,
): LoginCandidate {
  return {
    ...grant,
    owner: record.owner,
    token: record.token,
    expiryTime: record.expiryTime,
    expired: () => table.isExpired(record),
    passwordMatches: (password) => table.passwordMatches(record, password),
    present: () => table.find(record.token) === record,
    touch: () => table.touch(record),
  };
}

const API_TOKENS_DISABLED = "API tokens are disabled on this server (--api-disable-api-tokens)";
const SHARED_TOKENS_DISABLED = "shared tokens are disabled on this server (--api-disable-shared-tokens)";

function notFound(): ServiceError {
  return new ServiceError("NOT_FOUND", "no API token with that value", "token");
}

/**
 * authToken (API and shared tokens), createAPIToken, getAPIToken(s), deleteAPIToken (api.md §2.1,
 * §2.9). Also makes the services findable from the registry (`servicesOf`) for the send methods.
 */
export function registerTokenMethods(registry: MethodRegistry, services: ApiServices): void {
  const { state, sessions, throttle } = services;
  attachServices(registry, services);
  const store = apiTokensOf(state);
  const shared = sharedTokensOf(state);
  store.onDelete((record) => sessions.endToken(record.token));
  shared.onDelete((record) => sessions.endToken(record.token));

  const requireEnabled = (): void => {
    if (store.disabled) throw new ApiError("UNAVAILABLE", API_TOKENS_DISABLED);
  };

  /** A token the caller may see: its owner's, or any for an elevated superuser. */
  const visible = (session: SessionRecord, token: string): ApiTokenRecord => {
    const record = store.find(token);
    if (record === undefined || (record.owner !== session.user && !session.superuser)) throw notFound();
    return record;
  };

  const loginFailed = async (
    ctx: MethodContext,
    reason: string,
    authMethod: LoginCandidate["authMethod"] = "apiToken",
  ): Promise<never> => {
    state.events.emit("auth.loginFailed", {
      user: "",
      authMethod,
      clientAddress: ctx.clientAddress,
      reason,
    });
    throttle.recordFailure(ctx.clientIp);
    await delay(services.failureDelayMs, ctx.shutdownSignal);
    throw new ApiError("AUTH_FAILED", "unknown or expired token, or wrong token password");
  };

  const loginCandidate = (token: string): LoginCandidate | null => {
    const api = store.find(token);
    if (api !== undefined) {
      return loginCandidateOf(store, api, {
        authMethod: "apiToken",
        disabledMessage: store.disabled ? API_TOKENS_DISABLED : null,
        path: api.path,
        permissions: [...api.permissions],
      });
    }
    const link = shared.find(token);
    if (link === undefined) return null;
    return loginCandidateOf(shared, link, {
      authMethod: "sharedToken",
      disabledMessage: shared.disabled ? SHARED_TOKENS_DISABLED : null,
      path: null,
      permissions: [SHARED_TOKEN_GRANT],
    });
  };

  registry.add(authTokenMethod, async ({ token, password }, ctx) => {
    const retryAfterMs = throttle.retryAfterMs(ctx.clientIp);
    if (retryAfterMs > 0) {
      throw new ApiError("UNAVAILABLE", "too many failed logins from this address; try again later", {
        retryAfterMs,
      });
    }
    const candidate = loginCandidate(token);
    if (candidate === null) return loginFailed(ctx, "unknown or expired token");
    const { authMethod } = candidate;
    if (candidate.disabledMessage !== null) throw new ApiError("UNAVAILABLE", candidate.disabledMessage);
    if (candidate.expired()) return loginFailed(ctx, "unknown or expired token", authMethod);
    if (state.users.get(candidate.owner) === null)
      return loginFailed(ctx, "the token's owner no longer exists", authMethod);
    if (!(await candidate.passwordMatches(password)))
      return loginFailed(ctx, "wrong token password", authMethod);
    if (!candidate.present()) return loginFailed(ctx, "unknown or expired token", authMethod);
    candidate.touch();
    const session = sessions.create({
      user: candidate.owner,
      authMethod,
      clientAddress: ctx.clientAddress,
      canElevate: false,
      path: candidate.path,
      permissions: candidate.permissions,
      token: candidate.token,
      tokenExpiryTime: candidate.expiryTime,
    });
    ctx.binding.session = session;
    state.events.emit(
      "auth.login",
      { user: session.user, authMethod, clientAddress: ctx.clientAddress, sessionId: session.sessionId },
      session.user,
    );
    return sessions.toStructure(session, true);
  });

  registry.add(createAPITokenMethod, async (p, ctx) => {
    const session = requireSession(ctx);
    requireEnabled();
    if (session.authMethod !== "password")
      throw new ApiError("FORBIDDEN", "only password sessions may create API tokens");
    const expiryTime = expiryFrom(state.clock.nowMicros(), p, session);
    const path = await existingVirtualPath(state.sandbox.viewFor(session.user), p.path, "path");
    const record = await store.create({
      owner: session.user,
      permissions: p.permissions,
      path,
      description: p.description,
      expiryTime,
      password: p.password,
      userData: p.userData,
    });
    return apiTokenStructure(record);
  });

  registry.add(getAPITokenMethod, ({ token }, ctx) => apiTokenStructure(visible(requireSession(ctx), token)));

  registry.add(getAPITokensMethod, ({ owner, includeExpired, offset, limit }, ctx) => {
    const session = requireSession(ctx);
    if (owner !== undefined && owner !== session.user && !session.superuser)
      throw new ServiceError("FORBIDDEN", "only a superuser may list other users' tokens", "owner");
    const wanted = owner ?? session.user;
    return store
      .list()
      .filter((r) => wanted === "*" || r.owner === wanted)
      .filter((r) => includeExpired || !store.isExpired(r))
      .slice(offset, offset + limit)
      .map(apiTokenStructure);
  });

  registry.add(deleteAPITokenMethod, ({ token }, ctx) => {
    const record = visible(requireSession(ctx), token);
    store.delete(record.token, "api");
    return null;
  });
}

/**
 * send.createSharedToken, send.getSharedToken(s), send.deleteSharedToken (api.md §3.6). Registered
 * with the send methods, which own the manifests a shared token offers.
 */
export function registerSharedTokenMethods(
  registry: MethodRegistry,
  downloads: SharedDownloads,
  services: ApiServices,
): void {
  const { state, info } = services;
  const structure = (record: SharedTokenRecord) => sharedTokenStructure(record, info.linkAddress());

  registry.add(createSharedTokenMethod, async (p, ctx) => {
    const session = requireSession(ctx);
    if (downloads.tokens.disabled) throw new ApiError("UNAVAILABLE", SHARED_TOKENS_DISABLED);
    const record = await downloads.create(callerOf(session), {
      manifestId: p.manifestId,
      description: p.description,
      expiryTime: expiryFrom(state.clock.nowMicros(), p, session),
      downloadLimit: p.downloadLimit,
      password: p.password,
      userData: p.userData,
    });
    return structure(record);
  });

  registry.add(getSharedTokenMethod, ({ token }, ctx) =>
    structure(downloads.visible(callerOf(requireSession(ctx)), token)),
  );

  registry.add(getSharedTokensMethod, (p, ctx) =>
    downloads.list(callerOf(requireSession(ctx)), p).map(structure),
  );

  registry.add(deleteSharedTokenMethod, ({ token }, ctx) => {
    const record = downloads.visible(callerOf(requireSession(ctx)), token);
    downloads.tokens.delete(record.token, "api");
    return null;
  });
}
