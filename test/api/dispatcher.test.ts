import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { SessionStore } from "../../src/api/auth/sessions.js";
import { AsyncRequestStore } from "../../src/api/rpc/async-requests.js";
import type { CallContext } from "../../src/api/rpc/context.js";
import { Dispatcher } from "../../src/api/rpc/dispatcher.js";
import type { JsonRpcFailure, JsonRpcResponse, JsonRpcSuccess } from "../../src/api/rpc/protocol.js";
import { MethodRegistry } from "../../src/api/rpc/registry.js";
import { defineMethod, noParams, params } from "../../src/api/schema/define.js";
import { ManualClock } from "../../src/server/clock.js";
import { silentLogger } from "../../src/server/logger.js";
import { ApiError } from "../../src/api/rpc/errors.js";

const login = defineMethod({
  name: "login",
  section: "test",
  access: "public",
  summary: "test login",
  params: params({ user: z.string() }),
  result: z.string(),
});
const whoami = defineMethod({
  name: "whoami",
  section: "test",
  access: "session",
  summary: "",
  params: noParams,
  result: z.string(),
});
const elevate = defineMethod({
  name: "elevate",
  section: "test",
  access: "session",
  summary: "",
  params: noParams,
  result: z.null(),
});
const secret = defineMethod({
  name: "secret",
  section: "test",
  access: "superuser",
  summary: "",
  params: noParams,
  result: z.string(),
});
const add = defineMethod({
  name: "add",
  section: "test",
  access: "public",
  summary: "",
  params: params({
    a: z.number().int(),
    b: z.number().int().default(10),
    label: z.string().max(3).optional(),
  }),
  result: z.number(),
});
const crash = defineMethod({
  name: "crash",
  section: "test",
  access: "public",
  summary: "",
  params: noParams,
  result: z.null(),
});
const wait = defineMethod({
  name: "wait",
  section: "test",
  access: "public",
  summary: "",
  params: params({ fail: z.boolean().default(false) }),
  result: z.string(),
});
const noAsync = defineMethod({
  name: "plain",
  section: "test",
  access: "public",
  summary: "",
  params: noParams,
  result: z.null(),
  noAsync: true,
});

function setup() {
  const clock = new ManualClock();
  const sessions = new SessionStore(clock, 60);
  const requests = new AsyncRequestStore(clock, () => 3600);
  const registry = new MethodRegistry();
  const order: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  registry
    .add(login, ({ user }, ctx) => {
      const session = sessions.create({
        user,
        authMethod: "password",
        clientAddress: ctx.clientAddress,
        canElevate: user === "root",
      });
      ctx.binding.session = session;
      order.push(`login:${user}`);
      return session.sessionKey;
    })
    .add(whoami, (_p, ctx) => {
      order.push("whoami");
      return ctx.session?.user ?? "nobody";
    })
    .add(elevate, (_p, ctx) => {
      if (ctx.session) ctx.session.superuser = true;
      return null;
    })
    .add(secret, () => "s3cret")
    .add(add, ({ a, b }) => {
      order.push(`add:${a}`);
      return a + b;
    })
    .add(crash, () => {
      throw new TypeError("boom");
    })
    .add(wait, async ({ fail }) => {
      await gate;
      if (fail) throw new ApiError("CONFLICT", "wait failed", { id: "x" });
      return "waited";
    })
    .add(noAsync, () => null);
  const abort = new AbortController();
  const dispatcher = new Dispatcher({
    registry,
    sessions,
    requests,
    logger: silentLogger(),
    shutdownSignal: abort.signal,
  });
  const ctx = (over: Partial<CallContext> = {}): CallContext => ({
    transport: "http",
    clientAddress: "127.0.0.1:5000",
    clientIp: "127.0.0.1",
    binding: { session: null },
    socketId: null,
    apiVersionMismatch: null,
    ...over,
  });
  return { clock, sessions, requests, dispatcher, ctx, order, release, abort };
}

function asFailure(response: unknown): JsonRpcFailure {
  assert.ok(
    response !== null && typeof response === "object" && "error" in response,
    `expected an error, got ${JSON.stringify(response)}`,
  );
  return response as JsonRpcFailure;
}

function asSuccess(response: unknown): JsonRpcSuccess {
  assert.ok(
    response !== null && typeof response === "object" && "result" in response,
    `expected a result, got ${JSON.stringify(response)}`,
  );
  return response as JsonRpcSuccess;
}

const call = (method: string, params?: unknown, id: number | string = 1) => ({
  jsonrpc: "2.0",
  id,
  method,
  ...(params === undefined ? {} : { params }),
});

describe("JSON-RPC dispatcher", () => {
  it("answers a single call with its id and applies defaults", async () => {
    const { dispatcher, ctx } = setup();
    const response = asSuccess(await dispatcher.handleBody(call("add", { a: 1 }, "abc"), ctx()));
    assert.deepEqual(response, { jsonrpc: "2.0", id: "abc", result: 11 });
  });

  it("runs a batch in array order and returns replies in order, skipping notifications", async () => {
    const { dispatcher, ctx, order } = setup();
    const body = [
      call("add", { a: 1 }, 1),
      { jsonrpc: "2.0", method: "add", params: { a: 2 } },
      call("add", { a: 3 }, 3),
    ];
    const responses = (await dispatcher.handleBody(body, ctx())) as JsonRpcResponse[];
    assert.deepEqual(order, ["add:1", "add:2", "add:3"]);
    assert.deepEqual(
      responses.map((r) => r.id),
      [1, 3],
    );
  });

  it("a login in a batch applies to the later calls only", async () => {
    const { dispatcher, ctx } = setup();
    const responses = (await dispatcher.handleBody(
      [call("whoami", undefined, 1), call("login", { user: "ann" }, 2), call("whoami", undefined, 3)],
      ctx(),
    )) as JsonRpcResponse[];
    assert.equal(asFailure(responses[0]).error.data.code, "AUTH_REQUIRED");
    assert.equal(asFailure(responses[0]).error.code, -32001);
    assert.equal(asSuccess(responses[2]).result, "ann");
  });

  it("elevation in a batch applies to later calls; superuser methods need it", async () => {
    const { dispatcher, ctx } = setup();
    const responses = (await dispatcher.handleBody(
      [
        call("login", { user: "root" }, 1),
        call("secret", undefined, 2),
        call("elevate", undefined, 3),
        call("secret", undefined, 4),
      ],
      ctx(),
    )) as JsonRpcResponse[];
    assert.equal(asFailure(responses[1]).error.data.code, "NOT_SUPERUSER");
    assert.equal(asFailure(responses[1]).error.code, -32005);
    assert.equal(asSuccess(responses[3]).result, "s3cret");
  });

  it("returns null for notifications only (HTTP 204)", async () => {
    const { dispatcher, ctx } = setup();
    assert.equal(
      await dispatcher.handleBody({ jsonrpc: "2.0", method: "add", params: { a: 1 } }, ctx()),
      null,
    );
    assert.equal(await dispatcher.handleBody([{ jsonrpc: "2.0", method: "nosuch" }], ctx()), null);
  });

  it("maps malformed input to the JSON-RPC codes of api.md §1.6", async () => {
    const { dispatcher, ctx } = setup();
    const parse = asFailure(await dispatcher.handleText("{not json", ctx()));
    assert.deepEqual([parse.id, parse.error.code, parse.error.data.code], [null, -32700, "INVALID_ARGUMENT"]);
    const empty = asFailure(await dispatcher.handleBody([], ctx()));
    assert.equal(empty.error.code, -32600);
    const notObject = (await dispatcher.handleBody([1], ctx())) as JsonRpcFailure[];
    assert.equal(notObject[0].error.code, -32600);
    const badVersion = asFailure(
      await dispatcher.handleBody({ jsonrpc: "1.0", id: 5, method: "add" }, ctx()),
    );
    assert.deepEqual([badVersion.id, badVersion.error.code], [5, -32600]);
    const badId = asFailure(
      await dispatcher.handleBody({ jsonrpc: "2.0", id: { x: 1 }, method: "add" }, ctx()),
    );
    assert.deepEqual([badId.id, badId.error.code], [null, -32600]);
    const unknown = asFailure(await dispatcher.handleBody(call("nosuch"), ctx()));
    assert.deepEqual([unknown.error.code, unknown.error.data.code], [-32601, "NOT_FOUND"]);
    assert.match(unknown.error.message, /nosuch/);
  });

  it("validates params by name and names the parameter", async () => {
    const { dispatcher, ctx } = setup();
    const cases: [unknown, string, RegExp][] = [
      [{ a: 1, c: 2 }, "c", /unknown parameter 'c'/],
      [{}, "a", /missing required parameter 'a'/],
      [{ a: "1" }, "a", /parameter 'a' must be number, not string/],
      [{ a: 1.5 }, "a", /parameter 'a'/],
      [{ a: 1, label: "long" }, "label", /parameter 'label'/],
    ];
    for (const [p, param, message] of cases) {
      const failure = asFailure(await dispatcher.handleBody(call("add", p), ctx()));
      assert.equal(failure.error.code, -32602);
      assert.equal(failure.error.data.code, "INVALID_ARGUMENT");
      assert.equal(failure.error.data.param, param);
      assert.match(failure.error.message, message);
    }
    const positional = asFailure(await dispatcher.handleBody(call("add", [1, 2]), ctx()));
    assert.match(positional.error.message, /positional/);
    const nullParams = asFailure(await dispatcher.handleBody(call("add", null), ctx()));
    assert.equal(nullParams.error.data.code, "INVALID_ARGUMENT");
  });

  it("turns unexpected exceptions into INTERNAL with an incident id", async () => {
    const { dispatcher, ctx } = setup();
    const failure = asFailure(await dispatcher.handleBody(call("crash"), ctx()));
    assert.equal(failure.error.code, -32603);
    assert.equal(failure.error.data.code, "INTERNAL");
    assert.match(String(failure.error.data.incident), /^[0-9a-f]{16}$/);
    assert.doesNotMatch(failure.error.message, /boom/);
  });

  it("refuses every call when the client API version is not served", async () => {
    const { dispatcher, ctx } = setup();
    const failure = asFailure(
      await dispatcher.handleBody(call("add", { a: 1 }), ctx({ apiVersionMismatch: "version 9" })),
    );
    assert.deepEqual([failure.error.code, failure.error.data.code], [-32010, "API_VERSION_MISMATCH"]);
  });

  it("answers UNAVAILABLE once shutdown began", async () => {
    const { dispatcher, ctx, abort } = setup();
    abort.abort();
    const failure = asFailure(await dispatcher.handleBody(call("add", { a: 1 }), ctx()));
    assert.equal(failure.error.data.code, "UNAVAILABLE");
  });

  it("drops a session after its idle timeout", async () => {
    const { dispatcher, ctx, clock } = setup();
    const context = ctx();
    await dispatcher.handleBody(call("login", { user: "ann" }), context);
    assert.equal(asSuccess(await dispatcher.handleBody(call("whoami"), context)).result, "ann");
    clock.advanceMs(61_000);
    assert.equal(
      asFailure(await dispatcher.handleBody(call("whoami"), context)).error.data.code,
      "AUTH_REQUIRED",
    );
  });
});

describe("asynchronous requests", () => {
  it("validates at once, runs in the background, reports status and result", async () => {
    const { dispatcher, ctx, requests, release } = setup();
    const invalid = asFailure(await dispatcher.handleBody(call("addAsync", { a: "x" }), ctx()));
    assert.equal(invalid.error.data.param, "a");
    const started = asSuccess(await dispatcher.handleBody(call("waitAsync"), ctx()));
    const { requestId } = started.result as { requestId: string };
    assert.match(requestId, /^[0-9a-f]{32}$/);
    const running = requests.status(requestId, null);
    assert.deepEqual(
      [running.processing, running.status, running.endTime, running.method],
      [true, "processing", null, "wait"],
    );
    await assert.rejects(
      requests.result(requestId, null, 0, new AbortController().signal),
      (e: ApiError) => e.code === "UNAVAILABLE" && e.data.processing === true,
    );
    release();
    assert.equal(await requests.result(requestId, null, null, new AbortController().signal), "waited");
    const done = requests.status(requestId, null);
    assert.deepEqual([done.processing, done.status, done.errorMessage], [false, "complete", ""]);
    assert.ok(done.expiryTime !== null && done.endTime !== null && done.expiryTime > done.endTime);
  });

  it("re-raises the method's error from getRequestResult", async () => {
    const { dispatcher, ctx, requests, release } = setup();
    release();
    const { requestId } = asSuccess(await dispatcher.handleBody(call("waitAsync", { fail: true }), ctx()))
      .result as { requestId: string };
    await assert.rejects(
      requests.result(requestId, null, null, new AbortController().signal),
      (e: ApiError) => e.code === "CONFLICT" && e.data.id === "x",
    );
    const status = requests.status(requestId, null);
    assert.equal(status.status, "error");
    assert.equal(status.errorMessage, "wait failed");
    assert.equal(status.error?.data.code, "CONFLICT");
  });

  it("keeps requests of a user private and expires them", async () => {
    const { dispatcher, ctx, requests, release, clock, sessions } = setup();
    release();
    const context = ctx();
    await dispatcher.handleBody(call("login", { user: "ann" }), context);
    const { requestId } = asSuccess(await dispatcher.handleBody(call("waitAsync"), context)).result as {
      requestId: string;
    };
    await requests.result(requestId, context.binding.session, null, new AbortController().signal);
    const bob = sessions.create({
      user: "bob",
      authMethod: "password",
      clientAddress: "x",
      canElevate: false,
    });
    assert.throws(
      () => requests.status(requestId, bob),
      (e: ApiError) => e.code === "NOT_FOUND",
    );
    assert.throws(
      () => requests.status(requestId, null),
      (e: ApiError) => e.code === "NOT_FOUND",
    );
    assert.equal(requests.status(requestId, context.binding.session).status, "complete");
    clock.advanceMs(3601_000);
    assert.throws(
      () => requests.status(requestId, context.binding.session),
      (e: ApiError) => e.code === "NOT_FOUND",
    );
  });

  it("has no Async form for methods marked noAsync", async () => {
    const { dispatcher, ctx } = setup();
    const failure = asFailure(await dispatcher.handleBody(call("plainAsync"), ctx()));
    assert.equal(failure.error.code, -32601);
  });
});
