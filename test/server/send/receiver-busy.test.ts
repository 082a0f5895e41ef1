/**
 * --max-incoming-transfers: a receiver at its limit answers RECEIVER_BUSY; the sender puts the
 * transfer back in its queue and retries with backoff, so both transfers still complete, one
 * after the other, and the receiver never holds more than its limit.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sendExtension } from "../../../src/api/send-extension.js";
import { receiveService } from "../../../src/server/engine/receive-service.js";
import { startTestServer } from "../../api/helpers.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

test("a receiver at --max-incoming-transfers answers busy; the sender retries and both transfers complete", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-busy-"));
  // each server its own extension instances (they hold the server's services)
  const extensions = () => ({ extensions: [receiveService(), sendExtension()] });
  const receiver = await startTestServer(
    {
      recvPorts: [0],
      recvAllowAnonymous: true,
      sandboxDir: join(base, "recv", "%u"),
      maxIncomingTransfers: 1,
    },
    extensions(),
  );
  const sender = await startTestServer({}, extensions());
  try {
    const rc = await receiver.admin(true); // superuser: sees the anonymous records
    const api = await sender.admin();
    const info = (await rc.call("getServerInfo", {})) as {
      receiver: { maxIncomingTransfers: number; recvPorts: { port: number }[] };
    };
    assert.equal(info.receiver.maxIncomingTransfers, 1);
    const src = join(base, "src");
    await mkdir(src, { recursive: true });
    const files = { big: randomBytes(6 * 1024 * 1024), small: randomBytes(5000) };
    for (const [name, data] of Object.entries(files)) await writeFile(join(src, name), data);
    const dest = (await api.call("send.createDestination", {
      destinationAddress: "127.0.0.1",
      destinationPort: info.receiver.recvPorts[0]!.port,
      rateControlMethod: "fixed",
      sendRate: 20_000, // kbps: the big file takes about 2.5 s
      maxActiveTransfers: 2,
    })) as { destinationId: string };
    const start = async (name: string, path: string) => {
      const m = (await api.call("send.createManifest", { fileMappings: [join(src, name)] })) as {
        manifestId: string;
      };
      await api.call("send.waitForManifest", { manifestId: m.manifestId, timeoutSeconds: 10 });
      return (
        (await api.call("send.createTransfer", {
          manifestId: m.manifestId,
          destinationId: dest.destinationId,
          destinationPath: path,
        })) as { transferId: string }
      ).transferId;
    };
    const first = await start("big", "one");
    await api.call("send.waitForTransfer", {
      transferId: first,
      statuses: ["transferring"],
      timeoutSeconds: 10,
    });
    for (let i = 0; i < 200; i++) {
      const receiving = (await rc.call("recv.getTransfers", {})) as { status: string }[];
      if (receiving.some((r) => r.status === "receiving")) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = await start("small", "two");

    // the second is refused while the first runs: back in the queue, the receiver at one
    let sawRequeued = false;
    let maxReceiving = 0;
    for (let i = 0; i < 150; i++) {
      const t = (await api.call("send.getTransfer", { transferId: second })) as { status: string };
      const firstNow = (await api.call("send.getTransfer", { transferId: first })) as { status: string };
      const receiving = ((await rc.call("recv.getTransfers", {})) as { status: string }[]).filter(
        (r) => r.status === "receiving",
      ).length;
      maxReceiving = Math.max(maxReceiving, receiving);
      if (firstNow.status === "transferring" && t.status === "queued" && i > 5) sawRequeued = true;
      if (firstNow.status === "complete") break;
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    assert.ok(sawRequeued, "the second transfer went back to queued while the first ran");
    assert.equal(maxReceiving, 1, "never more receiving than --max-incoming-transfers");

    for (const id of [first, second]) {
      const done = (await api.call("send.waitForTransfer", {
        transferId: id,
        statuses: ["complete", "error"],
        timeoutSeconds: 40,
      })) as { status: string };
      assert.equal(done.status, "complete", id);
    }
    const root = join(base, "recv", "anonymous");
    assert.equal(sha(await readFile(join(root, "one", src, "big"))), sha(files.big));
    assert.equal(sha(await readFile(join(root, "two", src, "small"))), sha(files.small));
  } finally {
    await sender.stop();
    await receiver.stop();
    await rm(base, { recursive: true, force: true });
  }
});
