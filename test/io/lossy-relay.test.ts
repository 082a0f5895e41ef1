import { test } from "node:test";
import assert from "node:assert/strict";
import { LossyRelay, parseEndpoint, runLossyRelay } from "../../src/io/lossy-relay.js";
import { UdpSocket } from "../../src/io/udp-socket.js";
import { nextTurn, waitFor } from "./helpers.js";

/** A UDP echo server on loopback. */
async function echoServer(): Promise<UdpSocket> {
  const server = await UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: 1 << 20 });
  server.onDatagram((data, from) => server.send(data, from));
  return server;
}

test("an echo through the relay takes at least the configured round trip", async () => {
  const echo = await echoServer();
  const delayMs = 25;
  const relay = await LossyRelay.start({
    listen: { host: "127.0.0.1", port: 0 },
    target: { host: "127.0.0.1", port: echo.localAddress.port },
    forward: { delayMs },
    backward: { delayMs },
  });
  const client = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    connectTo: { host: "127.0.0.1", port: relay.address.port },
  });
  try {
    const rtts: number[] = [];
    const sentAt = new Map<number, number>();
    client.onDatagram((data) => rtts.push(performance.now() - (sentAt.get(data.readUInt32BE(0)) ?? NaN)));
    for (let i = 0; i < 5; i++) {
      const datagram = Buffer.alloc(64);
      datagram.writeUInt32BE(i, 0);
      sentAt.set(i, performance.now());
      client.send(datagram);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    assert.ok(await waitFor(() => rtts.length === 5));
    for (const rtt of rtts)
      assert.ok(rtt >= 2 * delayMs, `echo after ${rtt} ms, before the ${2 * delayMs} ms RTT`);
    const counters = relay.counters;
    assert.equal(counters.forward.delivered, 5);
    assert.equal(counters.backward.delivered, 5);
    assert.equal(counters.clients, 1);
  } finally {
    await Promise.all([client.close(), relay.close(), echo.close()]);
  }
});

test("loss through the relay stays within statistical bounds and is accounted for", async () => {
  const echo = await echoServer();
  let reachedTarget = 0;
  echo.onDatagram(() => reachedTarget++);
  const relay = await LossyRelay.start({
    listen: { host: "127.0.0.1", port: 0 },
    target: { host: "127.0.0.1", port: echo.localAddress.port },
    forward: { delayMs: 1, lossRate: 0.2 },
    backward: { delayMs: 1 },
    seed: 1234,
  });
  const client = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    connectTo: { host: "127.0.0.1", port: relay.address.port },
  });
  try {
    const count = 2000;
    for (let i = 0; i < count; i++) {
      client.send(Buffer.alloc(200));
      if (i % 20 === 19) await nextTurn();
    }
    assert.ok(
      await waitFor(
        () => relay.counters.forward.datagramsIn === count && relay.counters.forward.inFlight === 0,
      ),
    );
    const { forward } = relay.counters;
    // binomial(2000, 0.2): mean 400, sd ~17.9; allow 5 sd
    assert.ok(Math.abs(forward.lost - 400) < 90, `lost ${forward.lost}`);
    assert.equal(forward.lost + forward.delivered, count);
    assert.ok(
      await waitFor(() => reachedTarget === forward.delivered),
      `target got ${reachedTarget} of ${forward.delivered}`,
    );
  } finally {
    await Promise.all([client.close(), relay.close(), echo.close()]);
  }
});

test("replies go back to the client that sent, for several client ports", async () => {
  const echo = await echoServer();
  const relay = await LossyRelay.start({
    listen: { host: "127.0.0.1", port: 0 },
    target: { host: "127.0.0.1", port: echo.localAddress.port },
    forward: { delayMs: 0 },
    backward: { delayMs: 0 },
  });
  const clients = await Promise.all(
    [0, 1, 2].map(() =>
      UdpSocket.open({
        host: "127.0.0.1",
        port: 0,
        connectTo: { host: "127.0.0.1", port: relay.address.port },
      }),
    ),
  );
  try {
    const received: string[][] = clients.map(() => []);
    clients.forEach((client, i) => client.onDatagram((data) => received[i].push(data.toString())));
    for (let round = 0; round < 3; round++) {
      clients.forEach((client, i) => client.send(Buffer.from(`client${i}-${round}`)));
      await nextTurn();
    }
    assert.ok(await waitFor(() => received.every((r) => r.length === 3)));
    received.forEach((messages, i) =>
      assert.ok(
        messages.every((m) => m.startsWith(`client${i}-`)),
        messages.join(),
      ),
    );
    assert.equal(relay.counters.clients, 3);
  } finally {
    await Promise.all([...clients.map((c) => c.close()), relay.close(), echo.close()]);
  }
});

test("runLossyRelay logs its settings, relays until aborted, and returns the counters", async () => {
  const echo = await echoServer();
  const lines: string[] = [];
  const abort = new AbortController();
  const running = runLossyRelay({
    listen: "127.0.0.1:0",
    target: `127.0.0.1:${echo.localAddress.port}`,
    rttMs: 10,
    lossPct: 0,
    rateMbit: 100,
    seed: 5,
    statsIntervalMs: 0,
    log: (line) => lines.push(line),
    signal: abort.signal,
  });
  try {
    assert.ok(await waitFor(() => lines.length > 0));
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(lines[0])?.[1]);
    assert.match(lines[0], /rtt 10 ms/);
    assert.match(lines[0], /rate 100 Mbit\/s/);
    assert.match(lines[0], /seed 5/);
    const client = await UdpSocket.open({
      host: "127.0.0.1",
      port: 0,
      connectTo: { host: "127.0.0.1", port },
    });
    let echoed = 0;
    client.onDatagram(() => echoed++);
    client.send(Buffer.from("ping"));
    assert.ok(await waitFor(() => echoed === 1));
    await client.close();
  } finally {
    abort.abort();
  }
  const counters = await running;
  await echo.close();
  assert.equal(counters.forward.delivered, 1);
  assert.equal(counters.backward.delivered, 1);
  assert.match(lines[lines.length - 1], /forward in 1 out 1/);
});

test("parseEndpoint reads host:port, [v6]:port and :port", () => {
  assert.deepEqual(parseEndpoint("127.0.0.1:9000"), { host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseEndpoint("[::1]:8886"), { host: "::1", port: 8886 });
  assert.deepEqual(parseEndpoint(":7000"), { host: "0.0.0.0", port: 7000 });
  assert.deepEqual(parseEndpoint("localhost:1"), { host: "localhost", port: 1 });
  assert.throws(() => parseEndpoint("127.0.0.1"), /host:port/);
  assert.throws(() => parseEndpoint("127.0.0.1:70000"), /host:port/);
});
