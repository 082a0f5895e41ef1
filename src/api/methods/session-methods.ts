import type { MethodRegistry } from "../rpc/registry.js";
import { ApiError } from "../rpc/errors.js";
import { authMethod, getSessionMethod, logoutMethod, superuserMethod } from "../schema/server-methods.js";
import type { ApiServices } from "../services.js";
import { delay, requireSession } from "./session-helpers.js";

/** auth, superuser, getSession, logout (api.md §2.1). */
export function registerSessionMethods(registry: MethodRegistry, services: ApiServices): void {
  const { state, sessions, throttle } = services;

  registry.add(authMethod, async ({ user, password }, ctx) => {
    const retryAfterMs = throttle.retryAfterMs(ctx.clientIp);
    if (retryAfterMs > 0) {
      throw new ApiError("UNAVAILABLE", "too many failed logins from this address; try again later", {
        retryAfterMs,
      });
    }
    const record = await state.users.verify(user, password);
    if (record === null) {
      state.events.emit("auth.loginFailed", {
        user,
        authMethod: "password",
        clientAddress: ctx.clientAddress,
        reason: "wrong user name or password",
      });
      throttle.recordFailure(ctx.clientIp);
      await delay(services.failureDelayMs, ctx.shutdownSignal);
      throw new ApiError("AUTH_FAILED", "wrong user name or password");
    }
    const session = sessions.create({
      user: record.name,
      authMethod: "password",
      clientAddress: ctx.clientAddress,
      canElevate: state.canElevate(record.name),
    });
    ctx.binding.session = session;
    state.events.emit(
      "auth.login",
      {
        user: session.user,
        authMethod: "password",
        clientAddress: ctx.clientAddress,
        sessionId: session.sessionId,
      },
      session.user,
    );
    return sessions.toStructure(session, true);
  });

  registry.add(superuserMethod, (_params, ctx) => {
    const session = requireSession(ctx);
    if (session.authMethod !== "password")
      throw new ApiError("FORBIDDEN", "token sessions cannot be elevated");
    session.canElevate = state.canElevate(session.user);
    if (!session.canElevate) throw new ApiError("NOT_SUPERUSER", `user ${session.user} may not elevate`);
    if (!session.superuser) {
      session.superuser = true;
      state.events.emit(
        "auth.superuser",
        { user: session.user, clientAddress: ctx.clientAddress, sessionId: session.sessionId },
        session.user,
      );
    }
    return sessions.toStructure(session, false);
  });

  registry.add(getSessionMethod, (_params, ctx) => sessions.toStructure(requireSession(ctx), false));

  registry.add(logoutMethod, (_params, ctx) => {
    const session = requireSession(ctx);
    sessions.end(session, "logout");
    if (ctx.binding.session === session) ctx.binding.session = null;
    return null;
  });
}
