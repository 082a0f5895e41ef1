/**
 * The whole send flow between two servers in one process, driven through the API: destination
 * (its connection handshakes with the receiver), manifest (scanned in the background), transfer
 * (queued, sent, verified), files byte-identical under the receiver's sandbox; then the
 * transfer's and connection's figures, per-file results and the state changes of a transfer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sendExtension } from "../../../src/api/send-extension.js";
import { receiveService } from "../../../src/server/engine/receive-service.js";
import type { SlipstreamClient } from "../../../src/client/client.js";
import { SlipstreamApiError } from "../../../src/client/errors.js";
import { startTestServer, type TestServer } from "../../api/helpers.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Pair {
  base: string;
  sender: TestServer;
  receiver: TestServer;
  api: SlipstreamClient;
  recvPort: number;
  stop(): Promise<void>;
}

async function pair(): Promise<Pair> {
  const base = await mkdtemp(join(tmpdir(), "slipstream-send-"));
  const receiver = await startTestServer(
    {
      recvPorts: [0],
      recvAllowAnonymous: true,
      sandboxDir: join(base, "recv", "%u"),
      checkpointFrequency: 1,
    },
    { extensions: [receiveService(), sendExtension()] },
  );
  const sender = await startTestServer({}, { extensions: [receiveService(), sendExtension()] }).catch(
    async (error: unknown) => {
      await receiver.stop();
      throw error;
    },
  );
  const rc = await receiver.admin();
  const info = (await rc.call("getServerInfo", {})) as { receiver: { recvPorts: { port: number }[] } };
  const api = await sender.admin();
  return {
    base,
    sender,
    receiver,
    api,
    recvPort: info.receiver.recvPorts[0]!.port,
    async stop() {
      await sender.stop();
      await receiver.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

async function expectError(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SlipstreamApiError, String(e));
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test("send flow: destination, manifest, transfer, byte-identical files on the receiver", async () => {
  const p = await pair();
  try {
    const src = join(p.base, "src");
    await mkdir(join(src, "tree", "sub"), { recursive: true });
    await mkdir(join(src, "tree", "empty"), { recursive: true });
    const files: Record<string, Buffer> = {
      "tree/a.bin": randomBytes(3 * 1024 * 1024 + 17),
      "tree/sub/b.txt": Buffer.from("hello"),
      "tree/zero": Buffer.alloc(0),
    };
    for (const [path, data] of Object.entries(files)) await writeFile(join(src, path), data);

    const dest = (await p.api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: p.recvPort,
      rateControlMethod: "fixed",
      sendRate: 200_000,
    })) as Record<string, unknown>;
    assert.equal(dest.owner, "admin");
    assert.equal(dest.destinationPort, p.recvPort);
    assert.equal(dest.rateControllerActive, false);
    // the same identity and settings return the same destination; other settings conflict
    const again = (await p.api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: p.recvPort,
      rateControlMethod: "fixed",
      sendRate: 200_000,
    })) as Record<string, unknown>;
    assert.equal(again.destinationId, dest.destinationId);
    await expectError(
      p.api.call("send.createDestination", { destinationAddress: "127.0.0.1", destinationPort: p.recvPort }),
      "CONFLICT",
    );

    const manifest = (await p.api.call("send.createManifest", {
      fileMappings: [`${join(src, "tree")}:incoming`],
    })) as Record<string, unknown>;
    assert.equal(manifest.status, "pending");
    const done = (await p.api.call("send.waitForManifest", {
      manifestId: manifest.manifestId as string,
      timeoutSeconds: 10,
    })) as Record<string, unknown>;
    assert.equal(done.status, "complete", String(done.errorMessage));
    assert.equal(done.totalFiles, 3);
    assert.equal(done.totalEmptyDirs, 1);
    assert.equal(done.totalSize, 3 * 1024 * 1024 + 17 + 5);
    const listed = (await p.api.call("send.getManifestFiles", {
      manifestId: manifest.manifestId as string,
    })) as { totalCount: number; fileMappings: { destPath: string; isEmptyDir: boolean }[] };
    assert.equal(listed.totalCount, 4);
    assert.deepEqual(listed.fileMappings.map((f) => f.destPath).sort(), [
      "incoming/a.bin",
      "incoming/empty",
      "incoming/sub/b.txt",
      "incoming/zero",
    ]);

    const transfer = (await p.api.call("send.createTransfer", {
      manifestId: manifest.manifestId as string,
      destinationId: dest.destinationId as string,
      destinationPath: "drop",
    })) as Record<string, unknown>;
    assert.ok(["pending", "queued", "transferring"].includes(transfer.status as string));
    const end = (await p.api.call("send.waitForTransfer", {
      transferId: transfer.transferId as string,
      timeoutSeconds: 60,
    })) as Record<string, unknown>;
    assert.equal(end.status, "complete", `${String(end.errorCode)} ${String(end.errorMessage)}`);
    assert.equal(end.bytesAcked, end.totalBytes);
    assert.equal(end.filesComplete, 3);
    assert.ok((end.blocksSent as number) >= (end.totalBlocks as number));
    assert.ok((end.bytesSent as number) > (end.totalBytes as number), "UDP payload includes headers");
    assert.ok((end.endTime as number) >= (end.requestTime as number));
    assert.equal(end.processing, false);

    const root = join(p.base, "recv", "anonymous", "drop");
    for (const [path, data] of Object.entries(files)) {
      const got = await readFile(join(root, path.replace(/^tree/, "incoming")));
      assert.equal(sha(got), sha(data), path);
    }
    const perFile = (await p.api.call("send.getTransferFiles", {
      transferId: transfer.transferId as string,
      status: "complete",
    })) as { destPath: string; sha256: string | null }[];
    const aBin = perFile.find((f) => f.destPath === "incoming/a.bin");
    assert.equal(aBin?.sha256, sha(files["tree/a.bin"]!));

    // connections are read from the 1 s snapshot: wait for one taken after the transfer ended
    let conns: Record<string, unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      conns = (await p.api.call("send.getConnections", {
        destinationId: dest.destinationId as string,
      })) as Record<string, unknown>[];
      if ((conns[0]?.snapshotTime as number) > (end.endTime as number)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(conns.length, 1);
    const c = conns[0]!;
    assert.ok((c.snapshotTime as number) > (end.endTime as number));
    assert.equal(c.connectionId, dest.connectionId);
    assert.equal(c.encryptedConnectionState, "connected");
    assert.equal(c.lastDestinationServerUid, p.receiver.handle.serverUid);
    assert.equal(c.lastDestinationServerId, p.receiver.handle.serverId);
    assert.equal(c.senderIP, "127.0.0.1");
    assert.ok((c.bytesSent as number) >= (end.bytesSent as number));
    assert.equal(c.lastError, null);

    // final transfers refuse state changes; user data is kept on the object
    await expectError(
      p.api.call("send.cancelTransfer", { transferId: transfer.transferId as string }),
      "CONFLICT",
    );
    const data = await p.api.call("send.updateObjectUserData", {
      objectId: transfer.transferId as string,
      userData: { job: "42" },
    });
    assert.deepEqual(data, { job: "42" });
    // a destination with unfinished transfers is only deleted with force
    await p.api.call("send.deleteDestination", { destinationId: dest.destinationId as string });
    await expectError(
      p.api.call("send.getDestination", { destinationId: dest.destinationId as string }),
      "NOT_FOUND",
    );
  } finally {
    await p.stop();
  }
});

test("transfers queue by priority, suspend and resume keep progress, cancel is final", async () => {
  const p = await pair();
  try {
    const src = join(p.base, "src");
    await mkdir(src, { recursive: true });
    const big = randomBytes(8 * 1024 * 1024);
    await writeFile(join(src, "big"), big);
    await writeFile(join(src, "small"), "s");
    const dest = (await p.api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: p.recvPort,
      rateControlMethod: "fixed",
      sendRate: 20_000,
      sendRateMin: 100,
    })) as { destinationId: string; connectionId: string };
    const mk = async (path: string) => {
      const m = (await p.api.call("send.createManifest", { fileMappings: [path] })) as { manifestId: string };
      await p.api.call("send.waitForManifest", { manifestId: m.manifestId, timeoutSeconds: 10 });
      return m.manifestId;
    };
    const bigManifest = await mk(join(src, "big"));
    const smallManifest = await mk(join(src, "small"));
    const first = (await p.api.call("send.createTransfer", {
      manifestId: bigManifest,
      destinationId: dest.destinationId,
      destinationPath: "one",
    })) as { transferId: string };
    await p.api.call("send.waitForTransfer", {
      transferId: first.transferId,
      statuses: ["transferring"],
      timeoutSeconds: 10,
    });
    const low = (await p.api.call("send.createTransfer", {
      manifestId: smallManifest,
      destinationId: dest.destinationId,
      destinationPath: "low",
      priority: 200,
    })) as { transferId: string; status: string };
    const high = (await p.api.call("send.createTransfer", {
      manifestId: smallManifest,
      destinationId: dest.destinationId,
      destinationPath: "high",
      priority: 10,
    })) as { transferId: string; status: string };
    assert.equal(low.status, "queued");
    assert.equal(high.status, "queued");
    const queued = (await p.api.call("send.getTransfers", {
      destinationId: dest.destinationId,
      status: "queued",
    })) as unknown[];
    assert.equal(queued.length, 2);

    // once the receiver holds part of it, suspend the running one: the slot goes to the queue's
    // best (priority 10) first
    for (let i = 0; i < 200; i++) {
      const now = (await p.api.call("send.getTransfer", { transferId: first.transferId })) as {
        bytesAcked: number;
      };
      if (now.bytesAcked > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const suspended = (await p.api.call("send.suspendTransfer", { transferId: first.transferId })) as {
      status: string;
      bytesAcked: number;
    };
    assert.equal(suspended.status, "suspended");
    const highDone = (await p.api.call("send.waitForTransfer", {
      transferId: high.transferId,
      timeoutSeconds: 20,
    })) as { status: string; endTime: number };
    assert.equal(highDone.status, "complete");
    const lowDone = (await p.api.call("send.waitForTransfer", {
      transferId: low.transferId,
      timeoutSeconds: 20,
    })) as { status: string; endTime: number };
    assert.equal(lowDone.status, "complete");
    assert.ok(highDone.endTime <= lowDone.endTime, "priority 10 left the queue before priority 200");

    // raise the rate while it runs, then resume: the transfer finishes from where it was
    await p.api.call("send.setSendRate", { destinationId: dest.destinationId, sendRate: 400_000 });
    const resumed = (await p.api.call("send.resumeTransfer", { transferId: first.transferId })) as {
      status: string;
    };
    assert.ok(["queued", "transferring"].includes(resumed.status));
    const end = (await p.api.call("send.waitForTransfer", {
      transferId: first.transferId,
      timeoutSeconds: 60,
    })) as { status: string; blocksResumed: number; errorMessage: string };
    assert.equal(end.status, "complete", end.errorMessage);
    assert.ok(end.blocksResumed > 0, "blocks the receiver held were not sent again");
    const got = await readFile(join(p.base, "recv", "anonymous", "one", src.slice(1), "big"));
    assert.equal(sha(got), sha(big));
    await expectError(p.api.call("send.resumeTransfer", { transferId: first.transferId }), "CONFLICT");

    // cancel a queued transfer: final, and not resumable
    await p.api.call("send.suspendTransfer", {
      transferId: (
        (await p.api.call("send.createTransfer", {
          manifestId: bigManifest,
          destinationId: dest.destinationId,
          destinationPath: "three",
        })) as { transferId: string }
      ).transferId,
    });
    const all = (await p.api.call("send.getTransfers", { status: ["suspended"] })) as {
      transferId: string;
    }[];
    assert.equal(all.length, 1);
    const cancelled = (await p.api.call("send.cancelTransfer", { transferId: all[0]!.transferId })) as {
      status: string;
    };
    assert.equal(cancelled.status, "cancelled");
  } finally {
    await p.stop();
  }
});

test("bad input: unknown objects, bad rates, escaping paths, failed manifests", async () => {
  const p = await pair();
  try {
    const id = "0".repeat(32);
    await expectError(p.api.call("send.getDestination", { destinationId: id }), "NOT_FOUND", /destinationId/);
    await expectError(p.api.call("send.getTransfer", { transferId: id }), "NOT_FOUND");
    await expectError(
      p.api.call("send.createDestination", {
        destinationAddress: "127.0.0.1",
        sendRate: 10,
        sendRateMin: 100,
      }),
      "INVALID_ARGUMENT",
      /sendRateMin/,
    );
    await expectError(
      p.api.call("send.createDestination", { destinationAddress: "not a host!" }),
      "INVALID_ARGUMENT",
      /destinationAddress/,
    );
    await expectError(p.api.call("send.createManifest", { fileMappings: [] }), "INVALID_ARGUMENT");
    await expectError(
      p.api.call("send.createManifest", { fileMappings: ["/etc/../etc/passwd"] }),
      "INVALID_ARGUMENT",
      /fileMappings\[0\]/,
    );
    const missing = (await p.api.call("send.createManifest", {
      fileMappings: [join(p.base, "does-not-exist")],
    })) as { manifestId: string };
    const failed = (await p.api.call("send.waitForManifest", {
      manifestId: missing.manifestId,
      timeoutSeconds: 10,
    })) as { status: string; errorMessage: string };
    assert.equal(failed.status, "error");
    assert.match(failed.errorMessage, /does-not-exist/);
    const dest = (await p.api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: p.recvPort,
    })) as { destinationId: string };
    await expectError(
      p.api.call("send.createTransfer", {
        manifestId: missing.manifestId,
        destinationId: dest.destinationId,
      }),
      "CONFLICT",
    );
    await writeFile(join(p.base, "f"), "x");
    const ok = (await p.api.call("send.createManifest", { fileMappings: [join(p.base, "f")] })) as {
      manifestId: string;
    };
    await expectError(
      p.api.call("send.createTransfer", {
        manifestId: ok.manifestId,
        destinationId: dest.destinationId,
        destinationPath: "a/../../b",
      }),
      "INVALID_ARGUMENT",
      /destinationPath/,
    );
    await expectError(p.api.call("send.setSendRate", { sendRate: 1000 }), "INVALID_ARGUMENT", /exactly one/);
  } finally {
    await p.stop();
  }
});

test("others' objects are not found; bad calls during a transfer leave it undisturbed", async () => {
  const p = await pair();
  try {
    const src = join(p.base, "src");
    await mkdir(src, { recursive: true });
    const data = randomBytes(6 * 1024 * 1024);
    await writeFile(join(src, "f"), data);
    const dest = (await p.api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: p.recvPort,
      rateControlMethod: "fixed",
      sendRate: 20_000,
    })) as { destinationId: string; connectionId: string };
    const m = (await p.api.call("send.createManifest", { fileMappings: [join(src, "f")] })) as {
      manifestId: string;
    };
    await p.api.call("send.waitForManifest", { manifestId: m.manifestId, timeoutSeconds: 10 });
    const t = (await p.api.call("send.createTransfer", {
      manifestId: m.manifestId,
      destinationId: dest.destinationId,
      destinationPath: "undisturbed",
    })) as { transferId: string };
    await p.api.call("send.waitForTransfer", {
      transferId: t.transferId,
      statuses: ["transferring"],
      timeoutSeconds: 10,
    });

    // bob sees none of admin's objects, by any id
    await p.sender.handle.state.users.add("bob", "bob-password-1", false, Date.now() * 1000);
    const bob = p.sender.client();
    await bob.login("bob", "bob-password-1");
    for (const [method, params] of [
      ["send.getDestination", { destinationId: dest.destinationId }],
      ["send.getConnection", { connectionId: dest.connectionId }],
      ["send.getManifest", { manifestId: m.manifestId }],
      ["send.getTransfer", { transferId: t.transferId }],
      ["send.cancelTransfer", { transferId: t.transferId }],
      ["send.updateObjectUserData", { objectId: t.transferId, userData: { a: "b" } }],
    ] as const) {
      await expectError(bob.call(method, params as never), "NOT_FOUND");
    }
    assert.deepEqual(await bob.call("send.getTransfers", {}), []);
    await expectError(bob.call("send.getTransfers", { owner: "admin" }), "FORBIDDEN");
    // bob's manifest cannot name a path outside what his view allows, nor a missing file
    await expectError(bob.call("send.createManifest", { fileMappings: ["a/../../x"] }), "INVALID_ARGUMENT");
    // malformed calls: wrong types, unknown and missing parameters
    await expectError(p.api.call("send.createTransfer", { manifestId: 7 } as never), "INVALID_ARGUMENT");
    await expectError(
      p.api.call("send.getTransfer", { transferId: t.transferId, extra: 1 } as never),
      "INVALID_ARGUMENT",
    );
    await expectError(
      p.api.call("send.createDestination", {} as never),
      "INVALID_ARGUMENT",
      /destinationAddress/,
    );
    await expectError(p.api.call("send.noSuchMethod" as never, {} as never), "NOT_FOUND");
    // an unreachable destination reports its error and does not touch the running transfer
    const nowhere = (await p.api.call("send.createDestination", {
      destinationAddress: "no-such-host.invalid",
    })) as { connectionId: string };
    let c: { lastError: string | null; lastErrorMessage: string | null } = {
      lastError: null,
      lastErrorMessage: null,
    };
    for (let i = 0; i < 250 && c.lastError === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      c = (await p.api.call("send.getConnection", { connectionId: nowhere.connectionId })) as typeof c;
    }
    assert.equal(c.lastError, "DNS");
    assert.match(c.lastErrorMessage ?? "", /no-such-host\.invalid/);

    const end = (await p.api.call("send.waitForTransfer", {
      transferId: t.transferId,
      timeoutSeconds: 60,
    })) as {
      status: string;
      errorMessage: string;
    };
    assert.equal(end.status, "complete", end.errorMessage);
    const got = await readFile(join(p.base, "recv", "anonymous", "undisturbed", src.slice(1), "f"));
    assert.equal(sha(got), sha(data));
    bob.close();
  } finally {
    await p.stop();
  }
});

test('overwrite "differs": identical targets are skipped, differing ones replaced', async () => {
  const p = await pair();
  try {
    const src = join(p.base, "src");
    await mkdir(src, { recursive: true });
    const same = randomBytes(300_000);
    const changed = randomBytes(300_000);
    const fresh = randomBytes(50_000);
    await writeFile(join(src, "same"), same);
    await writeFile(join(src, "changed"), changed);
    await writeFile(join(src, "fresh"), fresh);
    const target = join(p.base, "recv", "anonymous", "d");
    await mkdir(target, { recursive: true });
    await writeFile(join(target, "same"), same);
    await writeFile(join(target, "changed"), randomBytes(300_000)); // same size, other bytes
    const dest = (await p.api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: p.recvPort,
    })) as { destinationId: string };
    const m = (await p.api.call("send.createManifest", { fileMappings: [`${src}:`] })) as {
      manifestId: string;
    };
    await p.api.call("send.waitForManifest", { manifestId: m.manifestId, timeoutSeconds: 10 });
    const t = (await p.api.call("send.createTransfer", {
      manifestId: m.manifestId,
      destinationId: dest.destinationId,
      destinationPath: "d",
      overwrite: "differs",
    })) as { transferId: string };
    const end = (await p.api.call("send.waitForTransfer", {
      transferId: t.transferId,
      timeoutSeconds: 60,
    })) as {
      status: string;
      errorMessage: string;
      filesSkipped: number;
      filesComplete: number;
      blocksResumed: number;
    };
    assert.equal(end.status, "complete", end.errorMessage);
    assert.equal(end.filesSkipped, 1);
    assert.equal(end.filesComplete, 2);
    assert.ok(end.blocksResumed > 0);
    assert.equal(sha(await readFile(join(target, "changed"))), sha(changed));
    assert.equal(sha(await readFile(join(target, "fresh"))), sha(fresh));
    assert.equal(sha(await readFile(join(target, "same"))), sha(same));
    const files = (await p.api.call("send.getTransferFiles", { transferId: t.transferId })) as {
      destPath: string;
      status: string;
    }[];
    assert.deepEqual(Object.fromEntries(files.map((f) => [f.destPath, f.status])), {
      changed: "complete",
      fresh: "complete",
      same: "skipped",
    });
  } finally {
    await p.stop();
  }
});
