/**
 * The receiving side through the API with an in-process server and keyed UdpSenders: allow-list
 * enforcement on both sides, crediting to the user bound to a key (their sandbox), anonymous
 * refusals, the ReceiveTransfer fields during and after a transfer, sources, visibility, events
 * and closing the sessions of a removed key.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotPublication } from "../../../src/server/events.js";
import { UdpSender } from "../../../src/io/drivers/udp-sender.js";
import { cleanup, expectError, keyedSender, named, receiving, tempBase, until } from "./helpers.js";

interface RecvTransfer {
  [field: string]: unknown;
  transferId: string;
  status: string;
  bytesRecv: number;
  receivingUser: string;
  rootPath: string;
}

test("enforced allow-list refuses an unlisted key on both sides; a key bound to bob writes into bob's sandbox", async () => {
  const base = await tempBase();
  const r = await receiving(base);
  try {
    await r.server.handle.state.users.add("bob", "bob-password", false, 1);
    const admin = await r.admin(true);
    const data = randomBytes(200_000);
    await writeFile(join(base, "f"), data);
    const files = [{ source: join(base, "f"), path: "a/f" }];

    // Not enforced, key not bound, anonymous off: the transfer is refused.
    const first = await keyedSender(r.port);
    try {
      const refused = await first.sender.send({ destinationPath: "in", files });
      assert.equal(refused.code, "RECEIVER_REFUSED");
      assert.match(refused.message ?? "", /anonymous/);
    } finally {
      await first.sender.close();
    }
    assert.deepEqual(
      named(r.events, "recv.clientRejected").map((e) => [e.reason, e.sourcePublicKey]),
      [["RECEIVER_REFUSED", first.publicKey]],
    );

    await admin.call("recv.allowOnlyAuthorizedClients", { onlyAuthorizedClientsAllowed: true });
    const s = await keyedSender(r.port);
    try {
      s.sender.connect();
      await until(() => s.sender.endpoint.lastError !== null);
      assert.equal(s.sender.endpoint.lastError?.code, "NOT_AUTHORIZED");
      assert.match(s.sender.endpoint.lastError?.message ?? "", /recv\.addAuthorizedClient/);
    } finally {
      await s.sender.close();
    }
    const rejected = named(r.events, "recv.clientRejected").at(-1)!;
    assert.equal(rejected.reason, "NOT_AUTHORIZED");
    assert.equal(rejected.sourcePublicKey, s.publicKey);
    assert.equal(rejected.sourceIP, "127.0.0.1");
    assert.equal(named(r.events, "recv.sourceConnected").length, 1); // only the first sender's

    await admin.call("recv.addAuthorizedClient", { clientPublicKey: s.publicKey, user: "bob" });
    const again = await UdpSender.open({
      host: "127.0.0.1",
      port: r.port,
      identity: { serverId: "0".repeat(32), serverUid: s.serverUid },
      security: { keyPair: s.keyPair },
    });
    let transferId: string;
    try {
      const result = await again.send({ destinationPath: "in", files });
      assert.equal(result.ok, true, result.message);
      transferId = result.id;
    } finally {
      await again.close();
    }
    assert.deepEqual(await readFile(join(base, "sandbox", "bob", "in", "a", "f")), data);

    const bob = r.server.client();
    await bob.login("bob", "bob-password");
    const mine = (await bob.call("recv.getTransfers", {})) as RecvTransfer[];
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.transferId, transferId);
    assert.equal(mine[0]!.receivingUser, "bob");
    assert.equal(mine[0]!.rootPath, join(base, "sandbox", "bob", "in"));
    assert.equal(mine[0]!.status, "complete");
    assert.equal(mine[0]!.sourcePublicKey, s.publicKey);
    const connected = named(r.events, "recv.sourceConnected").at(-1)!;
    assert.equal(connected.authorized, true);
    assert.equal(connected.sourceServerUid, s.serverUid);
    for (const name of ["recv.transferStarted", "recv.fileComplete", "recv.transferComplete"]) {
      const mineEvents = named(r.events, name).filter((e) => e.transferId === transferId);
      assert.equal(mineEvents.length, 1, name);
      assert.equal(mineEvents[0]!.owner, "bob", name);
    }
    const fileEvent = named(r.events, "recv.fileComplete")[0]!;
    assert.equal(fileEvent.path, join(base, "sandbox", "bob", "in", "a", "f"));
    assert.equal(fileEvent.destPath, "a/f");
    assert.equal(fileEvent.size, data.length);
    assert.match(String(fileEvent.sha256), /^[0-9a-f]{64}$/);
    const list = (await admin.call("recv.getAuthorizedClients", {})) as Array<{
      lastSeenTime: number | null;
    }>;
    assert.ok(list[0]!.lastSeenTime !== null);
  } finally {
    await r.stop();
    await cleanup(base);
  }
});

test("recv.getTransfers during and after a transfer; getSources; who sees what", async () => {
  const base = await tempBase();
  const r = await receiving(base, { recvAllowAnonymous: true, rateWindow: 2 });
  const snapshots: SnapshotPublication[] = [];
  r.server.handle.events.onSnapshot((snap) => snapshots.push(snap));
  try {
    await r.server.handle.state.users.add("carol", "carol-password", false, 1);
    const admin = await r.admin(true);
    const size = 3 * 1024 * 1024;
    await writeFile(join(base, "big"), randomBytes(size));
    const s = await keyedSender(r.port, 1.2e6); // about 2.5 s
    const started = Date.now() * 1000;
    let during: RecvTransfer | undefined;
    try {
      const sending = s.sender.send({
        destinationPath: "drop",
        files: [{ source: join(base, "big"), path: "big" }],
      });
      await until(async () => {
        const list = (await admin.call("recv.getTransfers", { status: "receiving" })) as RecvTransfer[];
        during = list.find((t) => t.bytesRecv > 0);
        return during !== undefined;
      }, 10_000);
      const result = await sending;
      assert.equal(result.ok, true, result.message);
    } finally {
      await s.sender.close();
    }
    const d = during!;
    assert.equal(d.status, "receiving");
    assert.equal(d.receivingUser, "anonymous");
    assert.equal(d.rootPath, join(base, "sandbox", "anonymous", "drop"));
    assert.equal(d.destinationPath, "drop");
    assert.equal(d.endTime, null);
    assert.equal(d.expiryTime, null);
    assert.equal(d.totalFiles, 1);
    assert.equal(d.totalSize, size);
    assert.ok((d.packetsRecv as number) > 0, "packetsRecv");
    assert.ok((d.blocksRecv as number) > 0, "blocksRecv");
    assert.ok((d.packetsSent as number) > 0, "packetsSent");
    assert.ok((d.aveRecvRate as number) > 0, "aveRecvRate while receiving");
    assert.ok((d.aveRecvRateWindow as number) > 0, "aveRecvRateWindow while receiving");
    assert.ok(Math.abs((d.startTime as number) - started) < 30e6);
    assert.ok((d.lastRecvTime as number) >= (d.startTime as number));
    assert.equal(d.encryptionEnabled, true);
    assert.notEqual(d.cipher, "none");
    assert.equal(d.sourceIP, "127.0.0.1");
    assert.equal(d.sourceServerUid, s.serverUid);
    assert.equal(d.sourcePublicKey, s.publicKey);

    // The receiver's verdict lands just after the sender hears its last fileOk.
    let after: RecvTransfer = d;
    await until(async () => {
      after = (await admin.call("recv.getTransfer", { transferId: d.transferId })) as RecvTransfer;
      return after.status === "complete";
    });
    assert.equal(after.status, "complete");
    assert.equal(after.bytesRecv, size);
    assert.equal(after.filesComplete, 1);
    assert.ok((after.blocksRecv as number) >= (d.blocksRecv as number));
    assert.ok((after.packetsRecv as number) >= (after.blocksRecv as number));
    assert.ok(after.endTime !== null && (after.endTime as number) >= (d.startTime as number));
    assert.equal(after.expiryTime, (after.endTime as number) + 3600e6);
    assert.ok((after.aveRecvRate as number) > 0);
    assert.equal(after.lastError, null);

    const byStatus = (await admin.call("recv.getTransfers", {
      status: ["complete", "error"],
    })) as RecvTransfer[];
    assert.equal(byStatus.length, 1);
    assert.equal(
      ((await admin.call("recv.getTransfers", { sourceServerUid: "f".repeat(32) })) as RecvTransfer[]).length,
      0,
    );

    // Sources are snapshots too: wait for the one after the verdict.
    let sources: Array<Record<string, unknown>> = [];
    await until(async () => {
      sources = (await admin.call("recv.getSources", {})) as Array<Record<string, unknown>>;
      return sources[0]?.completeTransferCount === 1;
    });
    assert.equal(sources.length, 1);
    const src = sources[0]!;
    assert.equal(src.sourceServerUid, s.serverUid);
    assert.equal(src.sourcePublicKey, s.publicKey);
    assert.equal(src.completeTransferCount, 1);
    assert.equal(src.activeTransferCount, 0);
    assert.equal(src.authorized, false);
    assert.equal(src.encryptionEnabled, true);
    assert.ok((src.packetsRecv as number) > 0 && (src.bytesRecv as number) > size);

    // Anonymous records are for superusers only; others get NOT_FOUND.
    const carol = r.server.client();
    await carol.login("carol", "carol-password");
    assert.deepEqual(await carol.call("recv.getTransfers", {}), []);
    await expectError(carol.call("recv.getTransfer", { transferId: d.transferId }), "NOT_FOUND");
    const plainAdmin = await r.admin();
    assert.deepEqual(await plainAdmin.call("recv.getTransfers", {}), []);
    await expectError(plainAdmin.call("recv.getSources", {}), "NOT_SUPERUSER");
    await expectError(admin.call("recv.getTransfer", { transferId: "e".repeat(32) }), "NOT_FOUND");

    const mine = snapshots.filter((x) => x.type === "recvTransfer" && x.id === d.transferId);
    assert.ok(mine.length >= 2);
    assert.equal(mine.filter((x) => x.final).length, 1);
    assert.equal(mine.at(-1)!.owner, null);
    assert.ok(snapshots.some((x) => x.type === "source"));
    for (const name of ["recv.transferStarted", "recv.transferComplete"]) {
      assert.equal(named(r.events, name).length, 1, name);
    }
  } finally {
    await r.stop();
    await cleanup(base);
  }
});

test("removing a key closes its live session while the allow-list is enforced", async () => {
  const base = await tempBase();
  const r = await receiving(base);
  try {
    const admin = await r.admin(true);
    await admin.call("recv.allowOnlyAuthorizedClients", { onlyAuthorizedClientsAllowed: true });
    const s = await keyedSender(r.port);
    try {
      await admin.call("recv.addAuthorizedClient", { clientPublicKey: s.publicKey });
      s.sender.connect();
      await until(() => s.sender.endpoint.state === "connected");
      await admin.call("recv.removeAuthorizedClient", { clientPublicKey: s.publicKey });
      await until(() => s.sender.endpoint.lastError?.code === "NOT_AUTHORIZED");
      assert.notEqual(s.sender.endpoint.state, "connected");
    } finally {
      await s.sender.close();
    }
  } finally {
    await r.stop();
    await cleanup(base);
  }
});

test("with --min-cipher none a plain sender gets a session, but not while only authorised clients are allowed", async () => {
  const base = await tempBase();
  const r = await receiving(base, { minCipher: "none" });
  try {
    const plain = await UdpSender.open({ host: "127.0.0.1", port: r.port });
    try {
      plain.connect();
      await until(() => plain.endpoint.state === "connected");
    } finally {
      await plain.close();
    }
    const admin = await r.admin(true);
    await admin.call("recv.allowOnlyAuthorizedClients", { onlyAuthorizedClientsAllowed: true });
    const refused = await UdpSender.open({ host: "127.0.0.1", port: r.port });
    try {
      refused.connect();
      await until(() => refused.endpoint.lastError !== null);
      assert.equal(refused.endpoint.lastError?.code, "NOT_AUTHORIZED");
      assert.match(refused.endpoint.lastError?.message ?? "", /unencrypted/);
    } finally {
      await refused.close();
    }
    const rejected = named(r.events, "recv.clientRejected");
    assert.deepEqual(
      rejected.map((e) => [e.reason, e.sourcePublicKey]),
      [["NOT_AUTHORIZED", null]],
    );
  } finally {
    await r.stop();
    await cleanup(base);
  }
});
