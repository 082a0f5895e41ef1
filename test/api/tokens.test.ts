import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sendExtension } from "../../src/api/send-extension.js";
import type { Token } from "../../src/api/schema/token-methods.js";
import type { SlipstreamClient } from "../../src/client/client.js";
import { SlipstreamApiError } from "../../src/client/errors.js";
import { ManualClock } from "../../src/server/clock.js";
import { tokenAdmission } from "../../src/server/recv/admission.js";
import { apiTokensOf, verifyReceiveToken } from "../../src/server/tokens/index.js";
import { startTestServer, temporaryDir, type TestServer } from "./helpers.js";

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SlipstreamApiError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

describe("API tokens", () => {
  let server: TestServer;
  let clock: ManualClock;
  let root: string;
  let admin: SlipstreamClient;

  const create = (params: Record<string, unknown>, as: SlipstreamClient = admin) =>
    as.call("createAPIToken", params) as Promise<Token>;

  async function tokenClient(token: string, password: string | null = null): Promise<SlipstreamClient> {
    const client = server.client();
    const session = await client.call("authToken", { token, password });
    assert.ok(session.sessionKey);
    client.sessionKey = session.sessionKey;
    return client;
  }

  before(async () => {
    const base = temporaryDir();
    clock = new ManualClock();
    server = await startTestServer(
      { sandboxDir: join(base, "sandboxes", "%u") },
      { clock, extensions: [sendExtension()] },
    );
    root = join(base, "sandboxes", "admin");
    mkdirSync(join(root, "drop", "acme"), { recursive: true });
    mkdirSync(join(root, "read", "sub"), { recursive: true });
    writeFileSync(join(root, "read", "a.txt"), "a");
    writeFileSync(join(root, "secret.txt"), "s");
    admin = await server.admin();
  });
  after(() => server.stop());

  it("creates, gets, lists and deletes tokens; the token string is only in Token", async () => {
    const t = await create({
      permissions: ["download"],
      path: "read/",
      description: "reader",
      userData: { k: "v" },
    });
    assert.equal(t.tokenType, "api");
    assert.match(t.token, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      [t.owner, t.path, t.permissions, t.description, t.passwordRequired, t.userData, t.lastUseTime, t.link],
      ["admin", "/read", ["download"], "reader", false, { k: "v" }, null, null],
    );
    assert.equal(t.expiryTime, clock.nowMicros() + 86_400_000_000);
    assert.deepEqual(await admin.call("getAPIToken", { token: t.token }), t);
    const listed = await admin.call("getAPITokens", {});
    assert.ok(listed.some((x) => x.token === t.token));
    const created = await admin.call("getEventLog", { events: ["server.apiToken*"] });
    const entry = created.find((e) => e._event === "server.apiTokenCreated");
    assert.equal(entry?.tokenPrefix, t.token.slice(0, 8));
    assert.ok(!JSON.stringify(created).includes(t.token));

    assert.equal(await admin.call("deleteAPIToken", { token: t.token }), null);
    await assert.rejects(admin.call("getAPIToken", { token: t.token }), rejectsWith("NOT_FOUND"));
    await assert.rejects(admin.call("authToken", { token: t.token }), rejectsWith("AUTH_FAILED"));
    const deleted = await admin.call("getEventLog", { events: ["server.apiTokenDeleted"] });
    assert.deepEqual(
      deleted.map((e) => [e.tokenPrefix, e.reason]),
      [[t.token.slice(0, 8), "api"]],
    );
  });

  it("checks parameters: path must exist, description length, never-expiring only when elevated", async () => {
    await assert.rejects(create({ path: "/missing" }), rejectsWith("NOT_FOUND"));
    await assert.rejects(create({ path: "/read/../secret.txt" }), rejectsWith("INVALID_ARGUMENT"));
    await assert.rejects(create({ description: "x".repeat(1025) }), rejectsWith("INVALID_ARGUMENT"));
    await assert.rejects(create({ permissions: ["admin"] }), rejectsWith("INVALID_ARGUMENT"));
    await assert.rejects(create({ expirySeconds: 0 }), rejectsWith("NOT_SUPERUSER"));
    const elevated = await server.admin(true);
    const forever = await create({ expirySeconds: 0 }, elevated);
    assert.equal(forever.expiryTime, null);
    const absolute = await create({ expiryTime: clock.nowMicros() + 5_000_000 });
    assert.equal(absolute.expiryTime, clock.nowMicros() + 5_000_000);
  });

  it("shows other users' tokens only to elevated superusers", async () => {
    await server.handle.state.users.add("bob", "bob-password", false, clock.nowMicros());
    const bob = server.client();
    await bob.login("bob", "bob-password");
    const own = await create({ description: "admin's" });
    await assert.rejects(bob.call("getAPIToken", { token: own.token }), rejectsWith("NOT_FOUND"));
    await assert.rejects(bob.call("deleteAPIToken", { token: own.token }), rejectsWith("NOT_FOUND"));
    await assert.rejects(bob.call("getAPITokens", { owner: "admin" }), rejectsWith("FORBIDDEN"));
    const bobs = await create({}, bob);
    assert.deepEqual(
      (await bob.call("getAPITokens", {})).map((t) => t.token),
      [bobs.token],
    );
    const elevated = await server.admin(true);
    const all = await elevated.call("getAPITokens", { owner: "*" });
    assert.ok(all.some((t) => t.token === bobs.token) && all.some((t) => t.token === own.token));
    assert.equal((await elevated.call("getAPIToken", { token: bobs.token })).owner, "bob");
  });

  it("opens confined token sessions that only reach the methods their permissions allow", async () => {
    const t = await create({ permissions: ["download"], path: "/read" });
    const reader = await tokenClient(t.token);
    const session = await reader.call("getSession");
    assert.deepEqual(
      [
        session.authMethod,
        session.user,
        session.path,
        session.permissions,
        session.token,
        session.canElevate,
      ],
      ["apiToken", "admin", "/read", ["download"], t.token, false],
    );
    assert.equal(session.expiryTime <= t.expiryTime!, true);
    // the token's path is the session's root
    assert.deepEqual(
      (await reader.call("ls", { path: "/" })).map((e) => e.path),
      ["/a.txt", "/sub"],
    );
    assert.deepEqual(
      (await reader.call("lsRoots")).map((e) => e.name),
      ["a.txt", "sub"],
    );
    await assert.rejects(reader.call("ls", { path: "/../secret.txt" }), rejectsWith("INVALID_ARGUMENT"));
    await assert.rejects(reader.call("ls", { path: "/secret.txt" }), rejectsWith("NOT_FOUND"));
    await assert.rejects(reader.call("mkdir", { path: "/new" }), rejectsWith("FORBIDDEN"));
    await assert.rejects(reader.call("createAPIToken", {}), rejectsWith("FORBIDDEN"));
    await assert.rejects(reader.call("getAPITokens", {}), rejectsWith("FORBIDDEN"));
    await assert.rejects(reader.call("superuser"), rejectsWith("FORBIDDEN"));
    await assert.rejects(reader.call("terminate"), rejectsWith("FORBIDDEN"));
    await assert.rejects(reader.call("mkdirAsync", { path: "/x" }), rejectsWith("FORBIDDEN"));
    assert.equal(await reader.call("echo", { text: "hi" }), "hi");

    const uploader = await tokenClient((await create({ permissions: ["upload"], path: "/drop" })).token);
    assert.deepEqual(
      (await uploader.call("ls", {})).map((e) => e.path),
      ["/acme"],
    );
    await assert.rejects(
      uploader.call("send.createManifest", { fileMappings: [{ srcPath: "/acme" }] }),
      rejectsWith("FORBIDDEN"),
    );
    await assert.rejects(uploader.call("rm", { path: "/acme", recursive: true }), rejectsWith("FORBIDDEN"));

    const modifier = await tokenClient((await create({ permissions: ["modify"], path: "/drop/acme" })).token);
    assert.equal(await modifier.call("mkdir", { path: "/2024" }), null);
    assert.deepEqual(
      (await admin.call("ls", { path: "/drop/acme" })).map((e) => e.path),
      ["/drop/acme/2024"],
    );
  });

  it("confines createManifest sources of a download token to its path", async () => {
    const reader = await tokenClient((await create({ permissions: ["download"], path: "/read" })).token);
    const inside = await reader.call("send.createManifest", { fileMappings: [{ srcPath: "/a.txt" }] });
    const done = await reader.call("send.waitForManifest", {
      manifestId: inside.manifestId,
      timeoutSeconds: 5,
    });
    assert.equal(done.status, "complete");
    const outside = await reader.call("send.createManifest", {
      fileMappings: [{ srcPath: "/secret.txt" }],
    });
    const failed = await reader.call("send.waitForManifest", {
      manifestId: outside.manifestId,
      timeoutSeconds: 5,
    });
    assert.equal(failed.status, "error");
  });

  it("requires the password when one is set, with the throttled AUTH_FAILED", async () => {
    const t = await create({ password: "open sesame" });
    assert.equal(t.passwordRequired, true);
    assert.ok(!JSON.stringify(t).includes("open sesame"));
    await assert.rejects(admin.call("authToken", { token: t.token }), rejectsWith("AUTH_FAILED"));
    await assert.rejects(
      admin.call("authToken", { token: t.token, password: "nope" }),
      rejectsWith("AUTH_FAILED"),
    );
    await tokenClient(t.token, "open sesame");
    assert.ok((await admin.call("getAPIToken", { token: t.token })).lastUseTime !== null);
    await assert.rejects(admin.call("authToken", { token: "0".repeat(32) }), rejectsWith("AUTH_FAILED"));
  });

  it("expires tokens and their sessions; collection deletes them", async () => {
    const t = await create({ expirySeconds: 60 });
    const client = await tokenClient(t.token);
    clock.advanceMs(61_000);
    await assert.rejects(client.call("getSession"), rejectsWith("AUTH_REQUIRED"));
    await assert.rejects(admin.call("authToken", { token: t.token }), rejectsWith("AUTH_FAILED"));
    assert.ok(!(await admin.call("getAPITokens", {})).some((x) => x.token === t.token));
    assert.ok((await admin.call("getAPITokens", { includeExpired: true })).some((x) => x.token === t.token));
    assert.ok(apiTokensOf(server.handle.state).collectExpired() >= 1);
    await assert.rejects(admin.call("getAPIToken", { token: t.token }), rejectsWith("NOT_FOUND"));
  });

  it("ends the sessions of a deleted token at once", async () => {
    const t = await create({});
    const a = await tokenClient(t.token);
    const b = await tokenClient(t.token);
    await admin.call("deleteAPIToken", { token: t.token });
    await assert.rejects(a.call("getSession"), rejectsWith("AUTH_REQUIRED"));
    await assert.rejects(b.call("getSession"), rejectsWith("AUTH_REQUIRED"));
    await admin.call("getSession");
  });

  it("verifies receive tokens: existence, expiry, upload permission, password", async () => {
    const state = server.handle.state;
    const up = await create({ permissions: ["upload"], path: "/drop/acme", password: "pw" });
    const down = await create({ permissions: ["download"], path: "/drop" });
    const short = await create({ permissions: ["upload"], path: "/drop", expirySeconds: 10 });
    const grant = await verifyReceiveToken(state, up.token, "pw");
    assert.ok(!("code" in grant));
    assert.equal(grant.user, "admin");
    assert.equal(grant.path, "/drop/acme");
    assert.deepEqual([...(grant.view.roots ?? new Map()).values()], [join(root, "drop", "acme")]);
    // a transfer admitted by it is written as its owner, rooted at the token's path (server.md §15)
    assert.deepEqual(tokenAdmission(grant), { user: "admin", root: join(root, "drop", "acme") });
    const refused = async (token: string, password: string | null, pattern: RegExp) => {
      const result = await verifyReceiveToken(state, token, password);
      assert.ok("code" in result, "expected a refusal");
      assert.equal(result.code, "RECEIVER_REFUSED");
      assert.match(result.message, pattern);
      assert.ok(!result.message.includes(token));
    };
    await refused(up.token, null, /password/);
    await refused(up.token, "wrong", /password/);
    await refused(down.token, null, /upload/);
    await refused("f".repeat(32), null, /unknown or has expired/);
    clock.advanceMs(11_000);
    await refused(short.token, null, /unknown or has expired/);
  });

  it("persists tokens across a restart of the store", async () => {
    const t = await create({ description: "kept" });
    const { ApiTokenStore } = await import("../../src/server/tokens/token-store.js");
    const state = server.handle.state;
    const reopened = new ApiTokenStore(state.database, state.clock, state.events, false);
    assert.equal(reopened.find(t.token)?.description, "kept");
  });
});

describe("API tokens disabled", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ apiDisableApiTokens: true });
  });
  after(() => server.stop());

  it("refuses createAPIToken and receive tokens with UNAVAILABLE / RECEIVER_REFUSED", async () => {
    const admin = await server.admin();
    await assert.rejects(admin.call("createAPIToken", {}), rejectsWith("UNAVAILABLE"));
    const info = await admin.call("getServerInfo");
    assert.equal(info.apiTokensAvailable, false);
    const existing = await apiTokensOf(server.handle.state).create({
      owner: "admin",
      permissions: ["upload"],
      path: "/",
      description: "",
      expiryTime: null,
      password: null,
      userData: {},
    });
    await assert.rejects(admin.call("authToken", { token: existing.token }), rejectsWith("UNAVAILABLE"));
    const result = await verifyReceiveToken(server.handle.state, existing.token, null);
    assert.ok("code" in result && /disabled/.test(result.message));
  });
});
