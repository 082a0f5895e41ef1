/**
 * The seed's Connection structure from the live data path: a sender reaching a real receiver
 * through the lossy relay (100 ms RTT), snapshots once per second, every contract field checked
 * for type and meaning, lastError set while the receiver is down and cleared when it is back.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LossyRelay } from "../../src/io/lossy-relay.js";
import { UdpReceiver } from "../../src/io/drivers/udp-receiver.js";
import { UdpSender } from "../../src/io/drivers/udp-sender.js";
import { ConnectionMonitor, type DestinationView } from "../../src/server/engine/connection-monitor.js";

const RECEIVER = { serverId: "1".repeat(32), serverUid: "2".repeat(32) };
const SENDER = { serverId: "3".repeat(32), serverUid: "4".repeat(32) };
const FIXED_KBPS = 8_000;

test(
  "every Connection field is live, measured and refreshed once per second",
  { timeout: 60_000 },
  async () => {
    const base = await mkdtemp(join(tmpdir(), "slipstream-connection-"));
    let receiver = await UdpReceiver.open({ host: "127.0.0.1", port: 0, root: base, identity: RECEIVER });
    const receiverPort = receiver.address.port;
    const relay = await LossyRelay.start({
      listen: { host: "127.0.0.1", port: 0 },
      target: { host: "127.0.0.1", port: receiverPort },
      forward: { delayMs: 50 },
      backward: { delayMs: 50 },
      seed: 7,
    });
    const sender = await UdpSender.open({
      host: "127.0.0.1",
      port: relay.address.port,
      identity: SENDER,
      config: {
        rateControlMethod: "fixed",
        sendRate: (FIXED_KBPS * 1000) / 8,
        keepaliveInterval: 300_000,
        peerTimeout: 2_000_000,
      },
    });
    const destination: DestinationView = {
      connectionId: "c".repeat(32),
      destinationId: "d".repeat(32),
      destinationAddress: "localhost",
      destinationIP: "127.0.0.1",
      destinationPort: relay.address.port,
      localPort: 0,
      owner: "alice",
      rateControlMethod: "fixed",
      sendRate: FIXED_KBPS,
      sendRateMin: 100,
      sendRateMax: 1_000_000,
    };
    let active = 0;
    const monitor = new ConnectionMonitor(
      () => sender,
      () => destination,
      () => ({ queued: 2, active }),
      2,
    );
    try {
      const before = monitor.snapshot;
      assert.equal(before.encryptedConnectionState, "disconnected");
      assert.equal(before.roundTripTimeMs, null);
      assert.equal(before.lastDestinationServerUid, null);
      monitor.start();
      sender.connect();
      await sleep(2500);
      const a = monitor.snapshot;
      await sleep(1000);
      const b = monitor.snapshot;
      // identity and addressing
      assert.equal(b.connectionId, destination.connectionId);
      assert.equal(b.destinationIP, "127.0.0.1");
      assert.equal(b.destinationPort, relay.address.port);
      assert.equal(b.senderIP, "127.0.0.1");
      assert.equal(b.senderPort, sender.localAddress.port);
      assert.ok(b.senderPort > 0);
      // handshake and peer
      assert.equal(b.encryptedConnectionState, "connected");
      assert.equal(b.encryptionEnabled, false);
      assert.equal(b.destinationPublicKey, null);
      assert.equal(b.lastDestinationServerId, RECEIVER.serverId);
      assert.equal(b.lastDestinationServerUid, RECEIVER.serverUid);
      assert.equal(b.lastError, null);
      assert.equal(b.relayIP, null);
      assert.equal(b.relayPort, null);
      // measured RTT: within 20 % of the relay's 100 ms
      assert.ok(b.roundTripTimeMs! > 80 && b.roundTripTimeMs! < 120, `RTT ${b.roundTripTimeMs} ms`);
      // snapshots once per second, send activity from keepalives
      const step = b.snapshotTime - a.snapshotTime;
      assert.ok(step > 700_000 && step < 1_500_000, `snapshot step ${step} µs`);
      assert.ok(b.lastSendTime! > a.lastSendTime!, "lastSendTime advanced");
      assert.ok(b.lastRecvTime! >= a.lastRecvTime!);
      assert.ok(
        Math.abs(b.snapshotTime - Date.now() * 1000) < 2_000_000,
        "timestamps are epoch microseconds",
      );
      // configuration and counts
      assert.equal(b.rateControlMethod, "fixed");
      assert.equal(b.rateControllerActive, false);
      assert.deepEqual([b.sendRate, b.sendRateMin, b.sendRateMax], [FIXED_KBPS, 100, 1_000_000]);
      assert.equal(b.numTransfersQueued, 2);
      assert.equal(b.socketRecvBufferSize, sender.stats().grantedRecvBufferSize);
      assert.ok(b.socketSendBufferSize > 0);

      // a transfer at the fixed rate: the window average within 10 % of it
      const file = join(base, "payload.bin");
      await writeFile(file, Buffer.alloc(6_000_000, 7));
      active = 1;
      const sending = sender.send({ destinationPath: "in", files: [{ source: file, path: "payload.bin" }] });
      await sleep(4000);
      const during = monitor.snapshot;
      assert.ok(
        Math.abs(during.sendRateAverageWindow - FIXED_KBPS) <= FIXED_KBPS * 0.1,
        `sendRateAverageWindow ${during.sendRateAverageWindow} kbps`,
      );
      assert.ok(during.pacingRate === FIXED_KBPS, `pacingRate ${during.pacingRate}`);
      // the life average counts every tick in which a transfer was active, including the partial
      // tick in which it started: after about four ticks that can cost up to one tick's worth
      assert.ok(
        during.sendRateAverage > FIXED_KBPS * 0.7 && during.sendRateAverage < FIXED_KBPS * 1.1,
        `sendRateAverage ${during.sendRateAverage} kbps`,
      );
      assert.ok((await sending).ok);
      active = 0;

      // the receiver goes away: lastError after the peer timeout; it comes back: cleared
      await receiver.close();
      await sleep(3500);
      const down = monitor.snapshot;
      assert.equal(down.lastError, "TIMEOUT");
      assert.match(down.lastErrorMessage ?? "", /127\.0\.0\.1/);
      assert.notEqual(down.encryptedConnectionState, "connected");
      receiver = await UdpReceiver.open({
        host: "127.0.0.1",
        port: receiverPort,
        root: base,
        identity: RECEIVER,
      });
      await sleep(5000);
      const back = monitor.snapshot;
      assert.equal(back.encryptedConnectionState, "connected");
      assert.equal(back.lastError, null);
      assert.equal(back.lastErrorMessage, null);
    } finally {
      monitor.stop();
      await sender.close();
      await receiver.close();
      await relay.close();
      await rm(base, { recursive: true, force: true });
    }
  },
);
