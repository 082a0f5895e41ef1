/**
 * Receive records and sources across a restart of the receiving server on the same state dir:
 * a finished record comes back with its figures, its source is rebuilt from it, and a bound key
 * still credits the same user.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cleanup, keyedSender, receiving, tempBase, until } from "./helpers.js";

type Record_ = Record<string, unknown>;

test("receive records survive a restart of the receiving server", async () => {
  const base = await tempBase();
  const stateDir = join(base, "state");
  await writeFile(join(base, "f"), randomBytes(300_000));
  let r = await receiving(base, { stateDir, recvAllowAnonymous: true });
  let before: Record_ = {};
  let uid = "";
  try {
    const admin = await r.admin(true);
    const s = await keyedSender(r.port);
    uid = s.serverUid;
    try {
      const result = await s.sender.send({
        destinationPath: "x",
        files: [{ source: join(base, "f"), path: "f" }],
      });
      assert.equal(result.ok, true, result.message);
    } finally {
      await s.sender.close();
    }
    await until(async () => {
      const list = (await admin.call("recv.getTransfers", {})) as Record_[];
      before = list[0] ?? {};
      return before.status === "complete";
    });
  } finally {
    await r.stop();
  }
  r = await receiving(base, { stateDir, recvAllowAnonymous: true });
  try {
    const admin = await r.admin(true);
    const list = (await admin.call("recv.getTransfers", {})) as Record_[];
    assert.equal(list.length, 1);
    const after = list[0]!;
    for (const field of [
      "transferId",
      "status",
      "bytesRecv",
      "blocksRecv",
      "packetsRecv",
      "filesComplete",
      "totalSize",
      "startTime",
      "endTime",
      "expiryTime",
      "receivingUser",
      "rootPath",
      "sourcePublicKey",
      "sourceServerUid",
      "aveRecvRate",
    ]) {
      assert.deepEqual(after[field], before[field], field);
    }
    const sources = (await admin.call("recv.getSources", {})) as Record_[];
    assert.equal(sources.length, 1);
    assert.equal(sources[0]!.sourceServerUid, uid);
    assert.equal(sources[0]!.encryptedConnectionState, "disconnected");
    await until(async () => {
      const fresh = (await admin.call("recv.getSources", {})) as Record_[];
      return fresh[0]?.completeTransferCount === 1;
    });
  } finally {
    await r.stop();
    await cleanup(base);
  }
});

test("with --persistent-transfers=false the receive records are dropped at start", async () => {
  const base = await tempBase();
  const stateDir = join(base, "state");
  await writeFile(join(base, "f"), randomBytes(1000));
  let r = await receiving(base, { stateDir, recvAllowAnonymous: true });
  try {
    const s = await keyedSender(r.port);
    try {
      const result = await s.sender.send({
        destinationPath: "x",
        files: [{ source: join(base, "f"), path: "f" }],
      });
      assert.equal(result.ok, true, result.message);
    } finally {
      await s.sender.close();
    }
    const admin = await r.admin(true);
    await until(async () => ((await admin.call("recv.getTransfers", {})) as Record_[]).length === 1);
  } finally {
    await r.stop();
  }
  r = await receiving(base, { stateDir, recvAllowAnonymous: true, persistentTransfers: false });
  try {
    const admin = await r.admin(true);
    assert.deepEqual(await admin.call("recv.getTransfers", {}), []);
  } finally {
    await r.stop();
    await cleanup(base);
  }
});
