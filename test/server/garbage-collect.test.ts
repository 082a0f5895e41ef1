/**
 * The collection pass (server.md §13) below the API: settings (validation, persistence), the
 * schedule (with a fake timer and a manual clock: nothing sleeps), the event-log, token, receive
 * and send collectors, and expiry 0 = forever.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../src/server/clock.js";
import { ServerDatabase } from "../../src/server/database.js";
import { ServiceError } from "../../src/server/errors.js";
import { EventLog, type EventLogEntry } from "../../src/server/event-log.js";
import { removePartFiles } from "../../src/server/gc/recv-collector.js";
import { ServerEvents } from "../../src/server/events.js";
import {
  DEFAULT_GC_SETTINGS,
  GarbageCollector,
  recvCollector,
  type GcTimer,
} from "../../src/server/gc/index.js";
import { GcSettingsStore } from "../../src/server/gc/gc-store.js";
import { eventLogCollector, apiTokenCollector } from "../../src/server/gc/server-collectors.js";
import { manifestExpiryTime, transferExpiryTime } from "../../src/server/gc/send-collector.js";
import { silentLogger } from "../../src/server/logger.js";
import type { ReceiveTransferView, RecvStatus } from "../../src/server/recv/recv-records.js";
import type { ManifestRecord, TransferRecord } from "../../src/server/send/records.js";
import { ApiTokenStore } from "../../src/server/tokens/index.js";

const HOUR = 3600e6;

/** A timer the test fires by hand. */
class FakeTimer {
  pending: { task: () => void; ms: number } | null = null;
  readonly timer: GcTimer = (task, ms) => {
    const entry = { task, ms };
    this.pending = entry;
    return () => {
      if (this.pending === entry) this.pending = null;
    };
  };
  pendingMs(): number | null {
    return this.pending?.ms ?? null;
  }
  fire(): void {
    const entry = this.pending;
    assert.ok(entry, "a pass is scheduled");
    this.pending = null;
    entry.task();
  }
}

interface Fixture {
  dir: string;
  database: ServerDatabase;
  clock: ManualClock;
  events: ServerEvents;
  log: EventLog;
  timer: FakeTimer;
  entries: EventLogEntry[];
  collector(): GarbageCollector;
  cleanup(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "slipstream-gc-"));
  const database = ServerDatabase.open(dir);
  const clock = new ManualClock();
  const log = new EventLog(database);
  const events = new ServerEvents({ log, serverId: "a".repeat(32), clock, logger: silentLogger() });
  const entries: EventLogEntry[] = [];
  events.onEvent((e) => entries.push(e));
  const timer = new FakeTimer();
  return {
    dir,
    database,
    clock,
    events,
    log,
    timer,
    entries,
    collector: () =>
      new GarbageCollector({
        store: new GcSettingsStore(database),
        clock,
        events,
        logger: silentLogger(),
        timer: timer.timer,
      }),
    async cleanup() {
      database.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const invalid = (param: string) => (error: unknown) => {
  assert.ok(error instanceof ServiceError, String(error));
  assert.equal(error.code, "INVALID_ARGUMENT");
  assert.equal(error.param, param);
  return true;
};

test("settings: defaults, validation, persistence in the database", async () => {
  const f = await fixture();
  try {
    const gc = f.collector();
    assert.deepEqual(gc.settings(), { ...DEFAULT_GC_SETTINGS, lastRunTime: null, nextRunTime: null });
    assert.throws(() => gc.update({ intervalSeconds: 59 }), invalid("intervalSeconds"));
    assert.throws(() => gc.update({ transferExpirySeconds: -1 }), invalid("transferExpirySeconds"));
    assert.throws(() => gc.update({ eventLogMaxEntries: 1.5 }), invalid("eventLogMaxEntries"));
    assert.deepEqual(gc.settings(), { ...DEFAULT_GC_SETTINGS, lastRunTime: null, nextRunTime: null });
    const updated = gc.update({ intervalSeconds: 60, manifestExpirySeconds: 0 });
    assert.equal(updated.intervalSeconds, 60);
    assert.equal(updated.manifestExpirySeconds, 0);
    assert.equal(updated.transferExpirySeconds, DEFAULT_GC_SETTINGS.transferExpirySeconds);
    await gc.run();
    // a new collector on the same database (a restart) reads them back, with the last run
    const again = f.collector();
    assert.equal(again.settings().intervalSeconds, 60);
    assert.equal(again.settings().manifestExpirySeconds, 0);
    assert.equal(again.settings().lastRunTime, f.clock.nowMicros());
  } finally {
    await f.cleanup();
  }
});

test("schedule: a pass every interval; garbageCollect does not shift it; a new interval does", async () => {
  const f = await fixture();
  try {
    const gc = f.collector();
    const start = f.clock.nowMicros();
    gc.start();
    assert.equal(gc.settings().nextRunTime, start + HOUR);
    assert.equal(f.timer.pendingMs(), 3600_000);

    f.clock.advanceMs(10 * 60_000);
    await gc.run(); // on demand
    assert.equal(gc.settings().lastRunTime, start + 10 * 60e6);
    assert.equal(gc.settings().nextRunTime, start + HOUR, "the schedule is not shifted");

    f.clock.advanceMs(50 * 60_000);
    f.timer.fire();
    await gc.stop(); // waits for the pass the timer began
    const passes = f.entries.filter((e) => e._event === "server.garbageCollected");
    assert.equal(passes.length, 2);
    assert.equal(passes[1]!.runTime, start + HOUR);
    assert.equal(f.timer.pendingMs(), null, "stopped: nothing scheduled");
    assert.equal(gc.settings().nextRunTime, null);

    const restarted = f.collector();
    restarted.start();
    assert.equal(restarted.settings().nextRunTime, start + 2 * HOUR, "one interval after the last pass");
    f.clock.advanceMs(20 * 60_000);
    restarted.update({ intervalSeconds: 600 });
    // the period began at the last pass, 20 minutes ago: 600 s after it is overdue, so at once
    assert.equal(restarted.settings().nextRunTime, f.clock.nowMicros());
    assert.equal(f.timer.pendingMs(), 0);
    await restarted.stop();
  } finally {
    await f.cleanup();
  }
});

test("a timer that fires before the clock reached the due time waits again", async () => {
  const f = await fixture();
  try {
    const gc = f.collector();
    gc.start();
    f.clock.advanceMs(1000);
    f.timer.fire();
    assert.equal(f.entries.filter((e) => e._event === "server.garbageCollected").length, 0);
    assert.equal(f.timer.pendingMs(), 3599_000);
    await gc.stop();
  } finally {
    await f.cleanup();
  }
});

test("each pass fires server.garbageCollected with the counts; a failing collector is skipped", async () => {
  const f = await fixture();
  try {
    const gc = f.collector();
    gc.register({ name: "broken", collect: () => Promise.reject(new Error("boom")) });
    gc.register({ name: "a", collect: () => ({ transfers: 2, manifests: 1 }) });
    gc.register({ name: "b", collect: async () => ({ transfers: 1, requests: 4 }) });
    const result = await gc.run();
    assert.deepEqual(result, {
      transfers: 3,
      manifests: 1,
      apiTokens: 0,
      sharedTokens: 0,
      recvTransfers: 0,
      requests: 4,
      events: 0,
      runTime: f.clock.nowMicros(),
    });
    const entry = f.entries.find((e) => e._event === "server.garbageCollected");
    assert.ok(entry);
    assert.equal(entry.owner, null);
    assert.equal(entry.transfers, 3);
    assert.equal(entry.runTime, result.runTime);
  } finally {
    await f.cleanup();
  }
});

test("event log: entries older than the expiry and beyond the count go; 0 keeps them", async () => {
  const f = await fixture();
  try {
    const gc = f.collector();
    gc.register(eventLogCollector(f.log));
    for (let i = 0; i < 5; i++) f.events.emit("old.event", { i });
    f.clock.advanceMs(8 * 24 * 3600_000);
    for (let i = 0; i < 5; i++) f.events.emit("new.event", { i });
    gc.update({ eventLogMaxEntries: 3 });
    const query = { afterSeq: 0, since: null, until: null, events: null, order: "asc" as const, offset: 0 };
    const all = () => f.log.query({ ...query, limit: 1000, owner: null });
    assert.equal((await gc.run()).events, 7, "5 by age, 2 by count");
    // the pass's own entry came after the pruning
    assert.deepEqual(
      all().map((e) => e._event),
      ["new.event", "new.event", "new.event", "server.garbageCollected"],
    );
    gc.update({ eventLogExpirySeconds: 0, eventLogMaxEntries: 0 });
    f.clock.advanceMs(365 * 24 * 3600_000);
    assert.equal((await gc.run()).events, 0);
    assert.equal(all().length, 5);
  } finally {
    await f.cleanup();
  }
});

test("API tokens are deleted at the first pass after their expiry", async () => {
  const f = await fixture();
  try {
    const gc = f.collector();
    const store = new ApiTokenStore(f.database, f.clock, f.events, false);
    gc.register(apiTokenCollector(store));
    const base = { owner: "bob", permissions: ["download"] as const, path: "/", description: "" };
    const spec = { ...base, password: null, userData: {} };
    const soon = await store.create({ ...spec, expiryTime: f.clock.nowMicros() + 60e6 });
    const never = await store.create({ ...spec, expiryTime: null });
    assert.equal((await gc.run()).apiTokens, 0);
    f.clock.advanceMs(60_000);
    assert.equal(store.live(soon.token), null, "stopped working at expiryTime");
    assert.ok(store.find(soon.token), "still there until the pass");
    assert.equal((await gc.run()).apiTokens, 1);
    assert.equal(store.find(soon.token), undefined);
    assert.ok(store.find(never.token));
    const deleted = f.entries.find((e) => e._event === "server.apiTokenDeleted");
    assert.equal(deleted?.reason, "expired");
  } finally {
    await f.cleanup();
  }
});

function recvRecord(
  id: string,
  status: RecvStatus,
  endTime: number | null,
  rootPath: string,
): ReceiveTransferView {
  return {
    aveRecvRate: 0,
    aveRecvRateWindow: 0,
    blocksDuplicate: 0,
    blocksRecv: 0,
    bytesRecv: 0,
    cipher: "aes-256-gcm",
    destinationPath: "in",
    encryptionEnabled: true,
    endTime,
    expiryTime: null,
    filesComplete: 0,
    lastCheckpointTime: null,
    lastError: null,
    lastErrorMessage: null,
    lastErrorTime: null,
    lastRecvTime: null,
    lastSendTime: null,
    packetsRecv: 0,
    packetsSent: 0,
    receivingUser: "bob",
    rootPath,
    snapshotTime: 0,
    sourceIP: "127.0.0.1",
    sourcePort: 1,
    sourcePublicKey: null,
    sourceServerId: null,
    sourceServerUid: null,
    startTime: 0,
    status,
    totalFiles: 1,
    totalSize: 1,
    transferId: id,
  };
}

test("receive records go after recvTransferExpirySeconds, with the part files of failed ones", async () => {
  const f = await fixture();
  try {
    const gc = f.collector();
    const root = join(f.dir, "recv");
    const checkpoints = join(f.dir, "checkpoints", "8886");
    await mkdir(join(root, "sub"), { recursive: true });
    await mkdir(checkpoints, { recursive: true });
    const failed = "1".repeat(32);
    const done = "2".repeat(32);
    const live = "3".repeat(32);
    const recent = "4".repeat(32);
    const files = {
      failedPart: join(root, `.a.bin.slipstream-${failed}.part`),
      failedNested: join(root, "sub", `.b.bin.slipstream-${failed}.part`),
      otherPart: join(root, `.a.bin.slipstream-${live}.part`),
      target: join(root, "sub", "b.bin"),
      failedCheckpoint: join(checkpoints, `${failed}.receiver.json`),
      liveCheckpoint: join(checkpoints, `${live}.receiver.json`),
    };
    for (const path of Object.values(files)) await writeFile(path, "x");
    const now = f.clock.nowMicros();
    const records = new Map<string, ReceiveTransferView>([
      [failed, recvRecord(failed, "error", now - 2 * HOUR, root)],
      [done, recvRecord(done, "complete", now - 2 * HOUR, root)],
      [live, recvRecord(live, "receiving", null, root)],
      [recent, recvRecord(recent, "cancelled", now - HOUR / 2, root)],
    ]);
    gc.register(
      recvCollector(
        { all: () => [...records.values()], remove: (id) => void records.delete(id) },
        { checkpointDirs: () => [checkpoints], logger: silentLogger() },
      ),
    );
    assert.equal((await gc.run()).recvTransfers, 2);
    assert.deepEqual([...records.keys()], [live, recent]);
    assert.equal(existsSync(files.failedPart), false);
    assert.equal(existsSync(files.failedNested), false);
    assert.equal(existsSync(files.failedCheckpoint), false);
    assert.equal(existsSync(files.otherPart), true, "another transfer's part file stays");
    assert.equal(existsSync(files.target), true);
    assert.equal(existsSync(files.liveCheckpoint), true);

    gc.update({ recvTransferExpirySeconds: 0 });
    f.clock.advanceMs(100 * 3600_000);
    assert.equal((await gc.run()).recvTransfers, 0, "0 keeps them forever");
  } finally {
    await f.cleanup();
  }
});

test("expiryTime of transfers and manifests as the collector will see them", () => {
  const settings = { transferExpirySeconds: 100, manifestExpirySeconds: 1000 };
  const transfer = (manifestId: string, status: TransferRecord["status"], endTime: number | null) =>
    ({ transferId: "t", manifestId, status, endTime }) as TransferRecord;
  const manifest = { manifestId: "m", status: "complete", creationTime: 0 } as ManifestRecord;
  assert.equal(transferExpiryTime(transfer("m", "complete", 5e6), settings), 105e6);
  assert.equal(transferExpiryTime(transfer("m", "queued", null), settings), null);
  assert.equal(
    transferExpiryTime(transfer("m", "error", 5e6), { ...settings, transferExpirySeconds: 0 }),
    null,
  );
  assert.equal(manifestExpiryTime(manifest, [], settings), 1000e6);
  assert.equal(manifestExpiryTime(manifest, [transfer("m", "complete", 2000e6)], settings), 2100e6);
  assert.equal(manifestExpiryTime(manifest, [transfer("m", "transferring", null)], settings), null);
  assert.equal(manifestExpiryTime(manifest, [transfer("other", "transferring", null)], settings), 1000e6);
  assert.equal(manifestExpiryTime(manifest, [], settings, true), null, "shared");
  assert.equal(manifestExpiryTime({ ...manifest, status: "pending" }, [], settings), null);
});

test("part files are searched within a bounded number of directory entries", async () => {
  const dir = await mkdtemp(join(tmpdir(), "gc-walk-"));
  try {
    const suffix = ".slipstream-abc.part";
    for (const sub of ["a", "b", "c"]) {
      await mkdir(join(dir, sub));
      await writeFile(join(dir, sub, `.f${suffix}`), "x");
      await writeFile(join(dir, sub, "keep.txt"), "y");
    }
    // 3 directories + 2 files in the first: the budget ends inside the walk
    assert.equal(await removePartFiles(dir, suffix, { entries: 3 }), 1);
    assert.equal(await removePartFiles(dir, suffix), 2);
    for (const sub of ["a", "b", "c"]) assert.ok(existsSync(join(dir, sub, "keep.txt")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
