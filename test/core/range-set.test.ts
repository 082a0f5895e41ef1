import { test } from "node:test";
import assert from "node:assert/strict";
import { RangeSet } from "../../src/core/util/range-set.js";

test("ranges merge when adjacent or overlapping and stay sorted", () => {
  const set = new RangeSet();
  set.add(10, 20);
  set.add(30, 40);
  set.add(0, 5);
  assert.deepEqual(set.toArray(), [
    [0, 5],
    [10, 20],
    [30, 40],
  ]);
  set.add(20, 30);
  assert.deepEqual(set.toArray(), [
    [0, 5],
    [10, 40],
  ]);
  set.add(3, 12);
  assert.deepEqual(set.toArray(), [[0, 40]]);
  set.add(50, 50); // empty: ignored
  assert.equal(set.size, 1);
  assert.equal(set.total(), 40);
});

test("covers, contiguousEndFrom and missing", () => {
  const set = RangeSet.from([
    [0, 100],
    [200, 300],
  ]);
  assert.equal(set.covers(0, 100), true);
  assert.equal(set.covers(50, 101), false);
  assert.equal(set.covers(200, 250), true);
  assert.equal(set.covers(150, 160), false);
  assert.equal(set.contiguousEndFrom(0), 100);
  assert.equal(set.contiguousEndFrom(99), 100);
  assert.equal(set.contiguousEndFrom(100), 100);
  assert.equal(set.contiguousEndFrom(250), 300);
  assert.deepEqual(set.missing(400), [
    [100, 200],
    [300, 400],
  ]);
  assert.deepEqual(new RangeSet().missing(0), []);
  assert.deepEqual(new RangeSet().missing(10), [[0, 10]]);
});

test("random insertions match a bitmap", () => {
  const size = 2000;
  const bitmap = new Uint8Array(size);
  const set = new RangeSet();
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let i = 0; i < 300; i++) {
    const start = random(size);
    const end = Math.min(size, start + 1 + random(40));
    set.add(start, end);
    bitmap.fill(1, start, end);
    const ranges = set.toArray();
    for (let j = 1; j < ranges.length; j++)
      assert.ok(ranges[j][0] > ranges[j - 1][1], "disjoint and non-adjacent");
  }
  const rebuilt = new Uint8Array(size);
  for (const [start, end] of set.toArray()) rebuilt.fill(1, start, end);
  assert.deepEqual(rebuilt, bitmap);
});
