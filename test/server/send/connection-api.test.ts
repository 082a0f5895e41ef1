/**
 * The Connection structure as the API returns it, between two real server processes with the
 * lossy relay (100 ms RTT) between them: every field asserted for type and meaning, through the
 * library and through `slipstream api`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LossyRelay } from "../../../src/io/lossy-relay.js";
import { CLI, launch, stop, type Server } from "./processes.js";

const FIXED_KBPS = 16_000;
const RTT_MS = 100;
const PLAIN = ["--cipher", "none", "--min-cipher", "none"];

type Conn = Record<string, unknown> & {
  snapshotTime: number;
  lastSendTime: number | null;
  lastRecvTime: number | null;
  roundTripTimeMs: number | null;
  numTransfersQueued: number;
  numTransfersActive: number;
  sendRateAverageWindow: number;
  lastError: string | null;
  lastErrorMessage: string | null;
};

function cliJson(args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(JSON.parse(stdout)),
    ),
  );
}

test("every Connection field through the API: measured, refreshed each second, errors set and cleared", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-conn-"));
  const recvArgs = [
    "--recv-port",
    "0",
    "--recv-allow-anonymous",
    "--sandbox-dir",
    join(base, "sandbox"),
    ...PLAIN,
  ];
  let receiver: Server | null = await launch(join(base, "recv"), recvArgs);
  const recvPort = receiver.recvPort;
  const sender = await launch(join(base, "send"), [
    "--recv-port",
    "0",
    "--peer-timeout",
    "3",
    "--keepalive-interval",
    "1",
    ...PLAIN,
  ]);
  const relay = await LossyRelay.start({
    listen: { host: "127.0.0.1", port: 0 },
    target: { host: "127.0.0.1", port: receiver.recvPort },
    forward: { delayMs: RTT_MS / 2 },
    backward: { delayMs: RTT_MS / 2 },
  });
  try {
    const dest = (await sender.api.call("send.createDestination", {
      destinationAddress: "localhost",
      destinationPort: relay.address.port,
      rateControlMethod: "fixed",
      sendRate: FIXED_KBPS,
      sendRateMin: 100,
      sendRateMax: 1_000_000,
      maxActiveTransfers: 1,
    })) as { destinationId: string; connectionId: string };
    const get = async () =>
      (await sender.api.call("send.getConnection", { connectionId: dest.connectionId })) as Conn;
    await sleep(2500);
    const a = await get();
    await sleep(1100);
    const b = await get();
    // identity and addressing
    assert.equal(b.connectionId, dest.connectionId);
    assert.equal(b.destinationId, dest.destinationId);
    assert.equal(b.destinationAddress, "localhost");
    assert.ok(["127.0.0.1", "::1"].includes(b.destinationIP as string), String(b.destinationIP));
    assert.equal(b.destinationPort, relay.address.port);
    assert.ok(["127.0.0.1", "::1"].includes(b.senderIP as string), String(b.senderIP));
    assert.ok((b.senderPort as number) > 0);
    assert.equal(b.localPort, 0);
    assert.equal(b.owner, "admin");
    // session: plain on both ends, the receiver's identity learned from its reply
    assert.equal(b.encryptedConnectionState, "connected");
    assert.equal(b.encryptionEnabled, false);
    assert.equal(b.cipher, "none");
    assert.equal(b.protocolVersion, 1);
    const info = (await receiver.api.call("getServerInfo", {})) as { serverId: string; serverUid: string };
    assert.equal(b.lastDestinationServerId, info.serverId);
    assert.equal(b.lastDestinationServerUid, info.serverUid);
    assert.equal(b.relayIP, null);
    assert.equal(b.relayPort, null);
    assert.equal(b.lastError, null);
    // measured RTT within 20 % of the relay's, kept fresh by keepalives while idle
    assert.ok(
      b.roundTripTimeMs! > RTT_MS * 0.8 && b.roundTripTimeMs! < RTT_MS * 1.2,
      `rtt ${b.roundTripTimeMs}`,
    );
    assert.ok((b.roundTripTimeMinMs as number) <= b.roundTripTimeMs! + 1);
    assert.equal(typeof b.roundTripTimeVarMs, "number");
    // snapshots once per second; send and receive activity stamped in epoch microseconds
    const step = b.snapshotTime - a.snapshotTime;
    assert.ok(step >= 500_000 && step < 2_000_000, `snapshot step ${step}`);
    assert.ok(b.lastSendTime! > a.lastSendTime!, "lastSendTime advances (keepalives)");
    assert.ok(Math.abs(b.snapshotTime - Date.now() * 1000) < 3_000_000);
    // configuration
    assert.equal(b.rateControlMethod, "fixed");
    assert.equal(b.rateControllerActive, false);
    assert.deepEqual([b.sendRate, b.sendRateMin, b.sendRateMax], [FIXED_KBPS, 100, 1_000_000]);
    assert.equal(b.bottleneckRateEstimate, null);
    assert.ok((b.socketRecvBufferSize as number) > 0 && (b.socketSendBufferSize as number) > 0);
    assert.equal(b.sendRateWindowSeconds, 5);
    assert.equal(b.receiverRateCap, null);
    assert.equal(typeof b.creationTime, "number");

    // a long transfer at the fixed rate, and two more queued behind it
    await mkdir(join(base, "src"));
    await writeFile(join(base, "src", "big"), Buffer.alloc(24 * 1024 * 1024, 1));
    await writeFile(join(base, "src", "small"), "x");
    const manifest = async (path: string) => {
      const m = (await sender.api.call("send.createManifest", { fileMappings: [path] })) as {
        manifestId: string;
      };
      await sender.api.call("send.waitForManifest", { manifestId: m.manifestId, timeoutSeconds: 10 });
      return m.manifestId;
    };
    const bigId = await manifest(join(base, "src", "big"));
    const smallId = await manifest(join(base, "src", "small"));
    const first = (await sender.api.call("send.createTransfer", {
      manifestId: bigId,
      destinationId: dest.destinationId,
    })) as { transferId: string };
    for (const path of ["q1", "q2"]) {
      await sender.api.call("send.createTransfer", {
        manifestId: smallId,
        destinationId: dest.destinationId,
        destinationPath: path,
      });
    }
    await sleep(7000);
    const during = await get();
    assert.equal(during.numTransfersQueued, 2);
    assert.equal(during.numTransfersActive, 1);
    assert.ok(
      Math.abs(during.sendRateAverageWindow - FIXED_KBPS) <= FIXED_KBPS * 0.1,
      `sendRateAverageWindow ${during.sendRateAverageWindow} kbps vs ${FIXED_KBPS}`,
    );
    assert.equal(during.pacingRate, FIXED_KBPS);
    assert.ok((during.packetsSent as number) > 1000 && (during.bytesSent as number) > 1_000_000);
    assert.ok((during.packetsRecv as number) > 0 && (during.bytesRecv as number) > 0);
    assert.equal(during.packetsLost, 0);
    assert.equal(during.lossPercentWindow, 0);
    // the same structure through the command line
    const viaCli = (await cliJson(["api", "--state-dir", sender.stateDir, "getConnections"])) as Conn[];
    assert.equal(viaCli[0]?.connectionId, dest.connectionId);
    await sender.api.call("send.cancelTransfer", { transferId: first.transferId });

    // the receiver goes away: lastError after the peer timeout; back again: cleared
    await stop(receiver);
    receiver = null;
    await sleep(5000);
    const down = await get();
    assert.equal(down.lastError, "TIMEOUT");
    assert.match(down.lastErrorMessage ?? "", /localhost|127\.0\.0\.1/);
    assert.notEqual(down.encryptedConnectionState, "connected");
    // the same UDP port again, so the relay's target is right
    receiver = await launch(join(base, "recv"), [...recvArgs.slice(2), "--recv-port", String(recvPort)]);
    let up = await get();
    for (let i = 0; i < 40 && up.lastError !== null; i++) {
      await sleep(500);
      up = await get();
    }
    assert.equal(up.lastError, null, `still ${up.lastError}: ${up.lastErrorMessage}`);
    assert.equal(up.encryptedConnectionState, "connected");
  } finally {
    await relay.close();
    await stop(sender);
    if (receiver) await stop(receiver);
    await rm(base, { recursive: true, force: true });
  }
});
