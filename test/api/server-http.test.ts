import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { SlipstreamApiError, FingerprintMismatchError } from "../../src/client/errors.js";
import { KnownHosts } from "../../src/client/known-hosts.js";
import { SlipstreamClient } from "../../src/client/client.js";
import { readRuntimeFile } from "../../src/server/runtime-file.js";
import { startTestServer, temporaryDir, type TestServer } from "./helpers.js";

function apiError(code: string) {
  return (error: unknown) => error instanceof SlipstreamApiError && error.code === code;
}

describe("API server over HTTPS (in process)", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({}, { failureDelayMs: 5 });
  });
  after(() => server.stop());

  it("writes runtime.json with the bound port and fingerprint, mode 0600", () => {
    const runtime = readRuntimeFile(server.stateDir);
    assert.ok(runtime);
    assert.equal(runtime.apiPort, server.handle.apiPort);
    assert.equal(runtime.apiHost, "127.0.0.1");
    assert.equal(runtime.pid, process.pid);
    assert.equal(runtime.serverId, server.handle.serverId);
    assert.equal(runtime.serverUid, readFileSync(join(server.stateDir, "server.uid"), "utf8").trim());
    assert.match(runtime.certificateFingerprint, /^[0-9a-f]{64}$/);
    assert.deepEqual(runtime.recvPorts, []);
    assert.equal(statSync(join(server.stateDir, "runtime.json")).mode & 0o777, 0o600);
    assert.equal(statSync(join(server.stateDir, "admin.password")).mode & 0o777, 0o600);
    assert.equal(server.adminPassword.length, 24);
  });

  it("answers public calls without a session and refuses the rest with AUTH_REQUIRED", async () => {
    const client = server.client();
    assert.equal(await client.call("echo", { text: "hi" }), "hi");
    assert.equal(await client.call("echo"), "");
    await assert.rejects(client.call("sleep", { milliseconds: 1 }), apiError("AUTH_REQUIRED"));
    await assert.rejects(client.call("ls"), apiError("AUTH_REQUIRED"));
  });

  it("shows only public ServerInfo fields before auth, configuration only when elevated", async () => {
    const anonymous = await server.client().call("getServerInfo");
    assert.equal(anonymous.apiVersion, 1);
    assert.equal(anonymous.minApiVersion, 1);
    assert.equal(anonymous.authRequired, true);
    assert.equal(anonymous.serverId, server.handle.serverId);
    assert.equal(anonymous.certificateFingerprint, server.handle.fingerprint);
    // the server's X25519 key is public: senders pin it as destinationPublicKey
    assert.match(anonymous.publicKey ?? "", /^[A-Za-z0-9_-]{43}$/);
    assert.equal(anonymous.receiver.activeTransferCount, null);
    for (const hidden of ["apiPort", "hostName", "startTime", "configuration", "bandwidthLimits"])
      assert.ok(!(hidden in anonymous), hidden);
    const admin = await server.admin();
    const full = await admin.call("getServerInfo");
    assert.equal(full.apiPort, server.handle.apiPort);
    assert.equal(full.eventLogAvailable, true);
    assert.ok(!("configuration" in full));
    await admin.superuser();
    const elevated = await admin.call("getServerInfo");
    const configuration = elevated.configuration as Record<string, unknown>;
    assert.equal(configuration.apiPort, server.handle.apiPort);
    assert.equal(configuration.datagramSize, 1400);
    assert.deepEqual(configuration.recvPorts, []); // the test helper opens no receive port
    assert.equal((configuration.sources as Record<string, string>).apiPort, "command-line");
    assert.equal((configuration.garbageCollect as Record<string, number>).requestExpirySeconds, 3600);
  });

  it("logs in, elevates, reports and ends the session", async () => {
    const client = server.client();
    const session = await client.login("admin", server.adminPassword);
    assert.match(session.sessionKey ?? "", /^[0-9a-f]{64}$/);
    assert.deepEqual(
      [session.user, session.authMethod, session.canElevate, session.superuser],
      ["admin", "password", true, false],
    );
    await assert.rejects(client.call("terminate"), apiError("NOT_SUPERUSER"));
    const elevated = await client.superuser();
    assert.equal(elevated.superuser, true);
    assert.equal(elevated.sessionKey, undefined);
    const current = await client.call("getSession");
    assert.equal(current.sessionId, session.sessionId);
    assert.equal(current.sessionKey, undefined);
    await client.logout();
    client.sessionKey = session.sessionKey ?? null;
    await assert.rejects(client.call("getSession"), apiError("AUTH_REQUIRED"));
  });

  it("refuses a wrong password with AUTH_FAILED and logs the event", async () => {
    const client = server.client();
    await assert.rejects(
      client.login("admin", "wrong"),
      (e: unknown) => e instanceof SlipstreamApiError && e.code === "AUTH_FAILED" && e.rpcCode === -32002,
    );
    await assert.rejects(client.login("nobody", "x"), apiError("AUTH_FAILED"));
    const admin = await server.admin(true);
    const entries = await admin.call("getEventLog", { events: ["auth.*"], order: "desc", limit: 50 });
    const failed = entries.find((e) => e._event === "auth.loginFailed" && e.user === "nobody");
    assert.ok(failed);
    assert.equal(failed.authMethod, "password");
    assert.match(String(failed.clientAddress), /^127\.0\.0\.1:\d+$/);
    assert.ok(entries.some((e) => e._event === "auth.superuser" && e.owner === "admin"));
    const launch = await admin.call("getEventLog", { events: ["launch"] });
    assert.equal(launch.length, 1);
    assert.equal(launch[0].apiPort, server.handle.apiPort);
    assert.equal(launch[0]._serverId, server.handle.serverId);
  });

  it("batches in order over HTTP: a login applies to later calls of the batch", async () => {
    const client = server.client();
    const outcomes = await client.batch([
      { method: "getSession" },
      { method: "auth", params: { user: "admin", password: server.adminPassword } },
      { method: "getSession" },
      { method: "superuser" },
      { method: "getServerInfo" },
    ]);
    assert.equal(outcomes[0].ok, false);
    assert.equal(outcomes[2].ok, true);
    const info = outcomes[4];
    assert.ok(
      info.ok && typeof info.result === "object" && info.result !== null && "configuration" in info.result,
    );
  });

  it("runs Async forms and returns their results", async () => {
    const admin = await server.admin();
    const { requestId } = await admin.call("sleepAsync", { milliseconds: 20 });
    assert.equal(await admin.call("getRequestResult", { requestId, timeoutSeconds: 5 }), null);
    const status = await admin.call("getRequestStatus", { requestId: { requestId } });
    assert.equal(status.status, "complete");
    const bad = await admin.call("lsAsync", { path: "/definitely/not/here" });
    await assert.rejects(admin.call("getRequestResult", { requestId: bad.requestId }), apiError("NOT_FOUND"));
    await assert.rejects(admin.call("sleepAsync", { milliseconds: -1 }), apiError("INVALID_ARGUMENT"));
    await assert.rejects(server.client().call("getRequestStatus", { requestId }), apiError("NOT_FOUND"));
  });

  it("speaks HTTP per api.md §1.1: 404, 405, 415, 413, 204 and parse errors", async () => {
    const client = server.client();
    assert.equal((await client.httpExchange("POST", "/other", "{}")).status, 404);
    assert.equal((await client.httpExchange("GET", "/rpc", null)).status, 405);
    assert.equal(
      (await client.httpExchange("POST", "/rpc", "{}", { "Content-Type": "text/plain" })).status,
      415,
    );
    const big = Buffer.alloc(16 * 1024 * 1024 + 1, 32);
    assert.equal((await client.httpExchange("POST", "/rpc", big)).status, 413);
    const notification = JSON.stringify({ jsonrpc: "2.0", method: "echo", params: { text: "x" } });
    const quiet = await client.httpExchange("POST", "/rpc", notification);
    assert.deepEqual([quiet.status, quiet.body], [204, ""]);
    const garbage = await client.httpExchange("POST", "/rpc", '{"jsonrpc":');
    assert.equal(garbage.status, 200);
    assert.deepEqual(JSON.parse(garbage.body).error.code, -32700);
    const unknownParam = JSON.parse(
      (
        await client.httpExchange(
          "POST",
          "/rpc",
          JSON.stringify({ jsonrpc: "2.0", id: 1, method: "echo", params: { txt: 1 } }),
        )
      ).body,
    );
    assert.deepEqual([unknownParam.error.code, unknownParam.error.data.param], [-32602, "txt"]);
    const unknownMethod = JSON.parse(
      (await client.httpExchange("POST", "/rpc", JSON.stringify({ jsonrpc: "2.0", id: 2, method: "nope" })))
        .body,
    );
    assert.equal(unknownMethod.error.code, -32601);
    assert.equal(await client.call("echo", { text: "still alive" }), "still alive");
  });

  it("refuses calls from an unsupported API version", async () => {
    await assert.rejects(server.client({ apiVersion: 2 }).call("echo"), apiError("API_VERSION_MISMATCH"));
    assert.equal(await server.client({ apiVersion: null }).call("echo", { text: "v" }), "v");
  });

  it("pins the certificate on first use and refuses a changed one", async () => {
    const file = join(temporaryDir(), "known_hosts");
    const notices: string[] = [];
    const first = server.client({ knownHostsFile: file, onFirstUse: (hostPort) => notices.push(hostPort) });
    await first.call("echo");
    await first.call("echo");
    assert.deepEqual(notices, [`127.0.0.1:${server.handle.apiPort}`]);
    assert.equal(
      readFileSync(file, "utf8"),
      `127.0.0.1:${server.handle.apiPort} ${server.handle.fingerprint}\n`,
    );
    new KnownHosts(file).set(`127.0.0.1:${server.handle.apiPort}`, "0".repeat(64));
    const second = server.client({ knownHostsFile: file });
    await assert.rejects(
      second.login("admin", server.adminPassword),
      (e: unknown) => e instanceof FingerprintMismatchError && e.actual === server.handle.fingerprint,
    );
    await assert.rejects(
      server.client({ fingerprint: "ab".repeat(32) }).call("echo"),
      FingerprintMismatchError,
    );
    const accepting = new SlipstreamClient({
      host: "127.0.0.1",
      port: server.handle.apiPort,
      knownHostsFile: file,
      fingerprint: server.handle.fingerprint,
    });
    assert.equal(await accepting.call("echo", { text: "ok" }), "ok");
    assert.equal(new KnownHosts(file).get(`127.0.0.1:${server.handle.apiPort}`), server.handle.fingerprint);
  });
});

describe("login throttling", () => {
  it("refuses an address with more than 10 failures in 60 s with UNAVAILABLE", async () => {
    const server = await startTestServer({}, { failureDelayMs: 1 });
    try {
      const client = server.client();
      for (let i = 0; i < 11; i++)
        await assert.rejects(client.login("admin", `wrong${i}`), apiError("AUTH_FAILED"));
      await assert.rejects(client.login("admin", server.adminPassword), (e: unknown) => {
        return (
          e instanceof SlipstreamApiError &&
          e.code === "UNAVAILABLE" &&
          typeof e.data.retryAfterMs === "number" &&
          e.data.retryAfterMs > 0
        );
      });
    } finally {
      await server.stop();
    }
  });
});
