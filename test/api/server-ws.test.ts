import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { z } from "zod";
import type { ServerExtension } from "../../src/api/extension.js";
import { defineMethod, params } from "../../src/api/schema/define.js";
import { SlipstreamApiError } from "../../src/client/errors.js";
import type { ServerNotification } from "../../src/client/client.js";
import { silentLogger } from "../../src/server/logger.js";
import { eventually, startTestServer, type TestServer } from "./helpers.js";

describe("API over WebSocket (in process)", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it("takes the same calls as text frames and binds auth to the socket", async () => {
    const client = server.client();
    await client.connectWebSocket();
    assert.equal(await client.call("echo", { text: "over ws" }), "over ws");
    await assert.rejects(
      client.call("getSession"),
      (e: unknown) => e instanceof SlipstreamApiError && e.code === "AUTH_REQUIRED",
    );
    await client.login("admin", server.adminPassword);
    client.sessionKey = null; // the socket carries the session now
    assert.equal((await client.call("getSession")).user, "admin");
    client.close();
  });

  it("accepts the session from the Authorization header of the upgrade", async () => {
    const client = await server.admin();
    await client.connectWebSocket();
    assert.equal((await client.call("getSession")).user, "admin");
    client.close();
  });

  it("pushes subscribed events the session may see", async () => {
    const watcher = await server.admin(true);
    const received: ServerNotification[] = [];
    const subscriptionId = await watcher.subscribe({ events: ["auth.*"] }, (n) => received.push(n));
    const plain = await server.admin();
    await plain.superuser();
    await eventually(() => received.length >= 2);
    const events = received.map((n) => (n.params as { entry: { _event: string } }).entry._event);
    assert.deepEqual(events.slice(0, 2), ["auth.login", "auth.superuser"]);
    assert.equal((received[0].params as { subscriptionId: string }).subscriptionId, subscriptionId);
    await watcher.call("unsubscribe", { subscriptionId });
    await assert.rejects(
      watcher.call("unsubscribe", { subscriptionId }),
      (e: unknown) => e instanceof SlipstreamApiError && e.code === "NOT_FOUND",
    );
    watcher.close();
  });

  it("hides ownerless events from non-elevated sessions", async () => {
    const watcher = await server.admin();
    const received: ServerNotification[] = [];
    await watcher.subscribe({ events: ["*"] }, (n) => received.push(n));
    server.handle.events.emit("test.serverEvent", { n: 1 });
    server.handle.events.emit("test.ownedEvent", { n: 2 }, "admin");
    await eventually(() => received.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      received.map((n) => (n.params as { entry: { _event: string } }).entry._event),
      ["test.ownedEvent"],
    );
    watcher.close();
  });

  it("refuses subscribe over HTTP POST with UNAVAILABLE", async () => {
    const client = await server.admin();
    await assert.rejects(
      client.call("subscribe", { events: ["*"] }),
      (e: unknown) => e instanceof SlipstreamApiError && e.code === "UNAVAILABLE",
    );
  });

  it("forwards published snapshots to subscriptions that select them", async () => {
    const watcher = await server.admin();
    const received: ServerNotification[] = [];
    await watcher.subscribe({ snapshots: ["transfers"], ids: ["a".repeat(32)] }, (n) => received.push(n));
    const publish = (id: string, owner: string | null) =>
      server.handle.events.publishSnapshot({ type: "transfer", id, owner, object: { transferId: id } });
    publish("b".repeat(32), "admin"); // not selected by ids
    publish("a".repeat(32), "someone-else"); // not visible
    publish("a".repeat(32), "admin");
    server.handle.events.publishSnapshot({
      type: "connection",
      id: "a".repeat(32),
      owner: "admin",
      object: {},
    });
    await eventually(() => received.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(received.length, 1);
    assert.deepEqual(received[0].params, {
      subscriptionId: (received[0].params as { subscriptionId: string }).subscriptionId,
      type: "transfer",
      object: { transferId: "a".repeat(32) },
    });
    watcher.close();
  });

  it("ends subscriptions when their session logs out", async () => {
    const watcher = await server.admin();
    const received: ServerNotification[] = [];
    await watcher.subscribe({ events: ["*"] }, (n) => received.push(n));
    await watcher.logout();
    server.handle.events.emit("test.afterLogout", {}, "admin");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(received.length, 0);
    watcher.close();
  });
});

describe("slow subscribers", () => {
  it("loses a subscription that falls too far behind and says so", async () => {
    const server = await startTestServer({}, { subscriptionLimits: { maxUndelivered: 0 } });
    try {
      const watcher = await server.admin();
      const received: ServerNotification[] = [];
      watcher.onNotification((n) => received.push(n));
      const subscriptionId = await watcher.subscribe({ events: ["*"] });
      server.handle.events.emit("test.one", {}, "admin");
      await eventually(() => received.length >= 1);
      assert.equal(received[0].method, "subscriptionLost");
      assert.equal((received[0].params as { subscriptionId: string }).subscriptionId, subscriptionId);
      await assert.rejects(
        watcher.call("unsubscribe", { subscriptionId }),
        (e: unknown) => e instanceof SlipstreamApiError && e.code === "NOT_FOUND",
      );
      watcher.close();
    } finally {
      await server.stop();
    }
  });
});

describe("server lifecycle and extensions", () => {
  it("lets an extension add methods and engine info, and shuts down on terminate", async () => {
    const double = defineMethod({
      name: "test.double",
      section: "test",
      access: "session",
      summary: "doubles",
      params: params({ value: z.number() }),
      result: z.number(),
    });
    const calls: string[] = [];
    const extension: ServerExtension = {
      name: "fake-engine",
      start(server) {
        calls.push("start");
        server.registry.add(double, ({ value }) => value * 2);
        server.setEngineInfo({ publicKey: () => "k".repeat(43) });
        server.onShutdown((reason) => void calls.push(`hook:${reason}`));
      },
      stop(reason) {
        calls.push(`stop:${reason}`);
      },
    };
    const server = await startTestServer({}, { extensions: [extension] });
    const admin = await server.admin(true);
    assert.equal(await admin.call("test.double", { value: 21 }), 42);
    const { requestId } = (await admin.call("test.doubleAsync", { value: 2 })) as { requestId: string };
    assert.equal(await admin.call("getRequestResult", { requestId }), 4);
    assert.equal((await admin.call("getServerInfo")).publicKey, "k".repeat(43));
    assert.equal(await admin.call("terminate"), null);
    assert.equal(await server.handle.closed, "terminate");
    assert.deepEqual(calls, ["start", "hook:terminate", "stop:terminate"]);
    assert.equal(existsSync(join(server.stateDir, "runtime.json")), false);
    assert.equal(existsSync(join(server.stateDir, "lock")), false);
    await server.stop();
  });

  it("refuses a second server on the same state dir", async () => {
    const server = await startTestServer();
    try {
      const { startServer } = await import("../../src/api/start-server.js");
      const second = startServer(
        { stateDir: server.stateDir, apiHost: "127.0.0.1", apiPort: 0 },
        { logger: silentLogger() },
      );
      second.then((handle) => handle.close()).catch(() => undefined);
      await assert.rejects(second, (e: unknown) => {
        return e instanceof Error && "exitCode" in e && e.exitCode === 2 && /in use/.test(e.message);
      });
    } finally {
      await server.stop();
    }
  });
});
