/** The collection pass drops receive records (from memory and the database) once they have expired. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../../../src/server/clock.js";
import { ServerDatabase } from "../../../src/server/database.js";
import { ServerEvents } from "../../../src/server/events.js";
import { silentLogger } from "../../../src/server/logger.js";
import { epochMicrosNow } from "../../../src/io/drivers/clock.js";
import { DEFAULT_GC_SETTINGS, recvCollector } from "../../../src/server/gc/index.js";
import { RecvRecords } from "../../../src/server/recv/recv-records-service.js";
import { RecvStore } from "../../../src/server/recv/recv-store.js";
import type { ReceiveTransferView } from "../../../src/server/recv/recv-records.js";

function view(id: string, endTime: number): ReceiveTransferView {
  const now = epochMicrosNow();
  return {
    aveRecvRate: 0,
    aveRecvRateWindow: 0,
    blocksDuplicate: 0,
    blocksRecv: 1,
    bytesRecv: 10,
    cipher: "aes-256-gcm",
    destinationPath: "",
    encryptionEnabled: true,
    endTime,
    expiryTime: endTime + 3600e6,
    filesComplete: 1,
    lastCheckpointTime: null,
    lastError: null,
    lastErrorMessage: null,
    lastErrorTime: null,
    lastRecvTime: null,
    lastSendTime: null,
    packetsRecv: 1,
    packetsSent: 1,
    receivingUser: "anonymous",
    rootPath: "/tmp/x",
    snapshotTime: now,
    sourceIP: "127.0.0.1",
    sourcePort: 1,
    sourcePublicKey: null,
    sourceServerId: null,
    sourceServerUid: null,
    startTime: now,
    status: "complete",
    totalFiles: 1,
    totalSize: 10,
    transferId: id,
  };
}

test("expired receive records are dropped, the others kept", async () => {
  const dir = await mkdtemp(join(tmpdir(), "slipstream-recvexp-"));
  const database = ServerDatabase.open(dir);
  try {
    const store = new RecvStore(database, true);
    const expired = "a".repeat(32);
    const kept = "b".repeat(32);
    store.saveTransfer({
      view: view(expired, epochMicrosNow() - 3600e6 - 1),
      activeSeconds: 1,
      sandboxRoot: "/",
      started: true,
    });
    store.saveTransfer({
      view: view(kept, epochMicrosNow()),
      activeSeconds: 1,
      sandboxRoot: "/",
      started: true,
    });
    const events = new ServerEvents({
      log: null,
      serverId: "c".repeat(32),
      clock: systemClock,
      logger: silentLogger(),
    });
    const records = new RecvRecords(store, events, {
      expirySeconds: 3600,
      rateWindowSeconds: 10,
      checkpointSeconds: 5,
      clock: systemClock,
    });
    assert.equal(records.all().length, 2);
    const collector = recvCollector(records, { checkpointDirs: () => [], logger: silentLogger() });
    const removed = await collector.collect({ now: epochMicrosNow(), settings: DEFAULT_GC_SETTINGS });
    assert.deepEqual(removed, { recvTransfers: 1 });
    assert.deepEqual(
      records.all().map((r) => r.transferId),
      [kept],
    );
    assert.deepEqual(
      new RecvStore(database, true).loadTransfers().map((d) => d.view.transferId),
      [kept],
    );
  } finally {
    database.close();
    await rm(dir, { recursive: true, force: true });
  }
});
