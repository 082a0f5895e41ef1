import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { UdpSocket, usableBufferSize, type UdpEndpoint } from "../../src/io/udp-socket.js";
import { nextTurn, waitFor } from "./helpers.js";

function sysctl(name: string): number | null {
  try {
    return Number(readFileSync(`/proc/sys/net/core/${name}`, "utf8").trim());
  } catch {
    return null;
  }
}

test("granted buffer sizes are what the OS reports, and a capped request warns naming the sysctl", async () => {
  const requested = 1024 * 1024;
  const socket = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    recvBufferSize: requested,
    sendBufferSize: requested,
  });
  try {
    assert.ok(socket.grantedRecvBufferSize > 0);
    assert.ok(socket.grantedSendBufferSize > 0);
    const rmemMax = sysctl("rmem_max");
    const wmemMax = sysctl("wmem_max");
    if (process.platform === "linux" && rmemMax !== null && wmemMax !== null) {
      // Linux: min(request, cap) doubled for bookkeeping
      assert.equal(socket.grantedRecvBufferSize, 2 * Math.min(requested, rmemMax));
      assert.equal(socket.grantedSendBufferSize, 2 * Math.min(requested, wmemMax));
      assert.equal(
        socket.warnings.some((w) => w.includes("net.core.rmem_max")),
        rmemMax < requested,
      );
    }
    const usable = usableBufferSize(socket.grantedRecvBufferSize);
    assert.equal(
      socket.warnings.some((w) => w.startsWith("UDP receive buffer")),
      usable < requested,
    );
  } finally {
    await socket.close();
  }

  const rmemMax = sysctl("rmem_max");
  if (process.platform === "linux" && rmemMax !== null) {
    const tooBig = rmemMax * 4;
    const capped = await UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: tooBig });
    try {
      assert.equal(capped.grantedRecvBufferSize, 2 * rmemMax);
      const warning = capped.warnings.find((w) => w.startsWith("UDP receive buffer"));
      assert.ok(warning, "expected a warning");
      assert.match(warning, /net\.core\.rmem_max/);
      assert.match(warning, new RegExp(`sysctl -w net.core.rmem_max=${tooBig}`));
    } finally {
      await capped.close();
    }
  }
});

test("many datagrams from a connected socket arrive intact and are counted", async () => {
  const receiver = await UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: 1 << 20 });
  const sender = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    connectTo: { host: "127.0.0.1", port: receiver.localAddress.port },
  });
  try {
    assert.deepEqual(sender.remoteAddress, { address: "127.0.0.1", port: receiver.localAddress.port });
    assert.equal(receiver.remoteAddress, null);
    const count = 3000;
    const seen = new Uint8Array(count);
    let corrupt = 0;
    let wrongSource = 0;
    receiver.onDatagram((data, from) => {
      const index = data.readUInt32BE(0);
      for (let i = 4; i < data.length; i++) if (data[i] !== (index + i) % 251) corrupt++;
      if (from.port !== sender.localAddress.port || from.address !== "127.0.0.1") wrongSource++;
      seen[index] = 1;
    });
    for (let index = 0; index < count; index++) {
      const datagram = Buffer.alloc(1400);
      datagram.writeUInt32BE(index, 0);
      for (let i = 4; i < datagram.length; i++) datagram[i] = (index + i) % 251;
      assert.equal(sender.send(datagram), true);
      // libuv reads at most 32 datagrams per socket per event-loop turn: yield before that
      if (index % 20 === 19) await nextTurn();
    }
    assert.ok(await waitFor(() => receiver.counters.datagramsReceived === count), "all datagrams arrive");
    assert.equal(corrupt, 0);
    assert.equal(wrongSource, 0);
    assert.equal(
      seen.reduce((a, b) => a + b, 0),
      count,
    );
    assert.equal(sender.counters.datagramsSent, count);
    assert.equal(sender.counters.bytesSent, count * 1400);
    assert.equal(receiver.counters.bytesReceived, count * 1400);
    assert.equal(sender.counters.sendErrors + sender.counters.sendDrops, 0);
  } finally {
    await Promise.all([sender.close(), receiver.close()]);
  }
});

test("an unconnected socket sends to and answers a given address", async () => {
  const a = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
  const b = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
  try {
    b.onDatagram((data, from) => b.send(Buffer.concat([Buffer.from("re:"), data]), from));
    const replies: { text: string; from: UdpEndpoint }[] = [];
    a.onDatagram((data, from) => replies.push({ text: data.toString(), from: { ...from } }));
    a.send(Buffer.from("hello"), b.localAddress);
    assert.ok(await waitFor(() => replies.length === 1));
    assert.equal(replies[0].text, "re:hello");
    assert.equal(replies[0].from.port, b.localAddress.port);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

test("IPv6 loopback works when available, and sources read as dgram writes them", async (t) => {
  let socket: UdpSocket;
  try {
    socket = await UdpSocket.open({ host: "::1", port: 0 });
  } catch {
    t.skip("no IPv6 loopback");
    return;
  }
  const peer = await UdpSocket.open({
    host: "::1",
    port: 0,
    connectTo: { host: "::1", port: socket.localAddress.port },
  });
  try {
    const got: { text: string; from: UdpEndpoint }[] = [];
    socket.onDatagram((data, from) => got.push({ text: data.toString(), from }));
    peer.send(Buffer.from("v6"));
    peer.send(Buffer.from("again"));
    assert.ok(await waitFor(() => got.length === 2));
    assert.deepEqual(
      got.map((g) => g.text),
      ["v6", "again"],
    );
    assert.equal(socket.localAddress.address, "::1");
    assert.deepEqual(got[0]!.from, { address: "::1", port: peer.localAddress.port });
    // the native receive path decodes a source once and hands the same object while it repeats
    if (socket.receivePath === "recvmmsg") assert.equal(got[1]!.from, got[0]!.from);
  } finally {
    await Promise.all([socket.close(), peer.close()]);
  }
});

/** A socket connected to a port nobody listens on (bound once, noted, closed). */
async function connectedToClosedPort(): Promise<{ socket: UdpSocket; port: number }> {
  const probe = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
  const port = probe.localAddress.port;
  await probe.close();
  const socket = await UdpSocket.open({ host: "127.0.0.1", port: 0, connectTo: { host: "127.0.0.1", port } });
  return { socket, port };
}

test("errors are counted, never thrown; closed sockets refuse sends", async () => {
  const { socket } = await connectedToClosedPort();
  try {
    for (let i = 0; i < 5; i++) {
      socket.send(Buffer.from("x"));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (process.platform === "linux") {
      // ICMP port unreachable surfaces as ECONNREFUSED on a connected socket
      assert.ok(await waitFor(() => socket.counters.receiveErrors + socket.counters.sendErrors > 0));
      assert.equal(socket.counters.lastErrorCode, "ECONNREFUSED");
    }
    assert.equal(
      socket.send(Buffer.from("y"), { address: "127.0.0.1", port: 9 }),
      false,
      "address on a connected socket",
    );
  } finally {
    await socket.close();
  }
  await socket.close(); // idempotent
  assert.equal(socket.send(Buffer.from("z")), false);
});

test("the native receive path: datagrams of a GSO batch arrive one by one, in order, and keep their bytes", async (t) => {
  const receiver = await UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: 1 << 20 });
  if (receiver.receivePath !== "recvmmsg") {
    await receiver.close();
    t.skip("no native addon on this machine");
    return;
  }
  const senders = await Promise.all(
    [0, 1].map(() =>
      UdpSocket.open({
        host: "127.0.0.1",
        port: 0,
        connectTo: { host: "127.0.0.1", port: receiver.localAddress.port },
      }),
    ),
  );
  try {
    const got: { data: Buffer; port: number }[] = [];
    receiver.onDatagram((data, from) => got.push({ data, port: from.port }));
    // 3 rounds, each sender 30 × 1,200 bytes (sent as GSO runs, which the kernel may hand over
    // coalesced by GRO) and a 100-byte tail, sender 0 first
    const datagram = (sender: number, round: number, i: number, size: number): Buffer =>
      Buffer.alloc(size, (sender * 97 + round * 31 + i) % 256);
    for (let round = 0; round < 3; round++) {
      for (const [s, socket] of senders.entries()) {
        for (let i = 0; i < 30; i++) socket.send(datagram(s, round, i, 1200));
        socket.send(datagram(s, round, 30, 100));
      }
      await nextTurn();
      assert.ok(
        await waitFor(() => got.length === (round + 1) * 62),
        `round ${round}: ${got.length} datagrams`,
      );
    }
    // where the kernel has UDP GSO the runs went out as GSO sends (and arrive coalesced by GRO)
    if (senders.every((s) => s.sendPath === "gso")) {
      assert.ok(
        senders.every((s) => s.counters.gsoDatagrams > 0),
        "the senders used GSO",
      );
    }
    // every datagram separate, from the right sender, in its sender's order, bytes unchanged
    // although later batches arrived after it was handed over
    for (const [s, socket] of senders.entries()) {
      const mine = got.filter((g) => g.port === socket.localAddress.port);
      assert.equal(mine.length, 93);
      mine.forEach((g, k) => {
        const [round, i] = [Math.floor(k / 31), k % 31];
        assert.deepEqual(
          g.data,
          datagram(s, round, i, i === 30 ? 100 : 1200),
          `sender ${s} round ${round} #${i}`,
        );
      });
    }
    assert.equal(receiver.counters.datagramsReceived, 186);
  } finally {
    await Promise.all([receiver.close(), ...senders.map((s) => s.close())]);
  }
});

test("transientReceive: every batch reuses one buffer, valid until the batch-end handler has run", async (t) => {
  const receiver = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    recvBufferSize: 1 << 20,
    transientReceive: true,
  });
  if (receiver.receivePath !== "recvmmsg") {
    await receiver.close();
    t.skip("no native addon on this machine");
    return;
  }
  const sender = await UdpSocket.open({
    host: "127.0.0.1",
    port: 0,
    connectTo: { host: "127.0.0.1", port: receiver.localAddress.port },
  });
  try {
    const copies: Buffer[] = [];
    const views: Buffer[] = [];
    const memories = new Set<ArrayBufferLike>();
    let batchEnds = 0;
    let inBatch = 0;
    receiver.onDatagram((data) => {
      copies.push(Buffer.from(data));
      views.push(data);
      memories.add(data.buffer);
      inBatch++;
    });
    receiver.onBatchEnd(() => {
      assert.ok(inBatch > 0, "a batch end follows the datagrams of its batch");
      inBatch = 0;
      batchEnds++;
    });
    const datagram = (i: number) => Buffer.alloc(300 + i, i % 251);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 25; i++) sender.send(datagram(round * 25 + i));
      await nextTurn();
      assert.ok(await waitFor(() => copies.length === (round + 1) * 25), `round ${round}: ${copies.length}`);
    }
    copies.forEach((c, i) => assert.deepEqual(c, datagram(i), `datagram ${i} as it was handed over`));
    assert.ok(batchEnds >= 4, `one batch end per batch (${batchEnds})`);
    assert.equal(memories.size, 1, "all batches in one buffer");
    // the reuse is real: an early view now shows a later batch's bytes
    assert.ok(
      views.some((v, i) => !v.equals(datagram(i))),
      "the first batches' bytes were overwritten by later ones",
    );
  } finally {
    await Promise.all([receiver.close(), sender.close()]);
  }
});

test("a closed socket's port is free at once, and child processes do not inherit the socket", async () => {
  const first = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
  const port = first.localAddress.port;
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 2000)"], { stdio: "ignore" });
  try {
    await first.close();
    const again = await UdpSocket.open({ host: "127.0.0.1", port });
    assert.equal(again.localAddress.port, port);
    await again.close();
  } finally {
    child.kill();
  }
});

test("a connected socket keeps receiving after an ICMP error (its peer came back)", async () => {
  const { socket, port: peerPort } = await connectedToClosedPort();
  try {
    for (let i = 0; i < 3; i++) {
      socket.send(Buffer.from("anyone?"));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const peer = await UdpSocket.open({ host: "127.0.0.1", port: peerPort });
    try {
      let got = 0;
      socket.onDatagram(() => got++);
      for (let i = 0; i < 5; i++) peer.send(Buffer.from("back"), socket.localAddress);
      assert.ok(await waitFor(() => got === 5), `${got} of 5 received after the error`);
    } finally {
      await peer.close();
    }
  } finally {
    await socket.close();
  }
});
