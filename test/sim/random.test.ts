import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Random } from "../../src/core/util/random.js";

function draw(rng: Random, n: number): number[] {
  return Array.from({ length: n }, () => rng.next());
}

describe("Random", () => {
  it("repeats the same stream for the same seed and differs for another", () => {
    assert.deepEqual(draw(new Random(42), 100), draw(new Random(42), 100));
    assert.deepEqual(draw(new Random("x"), 10), draw(new Random("x"), 10));
    assert.notDeepEqual(draw(new Random(42), 10), draw(new Random(43), 10));
  });

  it("forks streams that do not depend on how much the parent consumed", () => {
    const a = new Random(7);
    const b = new Random(7);
    draw(b, 1000);
    assert.deepEqual(draw(a.fork("link"), 50), draw(b.fork("link"), 50));
    assert.notDeepEqual(draw(a.fork("link"), 50), draw(a.fork("other"), 50));
    assert.notDeepEqual(draw(a.fork("link"), 50), draw(new Random(7), 50));
  });

  it("draws uniform numbers in [0, 1) and integers in [0, n)", () => {
    const rng = new Random(1);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = rng.next();
      assert.ok(x >= 0 && x < 1);
      const k = rng.int(10);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 10);
      buckets[k]!++;
    }
    // each bucket expects 10,000 with σ ≈ 95
    for (const count of buckets) assert.ok(Math.abs(count - 10_000) < 500, `bucket ${count}`);
  });

  it("draws normal numbers with the requested mean and deviation", () => {
    const rng = new Random(3);
    const n = 50_000;
    const xs = Array.from({ length: n }, () => rng.normal(5, 2));
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    assert.ok(Math.abs(mean - 5) < 0.05, `mean ${mean}`);
    assert.ok(Math.abs(Math.sqrt(variance) - 2) < 0.05, `sd ${Math.sqrt(variance)}`);
  });

  it("chance(p) is never true for p = 0 and always for p = 1", () => {
    const rng = new Random(9);
    for (let i = 0; i < 1000; i++) {
      assert.equal(rng.chance(0), false);
      assert.equal(rng.chance(1), true);
    }
  });
});
