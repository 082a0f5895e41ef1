import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UdpReceiver } from "../../src/io/drivers/udp-receiver.js";
import { UdpSender } from "../../src/io/drivers/udp-sender.js";
import { senderStats } from "../../src/core/endpoint/stats.js";
import { generateKeyPair } from "../../src/core/crypto/keys.js";
import { formatPublicKey } from "../../src/io/keys.js";
import type { PeerInfo } from "../../src/core/transport/handshake.js";

const FIXED_100_MBIT = { rateControlMethod: "fixed" as const, sendRate: 100e6 / 8 };

async function withDirs(run: (src: string, root: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), "slipstream-encrypted-"));
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

async function until(check: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !check();) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

test(
  "UdpSender → UdpReceiver over loopback, encrypted (IK): byte-identical, keys visible on both sides",
  { timeout: 30_000 },
  () =>
    withDirs(async (src, root) => {
      const senderKeys = generateKeyPair();
      const receiverKeys = generateKeyPair();
      const content = randomBytes(3 * 1024 * 1024 + 17);
      await writeFile(join(src, "a.bin"), content);
      const admitted: Array<PeerInfo | null> = [];
      const receiver = await UdpReceiver.open({
        host: "127.0.0.1",
        port: 0,
        root,
        security: { keyPair: receiverKeys, minCipher: "chacha20-poly1305" },
        admitTransfer: (_t, peer) => {
          admitted.push(peer);
          return null;
        },
      });
      const sender = await UdpSender.open({
        host: "127.0.0.1",
        port: receiver.address.port,
        config: FIXED_100_MBIT,
        security: { keyPair: senderKeys, peerPublicKey: receiverKeys.publicKey, cipher: "chacha20-poly1305" },
      });
      try {
        const result = await sender.send({
          destinationPath: "in",
          files: [{ source: join(src, "a.bin"), path: "a.bin" }],
        });
        assert.equal(result.ok, true, result.message);
        assert.equal((await receiver.waitForEnd(result.id)).outcome, "complete");
        assert.ok((await readFile(join(root, "in", "a.bin"))).equals(content));
        const stats = senderStats(sender.endpoint);
        assert.equal(stats.cipher, "chacha20-poly1305");
        assert.equal(stats.encryptionEnabled, true);
        assert.equal(stats.state, "connected");
        assert.equal(stats.peerPublicKey, formatPublicKey(receiverKeys.publicKey));
        assert.equal(admitted[0]?.publicKey, formatPublicKey(senderKeys.publicKey));
        assert.equal(admitted[0]?.cipher, "chacha20-poly1305");
      } finally {
        await sender.close();
        await receiver.close();
      }
    }),
);

test("trust on first use over loopback: the receiver's key is learned", { timeout: 30_000 }, () =>
  withDirs(async (src, root) => {
    const receiverKeys = generateKeyPair();
    await writeFile(join(src, "b.bin"), randomBytes(100_000));
    const receiver = await UdpReceiver.open({
      host: "127.0.0.1",
      port: 0,
      root,
      security: { keyPair: receiverKeys },
    });
    const sender = await UdpSender.open({
      host: "127.0.0.1",
      port: receiver.address.port,
      config: FIXED_100_MBIT,
      security: { keyPair: generateKeyPair() },
    });
    try {
      const result = await sender.send({
        destinationPath: "",
        files: [{ source: join(src, "b.bin"), path: "b.bin" }],
      });
      assert.equal(result.ok, true, result.message);
      const stats = senderStats(sender.endpoint);
      assert.equal(stats.peerKeyLearned, true);
      assert.equal(stats.peerPublicKey, formatPublicKey(receiverKeys.publicKey));
      assert.equal(stats.cipher, "aes-256-gcm");
    } finally {
      await sender.close();
      await receiver.close();
    }
  }),
);

test(
  "refusals over loopback: NOT_AUTHORIZED and KEY_MISMATCH reach both sides, nothing is written",
  { timeout: 30_000 },
  () =>
    withDirs(async (src, root) => {
      const receiverKeys = generateKeyPair();
      await writeFile(join(src, "c.bin"), randomBytes(10_000));
      const rejected: string[] = [];
      const receiver = await UdpReceiver.open({
        host: "127.0.0.1",
        port: 0,
        root,
        security: {
          keyPair: receiverKeys,
          authorize: () => ({ code: "NOT_AUTHORIZED", message: "not an authorised client" }),
        },
        onSessionEvent: (e) => {
          if (e.type === "sessionRejected") rejected.push(e.code);
        },
      });
      for (const [peerPublicKey, code] of [
        [receiverKeys.publicKey, "NOT_AUTHORIZED"],
        [generateKeyPair().publicKey, "KEY_MISMATCH"],
      ] as const) {
        const sender = await UdpSender.open({
          host: "127.0.0.1",
          port: receiver.address.port,
          security: { keyPair: generateKeyPair(), peerPublicKey },
        });
        try {
          const pending = sender.send({
            destinationPath: "",
            files: [{ source: join(src, "c.bin"), path: "c.bin" }],
          });
          await until(() => senderStats(sender.endpoint).lastError !== null, 5_000);
          assert.equal(senderStats(sender.endpoint).lastError?.code, code);
          await until(() => rejected.includes(code), 5_000);
          await sender.close();
          assert.equal((await pending).ok, false);
        } finally {
          await sender.close();
        }
      }
      await receiver.close();
      await assert.rejects(readFile(join(root, "c.bin")));
    }),
);

test("an unencrypted sender is refused by a receiver that requires encryption", { timeout: 30_000 }, () =>
  withDirs(async (src, root) => {
    await writeFile(join(src, "d.bin"), "x");
    const receiver = await UdpReceiver.open({
      host: "127.0.0.1",
      port: 0,
      root,
      security: { keyPair: generateKeyPair() },
    });
    const sender = await UdpSender.open({ host: "127.0.0.1", port: receiver.address.port });
    try {
      const pending = sender.send({
        destinationPath: "",
        files: [{ source: join(src, "d.bin"), path: "d.bin" }],
      });
      await until(() => senderStats(sender.endpoint).lastError !== null, 5_000);
      assert.equal(senderStats(sender.endpoint).lastError?.code, "ENCRYPTION_REQUIRED");
      await sender.close();
      assert.equal((await pending).ok, false);
    } finally {
      await sender.close();
      await receiver.close();
    }
  }),
);
