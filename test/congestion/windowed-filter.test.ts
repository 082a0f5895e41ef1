import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { WindowedFilter } from "../../src/core/congestion/windowed-filter.js";

describe("WindowedFilter", () => {
  it("tracks the maximum over the window and forgets it afterwards", () => {
    const f = WindowedFilter.max(10);
    assert.equal(f.best(-1), -1);
    f.update(0, 100);
    for (let t = 1; t <= 10; t++) assert.equal(f.update(t, 50 + t), 100);
    // the 100 from time 0 has aged out; the best of the remaining samples takes over
    assert.equal(f.update(11, 40), 60);
    for (let t = 12; t <= 30; t++) f.update(t, 40);
    assert.equal(f.best(), 40);
  });

  it("takes a new maximum at once", () => {
    const f = WindowedFilter.max(10);
    f.update(0, 100);
    assert.equal(f.update(1, 150), 150);
    assert.equal(f.best(), 150);
  });

  it("tracks the minimum", () => {
    const f = WindowedFilter.min(5);
    f.update(0, 10);
    assert.equal(f.update(3, 20), 10);
    assert.equal(f.update(6, 30), 20);
    assert.equal(f.update(20, 25), 25);
  });

  it("reset replaces the estimate", () => {
    const f = WindowedFilter.max(10);
    f.update(0, 100);
    f.reset(1, 30);
    assert.equal(f.best(), 30);
    assert.equal(f.update(2, 20), 30);
  });
});
