import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvelopeArena } from "../../src/io/relay/envelope-arena.js";

test("the envelope arena carves consecutive pieces and flushes before it reuses any of them", () => {
  let flushes = 0;
  const live: Buffer[] = [];
  const arena = new EnvelopeArena(() => {
    flushes++;
    live.length = 0; // flushed: nobody uses those pieces any more
  });
  const overlaps = (a: Buffer, b: Buffer) =>
    a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
  for (let i = 0; i < 3000; i++) {
    const piece = arena.allocate(1450);
    assert.equal(piece.length, 1450);
    for (const other of live) assert.ok(!overlaps(piece, other), `piece ${i} overlaps one not yet flushed`);
    live.push(piece);
  }
  // 1 MiB holds 723 pieces of 1,450 bytes: 3,000 need four rounds
  assert.equal(flushes, 4);
  arena.reset();
  live.length = 0;
  const first = arena.allocate(10);
  assert.equal(
    first.byteOffset,
    arena.allocate(0).byteOffset - 10,
    "after reset it starts again at the front",
  );
  assert.ok(
    arena.allocate(2 * 1024 * 1024).length === 2 * 1024 * 1024,
    "an envelope larger than the arena gets its own buffer",
  );
  assert.equal(flushes, 4);
});
