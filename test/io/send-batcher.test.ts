import { test } from "node:test";
import assert from "node:assert/strict";
import type dgram from "node:dgram";
import { constants } from "node:os";
import { nativeUdp, type NativeUdp } from "../../src/native/addon.js";
import { SendBatcher } from "../../src/io/send-batcher.js";
import { UdpSocket } from "../../src/io/udp-socket.js";
import { nextTurn, waitFor } from "./helpers.js";

const onLinux = process.platform === "linux" ? false : "batched sends are Linux only";

/** A native stand-in that records each call and answers from a script. */
function fakeNative(answers: { segments?: (count: number) => number; batch?: (count: number) => number }) {
  const calls: { kind: "gso" | "mmsg"; sizes: number[]; to?: string }[] = [];
  const record = (
    kind: "gso" | "mmsg",
    d: readonly Uint8Array[],
    start: number,
    count: number,
    a?: string,
    p?: number,
  ) =>
    calls.push({
      kind,
      sizes: d.slice(start, start + count).map((x) => x.byteLength),
      ...(a === undefined ? {} : { to: `${a}:${p}` }),
    });
  const native: NativeUdp = {
    sendSegments(_fd, datagrams, start, count, address, port) {
      record("gso", datagrams, start, count, address, port);
      return answers.segments ? answers.segments(count) : count;
    },
    sendBatch(_fd, datagrams, start, count, address, port) {
      record("mmsg", datagrams, start, count, address, port);
      return answers.batch ? answers.batch(count) : count;
    },
  };
  return { native, calls };
}

function batcher(native: NativeUdp, queued = () => 0) {
  const viaDgram: number[] = [];
  const errors: string[] = [];
  const counters = { batchSyscalls: 0, gsoDatagrams: 0 };
  const socket = { getSendQueueCount: queued } as unknown as dgram.Socket;
  const b = new SendBatcher(
    native,
    3,
    socket,
    counters,
    (d) => viaDgram.push(d.byteLength),
    (c) => errors.push(c),
    true,
  );
  return { b, viaDgram, errors, counters };
}

const sized = (...sizes: number[]) => sizes.map((n) => new Uint8Array(n));

test("runs of equal size go out as one GSO send each (the last of a run may be shorter); the rest through sendmmsg", () => {
  const { native, calls } = fakeNative({});
  const { b, counters } = batcher(native);
  for (const d of sized(1400, 1400, 1400, 900, 1400, 60, 70, 1400)) b.add(d);
  b.flush();
  assert.deepEqual(calls, [
    { kind: "gso", sizes: [1400, 1400, 1400, 900] },
    { kind: "gso", sizes: [1400, 60] },
    { kind: "mmsg", sizes: [70, 1400] },
  ]);
  assert.equal(counters.gsoDatagrams, 6);
  assert.equal(counters.batchSyscalls, 3);
  assert.equal(b.pendingCount, 0);
});

test("a GSO send carries at most 65,000 bytes and 64 datagrams", () => {
  const { native, calls } = fakeNative({});
  const { b } = batcher(native);
  for (const d of sized(...Array<number>(100).fill(1400))) b.add(d);
  b.flush();
  assert.deepEqual(
    calls.map((c) => c.sizes.length),
    [46, 46, 8],
  );
  const small = fakeNative({});
  const s = batcher(small.native);
  for (const d of sized(...Array<number>(100).fill(100))) s.b.add(d);
  s.b.flush();
  assert.deepEqual(
    small.calls.map((c) => c.sizes.length),
    [64, 36],
  );
});

test("a socket without UDP GSO (EIO) switches to sendmmsg for good, resending the same datagrams", () => {
  const { native, calls } = fakeNative({ segments: () => -constants.errno.EIO });
  const { b, errors, counters } = batcher(native);
  for (const d of sized(1400, 1400, 1400)) b.add(d);
  b.flush();
  assert.equal(b.gsoEnabled, false);
  assert.deepEqual(calls, [
    { kind: "gso", sizes: [1400, 1400, 1400] },
    { kind: "mmsg", sizes: [1400, 1400, 1400] },
  ]);
  assert.deepEqual(errors, []);
  assert.equal(counters.gsoDatagrams, 0);
  for (const d of sized(1400, 1400)) b.add(d);
  b.flush();
  assert.equal(calls.at(-1)!.kind, "mmsg");
});

test("what the kernel cannot take now (EAGAIN) goes to dgram's queue, in order, and later batches follow it there", () => {
  let room = 2;
  const { native, calls } = fakeNative({
    batch: (count) => {
      const n = Math.min(room, count);
      room -= n;
      return n;
    },
  });
  let queued = 0;
  const { b, viaDgram } = batcher(native, () => queued);
  for (const d of sized(10, 20, 30, 40, 50)) b.add(d);
  b.flush();
  assert.deepEqual(
    calls.map((c) => c.sizes),
    [
      [10, 20, 30, 40, 50],
      [30, 40, 50],
    ],
  );
  assert.deepEqual(viaDgram, [30, 40, 50]);
  queued = 3; // libuv now holds them: a new batch must not overtake
  for (const d of sized(60, 70)) b.add(d);
  b.flush();
  assert.equal(calls.length, 2);
  assert.deepEqual(viaDgram, [30, 40, 50, 60, 70]);
});

test("a transient datagram that has to wait in dgram's queue goes there as a copy, so its memory may be reused", () => {
  const { native } = fakeNative({ batch: () => 0 }); // the kernel buffer is full
  const handed: Uint8Array[] = [];
  const counters = { batchSyscalls: 0, gsoDatagrams: 0 };
  const socket = { getSendQueueCount: () => 0 } as unknown as dgram.Socket;
  const b = new SendBatcher(
    native,
    3,
    socket,
    counters,
    (d) => handed.push(d),
    () => undefined,
    false,
  );
  const memory = new Uint8Array(64).fill(7);
  b.add(memory.subarray(0, 32), null, true);
  b.add(memory.subarray(32), null, false);
  b.flush();
  memory.fill(0); // the caller reuses its memory
  assert.deepEqual([...handed[0]!], new Array<number>(32).fill(7), "the copy kept its bytes");
  assert.notEqual(handed[0]!.buffer, memory.buffer);
  assert.equal(handed[1]!.buffer, memory.buffer, "a datagram not marked transient is queued itself");
});

test("a kernel error drops the failed datagram, is reported by name, and the rest still go", () => {
  let first = true;
  const { native } = fakeNative({
    batch: (count) => {
      if (first) {
        first = false;
        return -constants.errno.ECONNREFUSED;
      }
      return count;
    },
  });
  const { b, errors, viaDgram } = batcher(native);
  for (const d of sized(10, 20, 30)) b.add(d);
  b.flush();
  assert.deepEqual(errors, ["ECONNREFUSED"]);
  assert.deepEqual(viaDgram, []);
});

test("an unconnected socket's batch is cut where the destination changes", () => {
  const { native, calls } = fakeNative({});
  const { b } = batcher(native);
  const a = { address: "127.0.0.1", port: 1000 };
  const c = { address: "::1", port: 2000 };
  const sends: Array<[number, typeof a]> = [
    [1400, a],
    [1400, a],
    [1400, c],
    [60, c],
    [70, a],
    [80, { address: "127.0.0.1", port: 1000 }],
  ];
  for (const [size, to] of sends) b.add(new Uint8Array(size), to);
  b.flush();
  assert.deepEqual(calls, [
    { kind: "gso", sizes: [1400, 1400], to: "127.0.0.1:1000" },
    { kind: "gso", sizes: [1400, 60], to: "::1:2000" },
    { kind: "mmsg", sizes: [70, 80], to: "127.0.0.1:1000" },
  ]);
});

test("an argument the addon refuses does not throw out of the flush: dgram sends the rest", () => {
  const native: NativeUdp = {
    sendSegments: () => {
      throw new TypeError("bad");
    },
    sendBatch: () => {
      throw new TypeError("bad");
    },
  };
  const { b, viaDgram } = batcher(native);
  for (const d of sized(10, 10, 20)) b.add(d);
  assert.doesNotThrow(() => b.flush());
  assert.deepEqual(viaDgram, [10, 10, 20]);
});

test("datagrams added in one turn are flushed together at the end of it", async () => {
  const { native, calls } = fakeNative({});
  const { b } = batcher(native);
  for (const d of sized(50, 60, 70)) b.add(d);
  assert.equal(calls.length, 0);
  await nextTurn();
  assert.deepEqual(calls, [{ kind: "mmsg", sizes: [50, 60, 70] }]);
});

test(
  "real sockets: a connected socket batches natively (GSO on loopback) and every datagram arrives intact, in order",
  { skip: onLinux },
  async () => {
    assert.notEqual(nativeUdp, null, "the native addon is built in this repository's CI");
    const receiver = await UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: 8 << 20 });
    const sender = await UdpSocket.open({
      host: "127.0.0.1",
      port: 0,
      connectTo: { host: "127.0.0.1", port: receiver.localAddress.port },
    });
    try {
      assert.equal(sender.sendPath, "gso");
      const order: number[] = [];
      let corrupt = 0;
      receiver.onDatagram((data) => {
        const index = data.readUInt32BE(0);
        for (let i = 4; i < data.length; i++) if (data[i] !== (index + i) % 251) corrupt++;
        order.push(index);
      });
      const count = 2000;
      for (let index = 0; index < count; index++) {
        const size = index % 97 === 0 ? 300 : 1400; // some short ones break the GSO runs
        const datagram = Buffer.alloc(size);
        datagram.writeUInt32BE(index, 0);
        for (let i = 4; i < size; i++) datagram[i] = (index + i) % 251;
        assert.equal(sender.send(datagram), true);
        if (index % 100 === 99) await nextTurn();
      }
      assert.ok(await waitFor(() => order.length === count), `received ${order.length} of ${count}`);
      assert.equal(corrupt, 0);
      assert.deepEqual(
        order,
        order.map((_, i) => i),
      );
      assert.equal(sender.counters.datagramsSent, count);
      assert.ok(sender.counters.gsoDatagrams > count / 2, `${sender.counters.gsoDatagrams} went by GSO`);
      assert.ok(sender.counters.batchSyscalls < count / 10, `${sender.counters.batchSyscalls} system calls`);
      assert.equal(sender.counters.sendErrors + sender.counters.sendDrops, 0);
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  },
);

test(
  "real sockets: an unconnected socket batches replies to several peers, each gets its own datagrams in order",
  { skip: onLinux },
  async () => {
    const hub = await UdpSocket.open({ host: "127.0.0.1", port: 0 });
    const peers = await Promise.all(
      [0, 1, 2].map(() => UdpSocket.open({ host: "127.0.0.1", port: 0, recvBufferSize: 4 << 20 })),
    );
    try {
      assert.equal(hub.sendPath, "gso");
      const got = peers.map(() => [] as number[]);
      peers.forEach((p, k) => p.onDatagram((data) => got[k]!.push(data.readUInt32BE(0))));
      const count = 900;
      for (let i = 0; i < count; i++) {
        const datagram = Buffer.alloc(i % 50 === 0 ? 200 : 1200);
        datagram.writeUInt32BE(i, 0);
        // runs of five to one peer, then the next: batches cut at every change of destination
        const peer = peers[Math.floor(i / 5) % 3]!;
        assert.equal(hub.send(datagram, { address: "127.0.0.1", port: peer.localAddress.port }), true);
        if (i % 150 === 149) await nextTurn();
      }
      assert.equal(
        hub.send(Buffer.from("x"), { address: "no-such-host.invalid", port: 9 }),
        true,
        "a name goes through dgram",
      );
      assert.ok(
        await waitFor(() => got.every((g) => g.length === count / 3)),
        `received ${got.map((g) => g.length)}`,
      );
      for (const [k, g] of got.entries()) {
        const expected = Array.from({ length: count }, (_, i) => i).filter(
          (i) => Math.floor(i / 5) % 3 === k,
        );
        assert.deepEqual(g, expected, `peer ${k}`);
      }
      assert.ok(hub.counters.gsoDatagrams > 0);
      assert.ok(hub.counters.batchSyscalls < count / 2);
    } finally {
      await Promise.all([hub.close(), ...peers.map((p) => p.close())]);
    }
  },
);
