import { test } from "node:test";
import assert from "node:assert/strict";
import { LinkEmulator, type LinkClock, type LinkOptions } from "../../src/io/link-emulator.js";
import { seededRandom } from "../../src/core/util/random.js";

/** Virtual milliseconds; timers fire as `advance` passes them. */
class VirtualClock implements LinkClock {
  time = 0;
  timersSet = 0;
  private timers = new Map<number, { due: number; callback: () => void }>();
  private nextId = 1;
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timersSet++;
    this.timers.set(id, { due: this.time + delayMs, callback });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let earliest: [number, { due: number; callback: () => void }] | null = null;
      for (const entry of this.timers) if (!earliest || entry[1].due < earliest[1].due) earliest = entry;
      if (!earliest || earliest[1].due > end) break;
      this.timers.delete(earliest[0]);
      this.time = Math.max(this.time, earliest[1].due);
      earliest[1].callback();
    }
    this.time = end;
  }
}

function makeLink(options: LinkOptions, seed = 1) {
  const clock = new VirtualClock();
  const delivered: { id: number; at: number }[] = [];
  const link = new LinkEmulator<number>(
    options,
    seededRandom(seed),
    (id) => delivered.push({ id, at: clock.now() }),
    clock,
  );
  return { clock, delivered, link };
}

const packet = (bytes = 1000): Buffer => Buffer.alloc(bytes);

test("constant delay: every datagram is released no earlier than the delay, in order, with one timer at a time", () => {
  const { clock, delivered, link } = makeLink({ delayMs: 50 });
  for (let i = 0; i < 100; i++) {
    link.submit(packet(), i);
    clock.advance(0.5);
  }
  clock.advance(100);
  assert.equal(delivered.length, 100);
  delivered.forEach((d, i) => {
    assert.equal(d.id, i);
    assert.ok(d.at >= i * 0.5 + 50, `datagram ${i} released at ${d.at}`);
  });
  assert.ok(clock.timersSet <= 101, "at most one timer per release batch, not one per datagram backlog");
  assert.equal(link.counters.inFlight, 0);
});

test("random loss is seeded and within statistical bounds", () => {
  const run = (seed: number) => {
    const { clock, delivered, link } = makeLink({ delayMs: 1, lossRate: 0.1 }, seed);
    for (let i = 0; i < 10_000; i++) link.submit(packet(100), i);
    clock.advance(10);
    return { lost: link.counters.lost, delivered: delivered.length };
  };
  const a = run(42);
  assert.deepEqual(run(42), a, "same seed, same losses");
  // binomial(10000, 0.1): mean 1000, sd 30; allow 5 sd
  assert.ok(Math.abs(a.lost - 1000) < 150, `lost ${a.lost}`);
  assert.equal(a.lost + a.delivered, 10_000);
  assert.notDeepEqual(run(43), a);
});

test("rate limit serialises datagrams and drops beyond the queue (drop-tail)", () => {
  // 8 Mbit/s = 1000 bytes per ms; queue of 10 datagrams
  const { clock, delivered, link } = makeLink({
    delayMs: 10,
    rateBitsPerSecond: 8_000_000,
    queueBytes: 10_000,
  });
  for (let i = 0; i < 30; i++) link.submit(packet(1000), i);
  assert.equal(link.counters.queueDrops, 20);
  clock.advance(100);
  assert.equal(delivered.length, 10);
  delivered.forEach((d, i) => assert.ok(d.at >= 10 + (i + 1) * 1, `datagram ${i} at ${d.at}`));
  // the queue drains, so a later burst is accepted again
  for (let i = 30; i < 35; i++) link.submit(packet(1000), i);
  clock.advance(100);
  assert.equal(delivered.length, 15);
  assert.equal(link.counters.queueDrops, 20);
});

test("jitter alone never reorders; reordering holds datagrams back so later ones overtake", () => {
  const jittery = makeLink({ delayMs: 20, jitterMs: 10 });
  for (let i = 0; i < 200; i++) {
    jittery.link.submit(packet(100), i);
    jittery.clock.advance(0.1);
  }
  jittery.clock.advance(100);
  assert.deepEqual(
    jittery.delivered.map((d) => d.id),
    [...Array(200).keys()],
  );
  const spread = jittery.delivered.map((d, i) => d.at - i * 0.1);
  assert.ok(Math.min(...spread) >= 20);
  assert.ok(Math.max(...spread) <= 30 + 0.1 * 200);

  const reordering = makeLink({ delayMs: 20, reorderRate: 0.2, reorderDelayMs: 5 }, 9);
  for (let i = 0; i < 500; i++) {
    reordering.link.submit(packet(100), i);
    reordering.clock.advance(0.1);
  }
  reordering.clock.advance(100);
  const order = reordering.delivered.map((d) => d.id);
  assert.equal(order.length, 500, "nothing lost");
  assert.deepEqual(
    [...order].sort((a, b) => a - b),
    [...Array(500).keys()],
  );
  const outOfOrder = order.filter((id, i) => i > 0 && id < order[i - 1]).length;
  assert.ok(outOfOrder > 0);
  assert.ok(
    Math.abs(reordering.link.counters.reordered - 100) < 45,
    `reordered ${reordering.link.counters.reordered}`,
  );
});

test("close drops what is in flight and stops the timer", () => {
  const { clock, delivered, link } = makeLink({ delayMs: 10 });
  link.submit(packet(), 1);
  link.close();
  link.submit(packet(), 2);
  clock.advance(50);
  assert.equal(delivered.length, 0);
});
