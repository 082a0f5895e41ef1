import { ServiceError } from "../../server/errors.js";
import { apiTokensOf, existingVirtualPath, type ApiTokenRecord } from "../../server/tokens/index.js";
import type { SessionRecord } from "../auth/sessions.js";
import type { MethodContext } from "../rpc/context.js";
import { ApiError } from "../rpc/errors.js";
import type { MethodRegistry } from "../rpc/registry.js";
import {
  authTokenMethod,
  createAPITokenMethod,
  deleteAPITokenMethod,
  getAPITokenMethod,
  getAPITokensMethod,
  type Token,
} from "../schema/token-methods.js";
import type { ApiServices } from "../services.js";
import { delay, requireSession } from "./session-helpers.js";

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

function notFound(): ServiceError {
  return new ServiceError("NOT_FOUND", "no API token with that value", "token");
}

/** authToken, createAPIToken, getAPIToken(s), deleteAPIToken (api.md §2.1, §2.9). */
export function registerTokenMethods(registry: MethodRegistry, services: ApiServices): void {
  const { state, sessions, throttle } = services;
  const store = apiTokensOf(state);
  store.onDelete((record) => sessions.endToken(record.token));

  const requireEnabled = (): void => {
    if (store.disabled)
      throw new ApiError("UNAVAILABLE", "API tokens are disabled on this server (--api-disable-api-tokens)");
  };

  /** A token the caller may see: its owner's, or any for an elevated superuser. */
  const visible = (session: SessionRecord, token: string): ApiTokenRecord => {
    const record = store.find(token);
    if (record === undefined || (record.owner !== session.user && !session.superuser)) throw notFound();
    return record;
  };

  const loginFailed = async (ctx: MethodContext, reason: string): Promise<never> => {
    state.events.emit("auth.loginFailed", {
      user: "",
      authMethod: "apiToken",
      clientAddress: ctx.clientAddress,
      reason,
    });
    throttle.recordFailure(ctx.clientIp);
    await delay(services.failureDelayMs, ctx.shutdownSignal);
    throw new ApiError("AUTH_FAILED", "unknown or expired token, or wrong token password");
  };

  registry.add(authTokenMethod, async ({ token, password }, ctx) => {
    const retryAfterMs = throttle.retryAfterMs(ctx.clientIp);
    if (retryAfterMs > 0) {
      throw new ApiError("UNAVAILABLE", "too many failed logins from this address; try again later", {
        retryAfterMs,
      });
    }
    // Shared tokens (send.createSharedToken) will be looked up here too.
    const record = store.find(token);
    if (record !== undefined) requireEnabled();
    if (record === undefined || store.isExpired(record)) return loginFailed(ctx, "unknown or expired token");
    if (state.users.get(record.owner) === null) return loginFailed(ctx, "the token's owner no longer exists");
    if (!(await store.passwordMatches(record, password))) return loginFailed(ctx, "wrong token password");
    if (store.find(token) !== record) return loginFailed(ctx, "unknown or expired token"); // deleted meanwhile
    store.touch(record);
    const session = sessions.create({
      user: record.owner,
      authMethod: "apiToken",
      clientAddress: ctx.clientAddress,
      canElevate: false,
      path: record.path,
      permissions: [...record.permissions],
      token: record.token,
      tokenExpiryTime: record.expiryTime,
    });
    ctx.binding.session = session;
    state.events.emit(
      "auth.login",
      {
        user: session.user,
        authMethod: "apiToken",
        clientAddress: ctx.clientAddress,
        sessionId: session.sessionId,
      },
      session.user,
    );
    return sessions.toStructure(session, true);
  });

  registry.add(createAPITokenMethod, async (p, ctx) => {
    const session = requireSession(ctx);
    requireEnabled();
    if (session.authMethod !== "password")
      throw new ApiError("FORBIDDEN", "only password sessions may create API tokens");
    const now = state.clock.nowMicros();
    let expiryTime: number | null;
    if (p.expiryTime !== null) {
      if (p.expiryTime <= now)
        throw new ServiceError("INVALID_ARGUMENT", "expiryTime must be in the future", "expiryTime");
      expiryTime = p.expiryTime;
    } else if (p.expirySeconds === 0) {
      expiryTime = null;
    } else {
      expiryTime = now + p.expirySeconds * 1_000_000;
    }
    if (expiryTime === null && !session.superuser) {
      throw new ApiError(
        "NOT_SUPERUSER",
        "only an elevated superuser may create a token that never expires",
        {
          param: "expirySeconds",
        },
      );
    }
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
