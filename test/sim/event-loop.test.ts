import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EventLoop, SimTimer } from "../../src/sim/event-loop.js";

describe("EventLoop", () => {
  it("runs events in time order and same-time events in scheduling order", () => {
    const loop = new EventLoop();
    const log: string[] = [];
    loop.schedule(30, () => log.push(`c@${loop.now}`));
    loop.schedule(10, () => log.push(`a@${loop.now}`));
    for (let i = 0; i < 5; i++) loop.schedule(20, () => log.push(`b${i}@${loop.now}`));
    loop.schedule(10, () => {
      log.push(`a2@${loop.now}`);
      loop.schedule(10, () => log.push(`a3@${loop.now}`));
    });
    const result = loop.run();
    assert.deepEqual(log, ["a@10", "a2@10", "a3@10", "b0@20", "b1@20", "b2@20", "b3@20", "b4@20", "c@30"]);
    assert.deepEqual(result, { events: 9, reason: "idle" });
    assert.equal(loop.now, 30);
  });

  it("keeps order over many random events (heap property)", () => {
    const loop = new EventLoop();
    const seen: number[] = [];
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const at = x % 1000;
      loop.schedule(at, () => seen.push(at));
    }
    loop.run();
    assert.equal(seen.length, 5000);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1]! <= seen[i]!);
  });

  it("cancels pending events and ignores stale ids", () => {
    const loop = new EventLoop();
    const log: number[] = [];
    const ids = [1, 2, 3, 4].map((t) => loop.schedule(t * 10, () => log.push(t)));
    assert.equal(loop.cancel(ids[1]!), true);
    assert.equal(loop.cancel(ids[1]!), false);
    assert.equal(loop.pending, 3);
    loop.run({ until: 10 });
    assert.equal(loop.cancel(ids[0]!), false, "already ran");
    // the slot of the first event is reused: its old id must not cancel the new event
    loop.schedule(50, () => log.push(5));
    assert.equal(loop.cancel(ids[0]!), false);
    loop.run();
    assert.deepEqual(log, [1, 3, 4, 5]);
  });

  it("runs until a time, leaving later events pending, and advances the clock", () => {
    const loop = new EventLoop();
    const log: number[] = [];
    loop.schedule(100, () => log.push(100));
    loop.schedule(200, () => log.push(200));
    assert.deepEqual(loop.run({ until: 150 }), { events: 1, reason: "until" });
    assert.equal(loop.now, 150);
    assert.equal(loop.pending, 1);
    assert.equal(loop.nextEventTime(), 200);
    loop.run({ until: 1000 });
    assert.equal(loop.now, 1000);
    assert.deepEqual(log, [100, 200]);
  });

  it("stops after maxEvents or when stopWhen holds", () => {
    const loop = new EventLoop();
    let count = 0;
    for (let i = 0; i < 10; i++) loop.schedule(i, () => count++);
    assert.deepEqual(loop.run({ maxEvents: 3 }), { events: 3, reason: "maxEvents" });
    assert.deepEqual(loop.run({ stopWhen: () => count >= 7 }), { events: 4, reason: "stopped" });
    assert.equal(loop.now, 6);
    assert.equal(loop.eventsRun, 7);
  });

  it("runs events scheduled in the past at the current time", () => {
    const loop = new EventLoop();
    loop.run({ until: 500 });
    let at = -1;
    loop.schedule(100, () => (at = loop.now));
    loop.run();
    assert.equal(at, 500);
    assert.throws(() => loop.schedule(Number.NaN, () => {}));
  });
});

describe("SimTimer", () => {
  it("fires once at the last armed time, whether moved earlier or later", () => {
    const loop = new EventLoop();
    const fired: number[] = [];
    const timer = new SimTimer(loop, (now) => fired.push(now));
    timer.arm(100);
    timer.arm(300);
    timer.arm(200);
    loop.run();
    assert.deepEqual(fired, [200]);
    timer.arm(500);
    timer.arm(400);
    loop.run();
    assert.deepEqual(fired, [200, 400]);
    timer.arm(600);
    timer.disarm();
    loop.run();
    assert.deepEqual(fired, [200, 400]);
    assert.equal(timer.armedAt, Infinity);
  });
});
