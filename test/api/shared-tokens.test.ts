/**
 * Shared tokens (download links, api.md §3.6, §1.4 row "shared token", server.md §18): the
 * methods, what a shared-token session may reach, a download through one between two servers,
 * download limits, expiry, revocation, `share` on API tokens, `referenced` manifests, user data,
 * persistence and `--api-disable-shared-tokens`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sendExtension } from "../../src/api/send-extension.js";
import type { Token } from "../../src/api/schema/token-methods.js";
import type { SlipstreamClient } from "../../src/client/client.js";
import { SlipstreamApiError } from "../../src/client/errors.js";
import { ManualClock } from "../../src/server/clock.js";
import { receiveService } from "../../src/server/engine/receive-service.js";
import { SharedTokenStore, sharedTokensOf } from "../../src/server/tokens/index.js";
import { startTestServer, temporaryDir, type TestServer } from "./helpers.js";

function rejectsWith(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SlipstreamApiError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");
const FILES: Record<string, Buffer> = {
  "a.bin": Buffer.alloc(300_000, 7),
  "sub/b.txt": Buffer.from("hello shared world"),
};

describe("shared tokens", () => {
  let base: string;
  let clock: ManualClock;
  let sender: TestServer;
  let receiver: TestServer;
  let recvPort: number;
  let admin: SlipstreamClient;
  let manifestId: string;

  const share = (params: Record<string, unknown>, as: SlipstreamClient = admin) =>
    as.call("send.createSharedToken", { manifestId, ...params }) as Promise<Token>;

  async function sharedClient(token: string, password: string | null = null): Promise<SlipstreamClient> {
    const client = sender.client();
    const session = await client.call("authToken", { token, password });
    assert.ok(session.sessionKey);
    client.sessionKey = session.sessionKey;
    return client;
  }

  async function completeManifest(as: SlipstreamClient, srcPath: string): Promise<string> {
    const created = await as.call("send.createManifest", { fileMappings: [{ srcPath, destPath: "shared" }] });
    const done = await as.call("send.waitForManifest", {
      manifestId: created.manifestId,
      timeoutSeconds: 10,
    });
    assert.equal(done.status, "complete", done.errorMessage);
    return done.manifestId;
  }

  const toReceiver = (as: SlipstreamClient) =>
    as.call("send.createDestination", { destinationAddress: "127.0.0.1", destinationPort: recvPort });

  before(async () => {
    base = temporaryDir();
    receiver = await startTestServer(
      { recvPorts: [0], recvAllowAnonymous: true, sandboxDir: join(base, "recv", "%u") },
      { extensions: [receiveService(), sendExtension()] },
    );
    clock = new ManualClock();
    sender = await startTestServer(
      { sandboxDir: join(base, "send", "%u") },
      { clock, extensions: [sendExtension()] },
    );
    const info = await (await receiver.admin()).call("getServerInfo");
    recvPort = info.receiver.recvPorts[0]!.port;
    const pub = join(base, "send", "admin", "pub");
    mkdirSync(join(pub, "sub"), { recursive: true });
    for (const [path, data] of Object.entries(FILES)) writeFileSync(join(pub, path), data);
    writeFileSync(join(base, "send", "admin", "other.txt"), "other");
    admin = await sender.admin();
    manifestId = await completeManifest(admin, "/pub");
  });
  after(async () => {
    await sender.stop();
    await receiver.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it("creates, gets, lists and deletes shared tokens, with the link and events", async () => {
    const t = await share({ description: "for acme", downloadLimit: 3, userData: { k: "v" } });
    assert.equal(t.tokenType, "shared");
    assert.match(t.token, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      [t.owner, t.manifestId, t.permissions, t.path, t.downloadCount, t.downloadLimit, t.description],
      ["admin", manifestId, ["download"], null, 0, 3, "for acme"],
    );
    assert.deepEqual(
      [t.passwordRequired, t.userData, t.lastUseTime, t.ownerToken],
      [false, { k: "v" }, null, null],
    );
    assert.equal(t.expiryTime, clock.nowMicros() + 604_800_000_000);
    assert.equal(t.link, `slipstream://127.0.0.1:${sender.handle.apiPort}/download?token=${t.token}`);
    assert.deepEqual(await admin.call("send.getSharedToken", { token: t.token }), t);
    assert.ok((await admin.call("send.getSharedTokens", {})).some((x) => x.token === t.token));
    assert.ok((await admin.call("send.getSharedTokens", { manifestId })).some((x) => x.token === t.token));
    assert.deepEqual(await admin.call("send.getSharedTokens", { manifestId: "0".repeat(32) }), []);
    const created = await admin.call("getEventLog", { events: ["send.sharedToken*"] });
    const entry = created.find((e) => e._event === "send.sharedTokenCreated" && e.manifestId === manifestId);
    assert.equal(entry?.tokenPrefix, t.token.slice(0, 8));
    assert.ok(!JSON.stringify(created).includes(t.token));

    assert.equal(await admin.call("send.deleteSharedToken", { token: t.token }), null);
    await assert.rejects(admin.call("send.getSharedToken", { token: t.token }), rejectsWith("NOT_FOUND"));
    await assert.rejects(admin.call("authToken", { token: t.token }), rejectsWith("AUTH_FAILED"));
    const deleted = await admin.call("getEventLog", { events: ["send.sharedTokenDeleted"] });
    assert.ok(deleted.some((e) => e.tokenPrefix === t.token.slice(0, 8) && e.reason === "api"));
    assert.equal((await admin.call("getServerInfo")).sharedTokensAvailable, true);
  });

  it("checks parameters: manifest visible and not failed, never-expiring only when elevated", async () => {
    await assert.rejects(share({ manifestId: "0".repeat(32) }), rejectsWith("NOT_FOUND"));
    const failed = await admin.call("send.createManifest", { fileMappings: ["/missing"] });
    await admin.call("send.waitForManifest", { manifestId: failed.manifestId, timeoutSeconds: 10 });
    await assert.rejects(share({ manifestId: failed.manifestId }), rejectsWith("CONFLICT"));
    await assert.rejects(share({ expirySeconds: 0 }), rejectsWith("NOT_SUPERUSER"));
    await assert.rejects(share({ expiryTime: clock.nowMicros() - 1 }), rejectsWith("INVALID_ARGUMENT"));
    await assert.rejects(share({ downloadLimit: -1 }), rejectsWith("INVALID_ARGUMENT"));
    const elevated = await sender.admin(true);
    assert.equal((await share({ expirySeconds: 0 }, elevated)).expiryTime, null);
    const absolute = await share({ expiryTime: clock.nowMicros() + 5_000_000 });
    assert.equal(absolute.expiryTime, clock.nowMicros() + 5_000_000);
  });

  it("shows other users' shared tokens only to elevated superusers", async () => {
    await sender.handle.state.users.add("bob", "bob-password", false, clock.nowMicros());
    const bob = sender.client();
    await bob.login("bob", "bob-password");
    const own = await share({});
    await assert.rejects(share({}, bob), rejectsWith("NOT_FOUND"));
    await assert.rejects(bob.call("send.getSharedToken", { token: own.token }), rejectsWith("NOT_FOUND"));
    await assert.rejects(bob.call("send.deleteSharedToken", { token: own.token }), rejectsWith("NOT_FOUND"));
    await assert.rejects(bob.call("send.getSharedTokens", { owner: "admin" }), rejectsWith("FORBIDDEN"));
    assert.deepEqual(await bob.call("send.getSharedTokens", {}), []);
    const elevated = await sender.admin(true);
    assert.ok(
      (await elevated.call("send.getSharedTokens", { owner: "*" })).some((t) => t.token === own.token),
    );
    assert.equal((await elevated.call("send.getSharedToken", { token: own.token })).owner, "admin");
  });

  it("opens sessions that reach only the shared manifest and their own objects", async () => {
    const t = await share({});
    const link = await sharedClient(t.token);
    const session = await link.call("getSession");
    assert.deepEqual(
      [
        session.authMethod,
        session.user,
        session.path,
        session.permissions,
        session.token,
        session.canElevate,
      ],
      ["sharedToken", "admin", null, ["shared"], t.token, false],
    );
    assert.ok((await admin.call("send.getSharedToken", { token: t.token })).lastUseTime !== null);
    assert.equal(await link.call("echo", { text: "hi" }), "hi");
    assert.equal((await link.call("getServerInfo")).sharedTokensAvailable, true);
    assert.equal((await link.call("send.getManifest", { manifestId })).manifestId, manifestId);
    const files = await link.call("send.getManifestFiles", { manifestId });
    assert.deepEqual(files.fileMappings.map((f) => f.destPath).sort(), ["shared/a.bin", "shared/sub/b.txt"]);

    // the link carries only the token: getManifests is how its holder learns the manifestId
    assert.deepEqual(
      (await link.call("send.getManifests", {})).map((x) => x.manifestId),
      [manifestId],
    );
    assert.deepEqual(await link.call("send.getManifests", { status: "error" }), []);
    const other = await completeManifest(admin, "/other.txt");
    await assert.rejects(link.call("send.getManifest", { manifestId: other }), rejectsWith("NOT_FOUND"));
    await assert.rejects(link.call("send.getManifestFiles", { manifestId: other }), rejectsWith("NOT_FOUND"));
    for (const [method, params] of [
      ["ls", {}],
      ["lsRoots", {}],
      ["sleep", { milliseconds: 1 }],
      ["getEventLog", {}],
      ["superuser", {}],
      ["createAPIToken", {}],
      ["send.createManifest", { fileMappings: ["/pub"] }],
      ["send.waitForManifest", { manifestId }],
      ["send.deleteManifest", { manifestId }],
      ["send.createSharedToken", { manifestId }],
      ["send.getSharedTokens", {}],
      ["send.updateObjectUserData", { objectId: manifestId, userData: { a: "b" } }],
    ] as const) {
      await assert.rejects(link.call(method, params), rejectsWith("FORBIDDEN"), method);
    }

    // the same receiver identity as the owner's own destination: the link gets its own, and is
    // neither handed the owner's nor told its id
    const adminDest = await toReceiver(admin);
    const own = await toReceiver(link);
    assert.notEqual(own.destinationId, adminDest.destinationId);
    assert.deepEqual([own.owner, own.ownerToken], ["admin", t.token]);
    assert.deepEqual(
      (await link.call("send.getDestinations", {})).map((d) => d.destinationId),
      [own.destinationId],
    );
    await assert.rejects(
      link.call("send.getDestination", { destinationId: adminDest.destinationId }),
      rejectsWith("NOT_FOUND"),
    );
    await assert.rejects(
      link.call("send.createTransfer", { manifestId, destinationId: adminDest.destinationId }),
      rejectsWith("NOT_FOUND"),
    );
    await assert.rejects(
      link.call("send.createTransfer", { manifestId: other, destinationId: own.destinationId }),
      rejectsWith("NOT_FOUND"),
    );
    assert.equal((await admin.call("send.getSharedToken", { token: t.token })).downloadCount, 0);
    assert.equal(await link.call("send.deleteDestination", { destinationId: own.destinationId }), null);
    await admin.call("send.deleteDestination", { destinationId: adminDest.destinationId });
  });

  it("delivers the shared manifest to the recipient's receiver; counts and limits downloads", async () => {
    const t = await share({ downloadLimit: 1, password: "open sesame" });
    assert.equal(t.passwordRequired, true);
    await assert.rejects(admin.call("authToken", { token: t.token }), rejectsWith("AUTH_FAILED"));
    await assert.rejects(
      admin.call("authToken", { token: t.token, password: "no" }),
      rejectsWith("AUTH_FAILED"),
    );
    const link = await sharedClient(t.token, "open sesame");
    const dest = await toReceiver(link);
    const transfer = await link.call("send.createTransfer", {
      manifestId,
      destinationId: dest.destinationId,
      destinationPath: "got",
    });
    assert.deepEqual([transfer.owner, transfer.ownerToken], ["admin", t.token]);
    const end = await link.call("send.waitForTransfer", {
      transferId: transfer.transferId,
      timeoutSeconds: 60,
    });
    assert.equal(end.status, "complete", `${end.errorCode} ${end.errorMessage}`);
    for (const [path, data] of Object.entries(FILES)) {
      const got = readFileSync(join(base, "recv", "anonymous", "got", "shared", path));
      assert.equal(sha(got), sha(data), path);
    }
    assert.deepEqual(
      (await link.call("send.getTransfers", {})).map((x) => x.transferId),
      [transfer.transferId],
    );
    assert.equal((await link.call("send.getTransferFiles", { transferId: transfer.transferId })).length, 2);
    // the owner sees what was downloaded through the link
    assert.equal(
      (await admin.call("send.getTransfer", { transferId: transfer.transferId })).status,
      "complete",
    );

    const after1 = await admin.call("send.getSharedToken", { token: t.token });
    assert.equal(after1.downloadCount, 1);
    await assert.rejects(
      link.call("send.createTransfer", { manifestId, destinationId: dest.destinationId }),
      rejectsWith("FORBIDDEN"),
    );
    assert.equal((await admin.call("send.getSharedToken", { token: t.token })).downloadCount, 1);
    const used = await admin.call("getEventLog", { events: ["send.sharedTokenUsed"] });
    const entry = used.find((e) => e.transferId === transfer.transferId);
    assert.deepEqual([entry?.tokenPrefix, entry?.downloadCount], [t.token.slice(0, 8), 1]);
    await link.call("send.deleteDestination", { destinationId: dest.destinationId });
  });

  it("expires tokens and their sessions; collection deletes them; the manifest is referenced meanwhile", async () => {
    const m = await completeManifest(admin, "/other.txt");
    assert.equal((await admin.call("send.getManifest", { manifestId: m })).referenced, false);
    const t = await share({ manifestId: m, expirySeconds: 60 });
    assert.equal((await admin.call("send.getManifest", { manifestId: m })).referenced, true);
    await assert.rejects(admin.call("send.deleteManifest", { manifestId: m }), rejectsWith("CONFLICT"));
    const link = await sharedClient(t.token);
    clock.advanceMs(61_000);
    await assert.rejects(link.call("getSession"), rejectsWith("AUTH_REQUIRED"));
    await assert.rejects(admin.call("authToken", { token: t.token }), rejectsWith("AUTH_FAILED"));
    assert.ok(!(await admin.call("send.getSharedTokens", {})).some((x) => x.token === t.token));
    assert.ok(
      (await admin.call("send.getSharedTokens", { includeExpired: true })).some((x) => x.token === t.token),
    );
    assert.equal((await admin.call("send.getManifest", { manifestId: m })).referenced, false);
    const store = sharedTokensOf(sender.handle.state);
    const later = await share({ manifestId: m, expirySeconds: 10 });
    assert.equal(store.deleteExpired(later.expiryTime! - 1) >= 1, true, "the expired one goes");
    assert.ok(store.find(later.token), "the live one stays");
    assert.equal(store.deleteExpired(later.expiryTime!), 1);
    assert.equal(store.collectExpired(), 0);
    await assert.rejects(admin.call("send.getSharedToken", { token: t.token }), rejectsWith("NOT_FOUND"));
    assert.equal(await admin.call("send.deleteManifest", { manifestId: m }), null);
  });

  it("ends the sessions of a deleted token at once", async () => {
    const t = await share({});
    const a = await sharedClient(t.token);
    const b = await sharedClient(t.token);
    await admin.call("send.deleteSharedToken", { token: t.token });
    await assert.rejects(a.call("getSession"), rejectsWith("AUTH_REQUIRED"));
    await assert.rejects(b.call("getSession"), rejectsWith("AUTH_REQUIRED"));
  });

  it("lets API-token sessions with `share` offer their own manifests (ownerToken)", async () => {
    const api = await admin.call("createAPIToken", { permissions: ["download", "share"], path: "/pub" });
    const client = sender.client();
    const session = await client.call("authToken", { token: api.token });
    client.sessionKey = session.sessionKey!;
    const own = await completeManifest(client, "/sub");
    const t = await share({ manifestId: own }, client);
    assert.deepEqual(
      [t.owner, t.ownerToken, t.ownerTokenSession, t.manifestId],
      ["admin", api.token, session.sessionId, own],
    );
    await assert.rejects(share({}, client), rejectsWith("NOT_FOUND")); // the password session's manifest
    assert.deepEqual(
      (await client.call("send.getSharedTokens", {})).map((x) => x.token),
      [t.token],
    );
    assert.equal((await admin.call("send.getSharedToken", { token: t.token })).ownerToken, api.token);
    // the link works although the manifest belongs to the API token
    const link = await sharedClient(t.token);
    assert.equal((await link.call("send.getManifest", { manifestId: own })).totalFiles, 1);

    const readOnly = await admin.call("createAPIToken", { permissions: ["download"] });
    const reader = sender.client();
    reader.sessionKey = (await reader.call("authToken", { token: readOnly.token })).sessionKey!;
    await assert.rejects(share({}, reader), rejectsWith("FORBIDDEN"));
    await assert.rejects(reader.call("send.getSharedTokens", {}), rejectsWith("FORBIDDEN"));
    assert.equal(await client.call("send.deleteSharedToken", { token: t.token }), null);
  });

  it("updates and deletes user data of shared and API tokens (owner only)", async () => {
    const t = await share({ userData: { a: "1" } });
    assert.deepEqual(
      await admin.call("send.updateObjectUserData", { objectId: t.token, userData: { b: "2" } }),
      {
        a: "1",
        b: "2",
      },
    );
    assert.deepEqual(await admin.call("send.deleteObjectUserData", { objectId: t.token, keys: ["a"] }), {
      b: "2",
    });
    assert.deepEqual((await admin.call("send.getSharedToken", { token: t.token })).userData, { b: "2" });
    const api = await admin.call("createAPIToken", { userData: { x: "y" } });
    assert.deepEqual(
      await admin.call("send.updateObjectUserData", { objectId: api.token, userData: { z: "w" } }),
      {
        x: "y",
        z: "w",
      },
    );
    assert.deepEqual((await admin.call("getAPIToken", { token: api.token })).userData, { x: "y", z: "w" });
    const bob = sender.client();
    await bob.login("bob", "bob-password");
    await assert.rejects(
      bob.call("send.updateObjectUserData", { objectId: t.token, userData: { c: "3" } }),
      rejectsWith("NOT_FOUND"),
    );
  });

  it("persists tokens and download counts across a restart of the store", async () => {
    const t = await share({ description: "kept", downloadLimit: 5 });
    const state = sender.handle.state;
    sharedTokensOf(state).countDownload(sharedTokensOf(state).find(t.token)!, "f".repeat(32), "test");
    const reopened = new SharedTokenStore(state.database, state.clock, state.events, false);
    const record = reopened.find(t.token);
    assert.deepEqual(
      [record?.description, record?.downloadCount, record?.manifestId],
      ["kept", 1, manifestId],
    );
  });
});
