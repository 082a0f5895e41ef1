import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile, open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { LossyRelay } from "../../src/io/lossy-relay.js";
import { UdpSocket } from "../../src/io/udp-socket.js";
import { UdpReceiver } from "../../src/io/drivers/udp-receiver.js";
import { UdpSender, type SendFileEntry } from "../../src/io/drivers/udp-sender.js";
import { generateKeyPair } from "../../src/core/crypto/keys.js";
import { senderStats } from "../../src/core/endpoint/stats.js";

const FIXED_200_MBIT = { rateControlMethod: "fixed" as const, sendRate: 200e6 / 8 };

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

async function writeRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    for (let done = 0; done < size; done += 4 * 1024 * 1024) {
      await handle.write(randomBytes(Math.min(4 * 1024 * 1024, size - done)));
    }
  } finally {
    await handle.close();
  }
}

async function withDirs(run: (src: string, root: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), "slipstream-drivers-"));
  const src = join(base, "src");
  const root = join(base, "root");
  await mkdir(src);
  await mkdir(root);
  try {
    await run(src, root);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

/**
 * Files of 0 B, 1 B, `bigMiB` and a tree of 1,000 small files through a relay that drops 5 % of the
 * data direction; encrypted (IK, AES-256-GCM) when `encrypted`, else with the CRC-32C trailer.
 */
function lossyTreeTransfer(bigMiB: number, encrypted: boolean): Promise<void> {
  return withDirs(async (src, root) => {
    const entries: SendFileEntry[] = [];
    await writeFile(join(src, "empty.bin"), "");
    await writeFile(join(src, "one.bin"), randomBytes(1));
    await writeRandomFile(join(src, "big.bin"), bigMiB * 1024 * 1024);
    entries.push(
      { source: join(src, "empty.bin"), path: "empty.bin" },
      { source: join(src, "one.bin"), path: "one.bin" },
      { source: join(src, "big.bin"), path: "big.bin" },
    );
    await mkdir(join(src, "tree", "empty-dir"), { recursive: true });
    entries.push({ source: join(src, "tree", "empty-dir"), path: "tree/empty-dir" });
    for (let i = 0; i < 1000; i++) {
      const dir = join("tree", `d${i % 10}`, `e${i % 7}`);
      await mkdir(join(src, dir), { recursive: true });
      const path = join(dir, `f${i}.dat`);
      await writeFile(join(src, path), randomBytes(Math.floor(Math.random() * 4097)));
      entries.push({ source: join(src, path), path });
    }

    const receiverKeys = generateKeyPair();
    const receiver = await UdpReceiver.open({
      host: "127.0.0.1",
      port: 0,
      root,
      ...(encrypted ? { security: { keyPair: receiverKeys } } : {}),
    });
    const relay = await LossyRelay.start({
      listen: { host: "127.0.0.1", port: 0 },
      target: { host: "127.0.0.1", port: receiver.address.port },
      forward: { delayMs: 5, lossRate: 0.05 },
      backward: { delayMs: 5 },
      seed: 7,
    });
    const sender = await UdpSender.open({
      host: "127.0.0.1",
      port: relay.address.port,
      config: FIXED_200_MBIT,
      ...(encrypted
        ? {
            security: {
              keyPair: generateKeyPair(),
              peerPublicKey: receiverKeys.publicKey,
              cipher: "aes-256-gcm" as const,
            },
          }
        : {}),
    });
    try {
      const result = await sender.send({ destinationPath: "incoming", files: entries });
      assert.deepEqual(
        { ok: result.ok, code: result.code, message: result.message },
        { ok: true, code: undefined, message: undefined },
      );
      const end = await receiver.waitForEnd(result.id);
      assert.equal(end.outcome, "complete");
      assert.ok(relay.counters.forward.lost > 0, "the relay dropped datagrams");
      assert.ok(sender.stats().dataPacketsRetransmitted > 0);
      const stats = senderStats(sender.endpoint);
      assert.equal(stats.cipher, encrypted ? "aes-256-gcm" : "none");
      assert.equal(stats.encryptionEnabled, encrypted);

      const dest = join(root, "incoming");
      const expected = entries
        .filter((e) => e.path !== "tree/empty-dir")
        .map((e) => e.path)
        .sort();
      assert.deepEqual(await listFiles(dest), expected, "exactly the sent files, no .part files");
      assert.deepEqual(await readdir(join(dest, "tree", "empty-dir")), []);
      for (const e of entries) {
        if (e.path === "tree/empty-dir") continue;
        assert.equal(await sha256Of(join(dest, e.path)), await sha256Of(e.source), e.path);
      }
    } finally {
      await sender.close();
      await relay.close();
      await receiver.close();
    }
  });
}

test(
  "files of 0 B, 1 B, 64 MiB and a tree of 1,000 small files cross a 5 % lossy relay intact",
  { timeout: 60_000 },
  () => lossyTreeTransfer(64, false),
);

test(
  "encrypted (IK, AES-256-GCM): 0 B, 1 B, 16 MiB and 1,000 small files cross a 5 % lossy relay intact",
  { timeout: 60_000 },
  () => lossyTreeTransfer(16, true),
);

test("a path escaping the root is refused before anything is written", { timeout: 20_000 }, () =>
  withDirs(async (src, root) => {
    await writeFile(join(src, "x"), "secret");
    await writeFile(join(src, "ok"), "fine");
    const receiver = await UdpReceiver.open({ host: "127.0.0.1", port: 0, root });
    const sender = await UdpSender.open({ host: "127.0.0.1", port: receiver.address.port });
    try {
      const result = await sender.send({
        destinationPath: "",
        files: [
          { source: join(src, "ok"), path: "ok" },
          { source: join(src, "x"), path: "../x" },
        ],
      });
      assert.equal(result.ok, false);
      assert.equal(result.code, "RECEIVER_REFUSED");
      assert.match(result.message ?? "", /\.\.\/x/);
      assert.equal((await receiver.waitForEnd(result.id)).outcome, "refused");
      assert.deepEqual(await readdir(root), []);
      assert.deepEqual((await readdir(join(root, ".."))).sort(), ["root", "src"]);
    } finally {
      await sender.close();
      await receiver.close();
    }
  }),
);

test("an unreachable receiver ends in a clear error", { timeout: 20_000 }, () =>
  withDirs(async (src) => {
    const probe = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
    const port = probe.localAddress.port;
    await probe.close();
    await writeFile(join(src, "a"), "data");
    const sender = await UdpSender.open({
      host: "127.0.0.1",
      port,
      config: { peerTimeout: 1_000_000 },
      stallTimeout: 2_000_000,
    });
    try {
      const result = await sender.send({
        destinationPath: "",
        files: [{ source: join(src, "a"), path: "a" }],
      });
      assert.equal(result.ok, false);
      assert.equal(result.code, "STALLED");
      assert.match(result.message ?? "", /no handshake reply|ECONNREFUSED/, result.message);
      assert.match(result.message ?? "", /no acknowledged progress/);
    } finally {
      await sender.close();
    }
  }),
);

test(
  'overwrite "never" fails an existing target with EXISTS and leaves it untouched',
  { timeout: 20_000 },
  () =>
    withDirs(async (src, root) => {
      await writeFile(join(src, "a"), "new content a");
      await writeFile(join(src, "b"), "new content b");
      await writeFile(join(root, "a"), "old content");
      const receiver = await UdpReceiver.open({ host: "127.0.0.1", port: 0, root });
      const sender = await UdpSender.open({ host: "127.0.0.1", port: receiver.address.port });
      try {
        const result = await sender.send({
          destinationPath: "",
          overwrite: "never",
          files: [
            { source: join(src, "a"), path: "a" },
            { source: join(src, "b"), path: "b" },
          ],
        });
        assert.equal(result.ok, false);
        assert.equal(result.code, "EXISTS");
        assert.match(result.message ?? "", /1 of 2 files failed/);
        assert.equal(
          await sha256Of(join(root, "a")),
          createHash("sha256").update("old content").digest("hex"),
        );
        assert.equal(
          await sha256Of(join(root, "b")),
          createHash("sha256").update("new content b").digest("hex"),
        );
        assert.deepEqual(await listFiles(root), ["a", "b"], "no part file left behind");
      } finally {
        await sender.close();
        await receiver.close();
      }
    }),
);
