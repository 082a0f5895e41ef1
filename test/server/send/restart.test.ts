/**
 * Two real `slipstream server` processes on loopback. `kill -9` of the sender, and separately of
 * the receiver, in the middle of a transfer; both come back on the same state dir and the
 * transfer completes with identical hashes, the receiver resending at most about one checkpoint
 * interval of data. No partial file ever sits under its final name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kill9, launch, type Server, stop } from "./processes.js";

const RATE_KBPS = 40_000; // 5 MB/s: the 48 MiB file takes about ten seconds
const FILE_BYTES = 48 * 1024 * 1024;

interface Scene {
  base: string;
  data: Buffer;
  sender: Server;
  receiver: Server;
  transferId: string;
  target: string;
}

async function scene(): Promise<Scene> {
  const base = await mkdtemp(join(tmpdir(), "slipstream-restart-"));
  const data = randomBytes(FILE_BYTES);
  await mkdir(join(base, "src"));
  await writeFile(join(base, "src", "payload.bin"), data);
  const receiver = await launch(join(base, "recv-state"), [
    "--recv-port",
    "0",
    "--recv-allow-anonymous",
    "--sandbox-dir",
    join(base, "sandbox"),
    "--checkpoint-frequency",
    "1",
  ]);
  const sender = await launch(join(base, "send-state"), ["--recv-port", "0", "--checkpoint-frequency", "1"]);
  const dest = (await sender.api.call("send.createDestination", {
    destinationAddress: "127.0.0.1",
    destinationPort: receiver.recvPort,
    rateControlMethod: "fixed",
    sendRate: RATE_KBPS,
  })) as { destinationId: string };
  const manifest = (await sender.api.call("send.createManifest", {
    fileMappings: [`${join(base, "src", "payload.bin")}:payload.bin`],
  })) as { manifestId: string };
  await sender.api.call("send.waitForManifest", { manifestId: manifest.manifestId, timeoutSeconds: 10 });
  const transfer = (await sender.api.call("send.createTransfer", {
    manifestId: manifest.manifestId,
    destinationId: dest.destinationId,
    destinationPath: "in",
  })) as { transferId: string };
  return {
    base,
    data,
    sender,
    receiver,
    transferId: transfer.transferId,
    target: join(base, "sandbox", "in", "payload.bin"),
  };
}

async function waitForProgress(s: Scene, fraction: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const t = (await s.sender.api.call("send.getTransfer", { transferId: s.transferId })) as {
      bytesAcked: number;
    };
    if (t.bytesAcked >= FILE_BYTES * fraction) return;
    await sleep(50);
  }
  throw new Error("no progress");
}

async function finish(s: Scene) {
  const end = (await s.sender.api.call("send.waitForTransfer", {
    transferId: s.transferId,
    timeoutSeconds: 90,
  })) as {
    status: string;
    errorMessage: string;
    blocksSent: number;
    blockSize: number;
    totalBlocks: number;
  };
  assert.equal(end.status, "complete", end.errorMessage);
  const got = await readFile(s.target);
  assert.equal(
    createHash("sha256").update(got).digest("hex"),
    createHash("sha256").update(s.data).digest("hex"),
  );
  return end;
}

test("kill -9 of the sending server mid-transfer: it restarts and the transfer completes", async () => {
  const s = await scene();
  try {
    await waitForProgress(s, 0.3);
    assert.equal(existsSync(s.target), false, "no partial file under the final name");
    await kill9(s.sender);
    s.sender = await launch(s.sender.stateDir, s.sender.args);
    const after = (await s.sender.api.call("send.getTransfer", { transferId: s.transferId })) as {
      status: string;
    };
    assert.ok(["queued", "transferring"].includes(after.status), after.status);
    await finish(s);
  } finally {
    await stop(s.sender);
    await stop(s.receiver);
    await rm(s.base, { recursive: true, force: true });
  }
});

test("kill -9 of the receiving server mid-transfer: it restarts from its checkpoint", async () => {
  const s = await scene();
  try {
    await waitForProgress(s, 0.4);
    assert.equal(existsSync(s.target), false, "no partial file under the final name");
    await kill9(s.receiver);
    await sleep(500);
    s.receiver = await launch(
      s.receiver.stateDir,
      s.receiver.args.map((a) => a),
    );
    // the receiver's port is new (0 at launch): point the destination at it
    const dests = (await s.sender.api.call("send.getDestinations", {})) as { destinationId: string }[];
    await s.sender.api.call("send.updateDestination", {
      destinationId: dests[0]!.destinationId,
      destinationPort: s.receiver.recvPort,
    });
    const end = await finish(s);
    // resent: what went out beyond one copy of every block, at most about one checkpoint
    // interval (1 s) of sending plus what was in flight when the receiver died
    const extraBytes = (end.blocksSent - end.totalBlocks) * end.blockSize;
    const oneInterval = (RATE_KBPS * 1000) / 8;
    assert.ok(extraBytes <= 2 * oneInterval, `resent ${extraBytes} bytes; one interval is ${oneInterval}`);
  } finally {
    await stop(s.sender);
    await stop(s.receiver);
    await rm(s.base, { recursive: true, force: true });
  }
});
