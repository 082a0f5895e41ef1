import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { RelayError, RelayLink } from "../../src/io/relay/relay-link.js";
import { UdpReceiver } from "../../src/io/drivers/udp-receiver.js";
import { UdpSender } from "../../src/io/drivers/udp-sender.js";
import {
  freePort,
  serverKeyPair,
  sha256Of,
  startRelay,
  startRelayAllowing,
  withDirs,
  writeRandomFile,
} from "./helpers.js";

const FIXED_200_MBIT = { rateControlMethod: "fixed" as const, sendRate: 200e6 / 8 };

test(
  "receiver behind a relay: a file sent to the relay's public port arrives byte-identical",
  { timeout: 60_000 },
  () =>
    withDirs(async ({ src, root, state }) => {
      const inner = serverKeyPair();
      const relay = await startRelayAllowing(state, inner.text);
      const link = RelayLink.open({
        relayHost: "127.0.0.1",
        relayPort: relay.port,
        keyPair: inner,
        relayPublicKey: relay.publicKey,
      });
      try {
        await link.waitConnected();
        const port = await link.openPublicPort(0);
        assert.equal(port.localAddress.address, "127.0.0.1");
        assert.notEqual(port.localAddress.port, 0);
        const seenFrom = new Set<string>();
        const deliver = port.onDatagram.bind(port);
        port.onDatagram = (handler) =>
          deliver((data, from) => {
            seenFrom.add(`${from.address}:${from.port}`);
            handler(data, from);
          });
        const receiver = await UdpReceiver.open({ host: "127.0.0.1", port: 0, root, transport: port });
        const sender = await UdpSender.open({
          host: "127.0.0.1",
          port: port.localAddress.port,
          config: FIXED_200_MBIT,
        });
        await writeRandomFile(join(src, "a.bin"), 8 * 1024 * 1024 + 17);
        const result = await sender.send({
          destinationPath: "in",
          files: [{ source: join(src, "a.bin"), path: "a.bin" }],
        });
        assert.equal(result.ok, true, result.message);
        assert.equal(await sha256Of(join(root, "in", "a.bin")), await sha256Of(join(src, "a.bin")));
        // the receiver sees the sender's true address, not the relay's
        assert.deepEqual([...seenFrom], [`127.0.0.1:${sender.localAddress.port}`]);
        relay.child.kill("SIGUSR1");
        await once(relay.child.stdout!, "data");
        assert.match(relay.stdout(), /1 server\(s\) attached/);
        assert.match(relay.stdout(), new RegExp(`server ${inner.text}`));
        await sender.close();
        await receiver.close();
      } finally {
        await link.close();
        assert.equal(await relay.stop(), 0);
      }
    }),
);

test(
  "sender behind a relay: the relay's outgoing socket carries the transfer, byte-identical",
  { timeout: 60_000 },
  () =>
    withDirs(async ({ src, root, state }) => {
      const inner = serverKeyPair();
      const relay = await startRelayAllowing(state, inner.text);
      const link = RelayLink.open({ relayHost: "127.0.0.1", relayPort: relay.port, keyPair: inner });
      try {
        await link.waitConnected();
        assert.equal(link.relayKey, relay.publicKey);
        assert.deepEqual(link.relayAddress, { address: "127.0.0.1", port: relay.port });
        const receiver = await UdpReceiver.open({ host: "127.0.0.1", port: 0, root });
        const channel = await link.openChannel("127.0.0.1", receiver.address.port);
        assert.notEqual(channel.relayPort, 0);
        const sender = await UdpSender.open({
          host: "127.0.0.1",
          port: receiver.address.port,
          transport: channel,
          config: FIXED_200_MBIT,
        });
        await writeRandomFile(join(src, "b.bin"), 6 * 1024 * 1024 + 3);
        const result = await sender.send({
          destinationPath: "",
          files: [{ source: join(src, "b.bin"), path: "b.bin" }],
        });
        assert.equal(result.ok, true, result.message);
        assert.equal(await sha256Of(join(root, "b.bin")), await sha256Of(join(src, "b.bin")));
        assert.ok(channel.counters.datagramsSent > 0 && channel.counters.datagramsReceived > 0);
        await sender.close();
        await receiver.close();
      } finally {
        await link.close();
        await relay.stop();
      }
    }),
);

test(
  "relay restart mid-transfer: the receiver reattaches on the same public port and the transfer completes",
  { timeout: 90_000 },
  () =>
    withDirs(async ({ src, root, state }) => {
      const inner = serverKeyPair();
      const controlPort = await freePort();
      const args = [
        "--state-dir",
        state,
        "--control-port",
        String(controlPort),
        "--allow-server-key",
        inner.text,
      ];
      let relay = await startRelay(args);
      const link = RelayLink.open({
        relayHost: "127.0.0.1",
        relayPort: controlPort,
        keyPair: inner,
        relayPublicKey: relay.publicKey,
      });
      try {
        await link.waitConnected();
        const port = await link.openPublicPort(0);
        const publicPort = port.localAddress.port;
        const receiver = await UdpReceiver.open({ host: "127.0.0.1", port: 0, root, transport: port });
        const sender = await UdpSender.open({
          host: "127.0.0.1",
          port: publicPort,
          config: { rateControlMethod: "fixed", sendRate: 40e6 / 8 },
        });
        await writeRandomFile(join(src, "c.bin"), 16 * 1024 * 1024);
        const sending = sender.send({
          destinationPath: "",
          files: [{ source: join(src, "c.bin"), path: "c.bin" }],
        });
        while (receiver.stats().bytesWritten < 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 50));
        assert.equal(await relay.stop(), 0);
        relay = await startRelay(args);
        const result = await sending;
        assert.equal(result.ok, true, result.message);
        assert.equal(await sha256Of(join(root, "c.bin")), await sha256Of(join(src, "c.bin")));
        assert.equal(link.attachCount, 2);
        assert.equal(port.localAddress.port, publicPort);
        assert.equal(link.state, "connected");
        await sender.close();
        await receiver.close();
      } finally {
        await link.close();
        await relay.stop();
      }
    }),
);

test(
  "a server whose key is not allowed is refused with NOT_AUTHORIZED naming its key",
  { timeout: 30_000 },
  () =>
    withDirs(async ({ state }) => {
      const allowed = serverKeyPair();
      const stranger = serverKeyPair();
      const relay = await startRelayAllowing(state, allowed.text);
      const link = RelayLink.open({ relayHost: "127.0.0.1", relayPort: relay.port, keyPair: stranger });
      try {
        await assert.rejects(link.waitConnected(), (error: unknown) => {
          assert.ok(error instanceof RelayError);
          assert.equal(error.code, "NOT_AUTHORIZED");
          assert.equal(error.message, `NOT_AUTHORIZED: key ${stranger.text} is not allowed on this relay`);
          return true;
        });
        assert.notEqual(link.state, "connected");
        const pinnedWrong = RelayLink.open({
          relayHost: "127.0.0.1",
          relayPort: relay.port,
          keyPair: allowed,
          relayPublicKey: stranger.text,
        });
        await assert.rejects(pinnedWrong.waitConnected(), /KEY_MISMATCH: the relay's key/);
        await pinnedWrong.close();
      } finally {
        await link.close();
        await relay.stop();
      }
    }),
);

test(
  "tunnelled: with no UDP path, datagrams cross the control connection and the file still arrives intact",
  { timeout: 60_000 },
  () =>
    withDirs(async ({ src, root, state }) => {
      const inner = serverKeyPair();
      const relay = await startRelayAllowing(state, inner.text);
      const link = RelayLink.open({
        relayHost: "127.0.0.1",
        relayPort: relay.port,
        keyPair: inner,
        forceTunnel: true,
      });
      try {
        await link.waitConnected();
        assert.equal(link.state, "tunnelled");
        const port = await link.openPublicPort(0);
        const receiver = await UdpReceiver.open({ host: "127.0.0.1", port: 0, root, transport: port });
        const sender = await UdpSender.open({
          host: "127.0.0.1",
          port: port.localAddress.port,
          config: { rateControlMethod: "fixed", sendRate: 50e6 / 8 },
        });
        await writeRandomFile(join(src, "t.bin"), 3 * 1024 * 1024 + 5);
        const result = await sender.send({
          destinationPath: "",
          files: [{ source: join(src, "t.bin"), path: "t.bin" }],
        });
        assert.equal(result.ok, true, result.message);
        assert.equal(await sha256Of(join(root, "t.bin")), await sha256Of(join(src, "t.bin")));
        relay.child.kill("SIGUSR1");
        await once(relay.child.stdout!, "data");
        assert.match(relay.stdout(), /tunnelled over TCP/);
        await sender.close();
        await receiver.close();
      } finally {
        await link.close();
        await relay.stop();
      }
    }),
);
