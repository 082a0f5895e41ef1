import { test } from "node:test";
import assert from "node:assert/strict";
import { RangeSet } from "../../src/core/util/range-set.js";
import { Bitset } from "../../src/core/util/bitset.js";
import { ControlRecvStream, ControlSendStream } from "../../src/core/transport/control-stream.js";
import { AckTracker } from "../../src/core/transport/ack-tracker.js";

test("RangeSet merges, reports new coverage and answers membership", () => {
  const r = new RangeSet();
  assert.equal(r.add(10, 20), 10);
  assert.equal(r.add(30, 40), 10);
  assert.equal(r.add(15, 35), 10);
  assert.deepEqual(r.toArray(), [[10, 40]]);
  assert.equal(r.add(0, 5), 5);
  assert.equal(r.add(5, 10), 5);
  assert.deepEqual(r.toArray(), [[0, 40]]);
  assert.ok(r.has(39) && !r.has(40));
  assert.ok(r.covers(3, 30) && !r.covers(30, 41));
  r.add(50, 60);
  r.removeBelow(55);
  assert.deepEqual(r.toArray(), [[55, 60]]);
});

test("RangeSet agrees with a naive set under random operations", () => {
  let s = 7;
  const next = (n: number) => ((s = (s * 1103515245 + 12345) >>> 0), s % n);
  const r = new RangeSet();
  const naive = new Set<number>();
  for (let i = 0; i < 3000; i++) {
    const a = next(500);
    const b = a + next(20);
    let fresh = 0;
    for (let v = a; v < b; v++) {
      if (naive.has(v)) continue;
      naive.add(v);
      fresh++;
    }
    assert.equal(r.add(a, b), fresh);
  }
  for (let v = 0; v < 530; v++) assert.equal(r.has(v), naive.has(v), `value ${v}`);
  assert.equal(r.total(), naive.size);
});

test("Bitset finds clear bits and runs", () => {
  const b = new Bitset(100);
  for (const i of [0, 1, 2, 40, 41, 99]) b.set(i);
  assert.equal(b.set(2), false);
  assert.equal(b.size, 6);
  assert.equal(b.nextClear(0), 3);
  assert.equal(b.nextClear(40), 42);
  assert.deepEqual(
    [...b.runs()],
    [
      [0, 3],
      [40, 42],
      [99, 100],
    ],
  );
  for (let i = 0; i < 100; i++) b.set(i);
  assert.ok(b.full);
  assert.equal(b.nextClear(0), -1);
});

test("the control stream reassembles messages from lost, reordered and duplicated chunks", () => {
  const out = new ControlSendStream();
  const msgs = [new Uint8Array(3000).fill(1), new Uint8Array([2]), new Uint8Array(10).fill(3)];
  for (const m of msgs) out.write(m);
  const chunks: Array<[number, Uint8Array, boolean]> = [];
  for (let c = out.next(500); c; c = out.next(500)) chunks.push(c);
  assert.ok(
    chunks.every((c) => !c[2]),
    "no repeat asked for",
  );
  // lose chunk 2, deliver the rest in reverse with a duplicate
  const lostChunk = chunks[2]!;
  out.onLost(lostChunk[0], lostChunk[1].length);
  const resent = out.next(500)!;
  assert.equal(resent[0], lostChunk[0]);
  assert.equal(resent[2], false, "a resend");
  const recv = new ControlRecvStream();
  const got: Uint8Array[] = [];
  const order = [...chunks.filter((_, i) => i !== 2).reverse(), chunks[0]!, resent];
  for (const [off, data] of order) got.push(...recv.onChunk(off, data));
  assert.deepEqual(
    got.map((m) => m.length),
    [3000, 1, 10],
  );
  assert.deepEqual([...got[1]!], [2]);
});

test("a repeat of control data resends only what is still unacknowledged", () => {
  const out = new ControlSendStream();
  out.write(new Uint8Array(10)); // bytes 0–13, no repeat wanted
  out.write(new Uint8Array(100).fill(7), true); // bytes 14–117
  assert.equal(out.next(14)![2], false);
  const [offset, first, wanted] = out.next(1000)!;
  assert.equal(wanted, true, "the first transmission of a message that asked for a repeat");
  out.onAcked(0, 14);
  out.onAcked(14, 50);
  out.repeat(offset, first.length);
  const again = out.next(1000)!;
  assert.deepEqual([again[0], again[1].length, again[2]], [64, 54, false]);
  out.onAcked(64, 54);
  out.repeat(offset, first.length);
  assert.equal(out.next(1000), null, "nothing left to repeat once all of it was acknowledged");
});

test("ACKs go out after the configured count, at once on reordering, else after the delay", () => {
  const t = new AckTracker(4, 2000);
  t.onPacket(0, 0, true, false);
  assert.equal(t.needsAck(0), false);
  assert.equal(t.ackDeadline(), 2000);
  for (let pn = 1; pn < 4; pn++) t.onPacket(10, pn, true, false);
  assert.equal(t.needsAck(10), true);
  t.onAckSent();
  t.onPacket(20, 6, true, false); // gap: 4 and 5 missing
  assert.equal(t.needsAck(20), true);
  const ack = t.buildAck(25, 1000, 0);
  assert.deepEqual(ack.ranges, [
    [6, 7],
    [0, 4],
  ]);
  assert.equal(ack.ackDelay, 5);
  assert.ok(t.isDuplicate(6) && !t.isDuplicate(5));
});

test("synthetic simulator files read the same whatever the read boundaries", async () => {
  const { SyntheticFile } = await import("../../src/sim/transfer/synthetic-files.js");
  const f = new SyntheticFile("x", 10_000);
  const whole = f.read(0, 10_000);
  for (const step of [1, 7, 511, 513, 1341, 4096]) {
    const parts: Buffer[] = [];
    for (let off = 0; off < 10_000; off += step) parts.push(f.read(off, Math.min(step, 10_000 - off)));
    assert.ok(Buffer.concat(parts).equals(whole), `step ${step}`);
  }
});
