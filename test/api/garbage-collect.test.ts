/**
 * Garbage collection through the API (api.md §2.8): superusers only, settings validated and
 * persisted across a restart, `garbageCollect` removing expired tokens, request records, event-log
 * entries and, after a real loopback transfer, the sending side's transfer and manifest. A manual
 * clock moves time forward; nothing sleeps.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sendExtension } from "../../src/api/send-extension.js";
import type { SlipstreamClient } from "../../src/client/client.js";
import { readAdminPassword } from "../../src/client/credentials.js";
import { SlipstreamApiError } from "../../src/client/errors.js";
import { ManualClock } from "../../src/server/clock.js";
import { receiveService } from "../../src/server/engine/receive-service.js";
import { DEFAULT_GC_SETTINGS } from "../../src/server/gc/index.js";
import { sendDirectory, startTestServer, type TestServer } from "./helpers.js";

function rejectsWith(code: string, param?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SlipstreamApiError, String(error));
    assert.equal(error.code, code, error.message);
    if (param !== undefined) assert.match(error.message, new RegExp(param));
    return true;
  };
}

type Settings = typeof DEFAULT_GC_SETTINGS & { lastRunTime: number | null; nextRunTime: number | null };
type Result = Record<"transfers" | "manifests" | "apiTokens" | "sharedTokens" | "recvTransfers", number> &
  Record<"requests" | "events" | "runTime", number>;

describe("garbage collection API", () => {
  let server: TestServer;
  let clock: ManualClock;
  let admin: SlipstreamClient;
  let startTime: number;

  before(async () => {
    clock = new ManualClock();
    startTime = clock.nowMicros();
    server = await startTestServer({}, { clock });
    admin = await server.admin(true);
  });
  after(() => server.stop());

  it("is for elevated superusers only", async () => {
    const plain = await server.admin(false);
    await assert.rejects(plain.call("getGarbageCollectSettings", {}), rejectsWith("NOT_SUPERUSER"));
    await assert.rejects(plain.call("garbageCollect", {}), rejectsWith("NOT_SUPERUSER"));
    await server.handle.state.users.add("bob", "bob-password", false, clock.nowMicros());
    const bob = server.client();
    await bob.login("bob", "bob-password");
    await assert.rejects(bob.call("updateGarbageCollectSettings", {}), rejectsWith("NOT_SUPERUSER"));
    // API-token sessions never reach GC methods (api.md §1.4)
    const token = (await plain.call("createAPIToken", { permissions: ["download", "modify", "share"] })) as {
      token: string;
    };
    const tokenClient = server.client();
    const session = await tokenClient.call("authToken", { token: token.token });
    tokenClient.sessionKey = session.sessionKey ?? null;
    await assert.rejects(tokenClient.call("garbageCollect", {}), rejectsWith("FORBIDDEN"));
    for (const c of [plain, bob, tokenClient]) c.close();
  });

  it("shows the settings with the schedule, also in ServerInfo.configuration", async () => {
    const settings = (await admin.call("getGarbageCollectSettings", {})) as Settings;
    assert.deepEqual(settings, {
      ...DEFAULT_GC_SETTINGS,
      lastRunTime: null,
      nextRunTime: startTime + 3600e6,
    });
    const info = (await admin.call("getServerInfo", {})) as unknown as {
      configuration: { garbageCollect: Settings };
    };
    assert.deepEqual(info.configuration.garbageCollect, settings);
  });

  it("refuses invalid settings and changes nothing", async () => {
    for (const params of [
      { intervalSeconds: 59 },
      { transferExpirySeconds: -1 },
      { eventLogMaxEntries: 2.5 },
      { requestExpirySeconds: "60" },
      { somethingElse: 1 },
    ]) {
      await assert.rejects(
        admin.call("updateGarbageCollectSettings", params),
        rejectsWith("INVALID_ARGUMENT"),
      );
    }
    const settings = (await admin.call("getGarbageCollectSettings", {})) as Settings;
    assert.equal(settings.intervalSeconds, DEFAULT_GC_SETTINGS.intervalSeconds);
    assert.equal(settings.transferExpirySeconds, DEFAULT_GC_SETTINGS.transferExpirySeconds);
  });

  it("garbageCollect removes expired tokens, request records and old event-log entries", async () => {
    const soon = (await admin.call("createAPIToken", { expirySeconds: 60 })) as { token: string };
    const lasting = (await admin.call("createAPIToken", { expirySeconds: 86_400 })) as { token: string };
    const request = (await admin.call("echoAsync", { text: "x" })) as { requestId: string };
    assert.equal(await admin.call("getRequestResult", { requestId: request.requestId }), "x");
    await admin.call("updateGarbageCollectSettings", { requestExpirySeconds: 120, eventLogMaxEntries: 5 });

    clock.advanceMs(121_000);
    const result = (await admin.call("garbageCollect", {})) as Result;
    assert.equal(result.apiTokens, 1);
    assert.equal(result.requests, 1);
    assert.ok(result.events > 0, "the log is cut to 5 entries");
    assert.equal(result.runTime, clock.nowMicros());
    assert.equal(result.transfers, 0);
    const tokens = (await admin.call("getAPITokens", {})) as { token: string }[];
    assert.ok(!tokens.some((t) => t.token === soon.token));
    assert.ok(tokens.some((t) => t.token === lasting.token));
    await assert.rejects(
      admin.call("getRequestStatus", { requestId: request.requestId }),
      rejectsWith("NOT_FOUND"),
    );

    const log = (await admin.call("getEventLog", { order: "desc", limit: 10 })) as Record<string, unknown>[];
    assert.ok(log.length <= 10);
    const pass = log.find((e) => e._event === "server.garbageCollected");
    assert.ok(pass);
    assert.equal(pass.apiTokens, 1);
    assert.ok(log.some((e) => e._event === "server.apiTokenDeleted" && e.reason === "expired"));

    const settings = (await admin.call("getGarbageCollectSettings", {})) as Settings;
    assert.equal(settings.lastRunTime, result.runTime);
    assert.equal(settings.nextRunTime, startTime + 3600e6, "the periodic schedule is not shifted");
  });

  it("keeps updated settings across a restart", async () => {
    const base = await mkdtemp(join(tmpdir(), "slipstream-gc-api-"));
    const stateDir = join(base, "state");
    const login = async (s: TestServer) => {
      const c = s.client();
      await c.login("admin", readAdminPassword(stateDir) ?? "");
      await c.superuser();
      return c;
    };
    let first: TestServer | null = await startTestServer({ stateDir });
    try {
      const c = await login(first);
      const updated = (await c.call("updateGarbageCollectSettings", {
        intervalSeconds: 600,
        manifestExpirySeconds: 0,
      })) as Settings;
      assert.equal(updated.intervalSeconds, 600);
      assert.equal(updated.manifestExpirySeconds, 0);
      assert.equal(updated.recvTransferExpirySeconds, DEFAULT_GC_SETTINGS.recvTransferExpirySeconds);
      c.close();
      await first.stop(); // removes only the helper's own temporary dir, not stateDir
      first = null;
      const second = await startTestServer({ stateDir });
      try {
        const c2 = await login(second);
        const kept = (await c2.call("getGarbageCollectSettings", {})) as Settings;
        assert.equal(kept.intervalSeconds, 600);
        assert.equal(kept.manifestExpirySeconds, 0);
        c2.close();
      } finally {
        await second.stop();
      }
    } finally {
      await first?.stop();
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe("garbage collection of both sides after a real transfer", () => {
  it("removes transfer, manifest and receive records when they expire; never the destination", async () => {
    const base = await mkdtemp(join(tmpdir(), "slipstream-gc-send-"));
    // transfer times come from the wall clock: the manual clock starts there
    const clock = new ManualClock(Date.now() * 1000);
    const recvClock = new ManualClock(Date.now() * 1000);
    const receiver = await startTestServer(
      { recvPorts: [0], recvAllowAnonymous: true, sandboxDir: join(base, "recv", "%u") },
      { clock: recvClock, extensions: [receiveService()] },
    );
    const sender = await startTestServer({}, { clock, extensions: [sendExtension()] });
    try {
      const rc = await receiver.admin();
      const info = (await rc.call("getServerInfo", {})) as { receiver: { recvPorts: { port: number }[] } };
      const src = join(base, "src");
      await mkdir(src);
      await writeFile(join(src, "a.txt"), "hello");
      const api = await sender.admin(true);
      await api.call("updateGarbageCollectSettings", {
        transferExpirySeconds: 7200,
        manifestExpirySeconds: 60,
      });
      const end = await sendDirectory(api, info.receiver.recvPorts[0]!.port, src);

      assert.equal(end.status, "complete");
      assert.equal(end.expiryTime, end.endTime + 7200e6);
      const used = (await api.call("send.getManifest", { manifestId: end.manifestId })) as {
        expiryTime: number | null;
      };
      assert.equal(used.expiryTime, end.expiryTime, "the manifest lives as long as the transfer using it");

      // the receiving side: its record goes recvTransferExpirySeconds (1 h) after it ended
      let recvAdmin = await receiver.admin(true); // anonymous receptions: superusers only
      type Received = { transferId: string; status: string; endTime: number; expiryTime: number | null };
      let received: Received[] = [];
      for (let i = 0; i < 100 && received[0]?.status !== "complete"; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
        received = (await recvAdmin.call("recv.getTransfers", {})) as Received[];
      }
      assert.equal(received[0]!.transferId, end.transferId);
      assert.equal(received[0]!.expiryTime, received[0]!.endTime + 3600e6);
      recvClock.advanceMs(3601_000);
      recvAdmin.close();
      recvAdmin = await receiver.admin(true);
      assert.equal(((await recvAdmin.call("garbageCollect", {})) as Result).recvTransfers, 1);
      assert.deepEqual(await recvAdmin.call("recv.getTransfers", {}), []);
      recvAdmin.close();

      // each call logs in again: the manual clock's jumps end idle sessions
      const elevated = () => sender.admin(true);
      const collect = async () => {
        const c = await elevated();
        const result = (await c.call("garbageCollect", {})) as Result;
        c.close();
        return result;
      };
      const first = await collect();
      assert.deepEqual([first.transfers, first.manifests], [0, 0]);
      clock.advanceMs(120_000);
      assert.equal((await collect()).manifests, 0, "past its expiry, but the unexpired transfer uses it");
      clock.advanceMs(7200_000);
      const result = await collect();
      assert.equal(result.transfers, 1);
      assert.equal(result.manifests, 1);
      const later = await elevated();
      await assert.rejects(
        later.call("send.getTransfer", { transferId: end.transferId }),
        rejectsWith("NOT_FOUND"),
      );
      await assert.rejects(
        later.call("send.getManifest", { manifestId: end.manifestId }),
        rejectsWith("NOT_FOUND"),
      );
      const kept = (await later.call("send.getDestination", { destinationId: end.destinationId })) as {
        destinationId: string;
      };
      assert.equal(kept.destinationId, end.destinationId);
      const log = (await later.call("getEventLog", {
        events: ["send.transferDeleted", "send.manifestDeleted"],
      })) as Record<string, unknown>[];
      assert.deepEqual(
        log.map((e) => [e._event, e.reason]),
        [
          ["send.transferDeleted", "expired"],
          ["send.manifestDeleted", "expired"],
        ],
      );
      later.close();
      rc.close();
      api.close();
    } finally {
      await sender.stop();
      await receiver.stop();
      await rm(base, { recursive: true, force: true });
    }
  });
});
