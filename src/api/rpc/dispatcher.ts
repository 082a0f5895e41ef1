import { randomBytes } from "node:crypto";
import type { Logger } from "../../server/logger.js";
import { ServiceError } from "../../server/errors.js";
import type { SessionRecord, SessionStore } from "../auth/sessions.js";
import { ASYNC_SUFFIX } from "../schema/index.js";
import type { AsyncRequestStore } from "./async-requests.js";
import type { CallContext, MethodContext } from "./context.js";
import { ApiError, RPC_CODES, type JsonRpcErrorObject } from "./errors.js";
import { isJsonRpcId, type JsonRpcId, type JsonRpcResponse } from "./protocol.js";
import type { MethodRegistry, RegisteredMethod } from "./registry.js";

export interface DispatcherOptions {
  registry: MethodRegistry;
  sessions: SessionStore;
  requests: AsyncRequestStore;
  logger: Logger;
  /** aborted when shutdown begins: calls then fail with UNAVAILABLE */
  shutdownSignal: AbortSignal;
}

export type DispatchOutcome = JsonRpcResponse | JsonRpcResponse[] | null;

function failure(id: JsonRpcId, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: "2.0", id, error };
}

/**
 * JSON-RPC 2.0 dispatcher (api.md §1): single calls and batches (in array order), notifications,
 * access checks, param validation, `…Async` forms. Never throws: every failure becomes an error
 * object, unexpected ones INTERNAL with a logged incident id.
 */
export class Dispatcher {
  constructor(private readonly opts: DispatcherOptions) {}

  /** Handle a request body (text); null means nothing to answer (notifications only). */
  async handleText(text: string, ctx: CallContext): Promise<DispatchOutcome> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return failure(
        null,
        new ApiError("INVALID_ARGUMENT", "request is not valid JSON", {
          rpcCode: RPC_CODES.PARSE_ERROR,
        }).toObject(),
      );
    }
    return this.handleBody(body, ctx);
  }

  async handleBody(body: unknown, ctx: CallContext): Promise<DispatchOutcome> {
    if (!Array.isArray(body)) return this.handleOne(body, ctx);
    if (body.length === 0) return failure(null, invalidRequest("empty batch").toObject());
    const responses: JsonRpcResponse[] = [];
    for (const item of body) {
      const response = await this.handleOne(item, ctx);
      if (response !== null) responses.push(response);
    }
    return responses.length > 0 ? responses : null;
  }

  /** One request object; null for a notification. */
  async handleOne(request: unknown, ctx: CallContext): Promise<JsonRpcResponse | null> {
    if (typeof request !== "object" || request === null || Array.isArray(request)) {
      return failure(null, invalidRequest("a request must be a JSON object").toObject());
    }
    const fields = request as Record<string, unknown>;
    const hasId = "id" in fields;
    const id: JsonRpcId = hasId && isJsonRpcId(fields.id) ? fields.id : null;
    try {
      if (hasId && !isJsonRpcId(fields.id)) throw invalidRequest("id must be a string, a number or null");
      if (fields.jsonrpc !== "2.0") throw invalidRequest('jsonrpc must be "2.0"');
      if (typeof fields.method !== "string") throw invalidRequest("method must be a string");
      const result = await this.call(fields.method, fields.params, ctx);
      return hasId ? { jsonrpc: "2.0", id, result: result === undefined ? null : result } : null;
    } catch (error) {
      return hasId
        ? failure(id, this.toErrorObject(error, typeof fields.method === "string" ? fields.method : "?"))
        : null;
    }
  }

  /** Run one call with full checks; throws ApiError (or anything, which becomes INTERNAL). */
  async call(methodName: string, rawParams: unknown, ctx: CallContext): Promise<unknown> {
    if (ctx.apiVersionMismatch !== null) throw new ApiError("API_VERSION_MISMATCH", ctx.apiVersionMismatch);
    if (this.opts.shutdownSignal.aborted) throw new ApiError("UNAVAILABLE", "the server is shutting down");
    const { method, isAsync } = this.lookup(methodName);
    const session = this.opts.sessions.live(ctx.binding.session);
    if (session === null) ctx.binding.session = null;
    this.checkAccess(method, session);
    if (session !== null) this.opts.sessions.touch(session);
    const run = method.prepare(rawParams);
    if (!isAsync) return run(this.methodContext(ctx, session, methodName));
    const background: CallContext = { ...ctx, binding: { session } };
    const requestId = this.opts.requests.start(
      method.spec.name,
      session?.user ?? null,
      () => run(this.methodContext(background, session, methodName)),
      (error) => this.toErrorObject(error, methodName),
    );
    return { requestId };
  }

  private methodContext(ctx: CallContext, session: SessionRecord | null, method: string): MethodContext {
    return { ...ctx, session, method, shutdownSignal: this.opts.shutdownSignal };
  }

  private lookup(name: string): { method: RegisteredMethod; isAsync: boolean } {
    const direct = this.opts.registry.get(name);
    if (direct) return { method: direct, isAsync: false };
    if (name.endsWith(ASYNC_SUFFIX)) {
      const base = this.opts.registry.get(name.slice(0, -ASYNC_SUFFIX.length));
      if (base && !base.spec.noAsync) return { method: base, isAsync: true };
    }
    throw new ApiError("NOT_FOUND", `unknown method '${name}'`, { rpcCode: RPC_CODES.METHOD_NOT_FOUND });
  }

  private checkAccess(method: RegisteredMethod, session: SessionRecord | null): void {
    const { spec } = method;
    if (spec.access === "public") return;
    if (session === null)
      throw new ApiError("AUTH_REQUIRED", `method '${spec.name}' needs a session: call auth first`);
    // Token sessions (api.md §1.4) only reach methods that name one of their permissions; a
    // method without tokenPermissions is password-sessions only.
    if (session.authMethod !== "password") {
      const allowed = spec.tokenPermissions;
      const granted = session.permissions ?? [];
      const ok = allowed === "always" || (allowed !== undefined && allowed.some((p) => granted.includes(p)));
      if (!ok) throw new ApiError("FORBIDDEN", `this token session may not call '${spec.name}'`);
    }
    if (spec.access === "superuser" && !session.superuser) {
      throw new ApiError(
        "NOT_SUPERUSER",
        `method '${spec.name}' needs an elevated session: call superuser first`,
      );
    }
  }

  /** Any thrown value as a JSON-RPC error object; unexpected faults are logged with an incident id. */
  toErrorObject(error: unknown, method: string): JsonRpcErrorObject {
    if (error instanceof ApiError) return error.toObject();
    if (error instanceof ServiceError) {
      return new ApiError(error.code, error.message, {
        ...error.data,
        ...(error.param === undefined ? {} : { param: error.param }),
      }).toObject();
    }
    const incident = randomBytes(8).toString("hex");
    this.opts.logger.error({ component: "api", err: error, method, incident }, "internal error in API call");
    return new ApiError("INTERNAL", `internal server error (incident ${incident})`, { incident }).toObject();
  }
}

function invalidRequest(message: string): ApiError {
  return new ApiError("INVALID_ARGUMENT", `invalid request: ${message}`, {
    rpcCode: RPC_CODES.INVALID_REQUEST,
  });
}

/** Serialise a response; a result that cannot be serialised becomes INTERNAL rather than a crash. */
export function serializeOutcome(outcome: DispatchOutcome, logger: Logger): string {
  try {
    return JSON.stringify(outcome);
  } catch (error) {
    const incident = randomBytes(8).toString("hex");
    logger.error({ component: "api", err: error, incident }, "cannot serialise an API response");
    const object = new ApiError("INTERNAL", `internal server error (incident ${incident})`, {
      incident,
    }).toObject();
    const ids = Array.isArray(outcome) ? outcome.map((r) => r.id) : [outcome?.id ?? null];
    const errors = ids.map((id) => failure(id, object));
    return JSON.stringify(Array.isArray(outcome) ? errors : errors[0]);
  }
}
