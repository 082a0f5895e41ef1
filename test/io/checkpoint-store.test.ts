import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CheckpointCorruptError,
  CheckpointStore,
  resumableRanges,
  type TransferCheckpoint,
} from "../../src/io/checkpoint-store.js";
import { tempDir } from "./helpers.js";

function checkpoint(transferId: string, generation: number, files = 3): TransferCheckpoint {
  const entries = Array.from({ length: files }, (_, i) => [
    String(i),
    {
      size: 1_000_000,
      mtimeMs: 1700000000123.456,
      ranges: [
        [0, 1000 * (generation + 1)],
        [500_000, 500_000 + generation * 10 + 1],
      ] as [number, number][],
      ...(i === 0 ? { sha256: "ab".repeat(32) } : {}),
    },
  ]);
  return {
    transferId,
    role: "receiver",
    savedAtMs: 1700000000000 + generation,
    files: Object.fromEntries(entries),
  };
}

test("save, load, list and delete round-trip", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const store = await CheckpointStore.open(join(dir, "checkpoints"));
    assert.equal(await store.load("abc", "receiver"), null);
    const saved = checkpoint("abc", 4);
    await store.save(saved);
    await store.save({ ...checkpoint("abc", 1), role: "sender" });
    assert.deepEqual(await store.load("abc", "receiver"), saved);
    assert.equal((await store.load("abc", "sender"))?.role, "sender");
    assert.deepEqual(
      (await store.list()).sort((a, b) => a.role.localeCompare(b.role)),
      [
        { transferId: "abc", role: "receiver" },
        { transferId: "abc", role: "sender" },
      ],
    );
    await store.delete("abc", "receiver");
    await store.delete("abc", "receiver"); // already gone: fine
    assert.equal(await store.load("abc", "receiver"), null);
    assert.throws(() => store.pathFor("../x", "receiver"), RangeError);
  } finally {
    await cleanup();
  }
});

test("saves are atomic: readers never see a torn file, the last save wins, no temporaries remain", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const store = await CheckpointStore.open(dir);
    await store.save(checkpoint("t", 0, 200));
    const path = store.pathFor("t", "receiver");
    const saves = Array.from({ length: 30 }, (_, generation) => store.save(checkpoint("t", generation, 200)));
    let reads = 0;
    let done = false;
    const all = Promise.all(saves).then(() => (done = true));
    while (!done) {
      JSON.parse(await readFile(path, "utf8")); // throws on a torn file
      reads++;
    }
    await all;
    assert.ok(reads > 0);
    assert.deepEqual(await store.load("t", "receiver"), checkpoint("t", 29, 200));
    assert.deepEqual(await readdir(dir), ["t.receiver.json"]);
  } finally {
    await cleanup();
  }
});

test("a crash mid-save leaves the previous checkpoint; its temporary is removed on open", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const store = await CheckpointStore.open(dir);
    await store.save(checkpoint("t", 1));
    await writeFile(join(dir, "t.receiver.json.tmp-999-0"), '{"version":1,"transferId":"t","ro'); // torn temp
    const reopened = await CheckpointStore.open(dir);
    assert.deepEqual(await reopened.load("t", "receiver"), checkpoint("t", 1));
    assert.deepEqual(await readdir(dir), ["t.receiver.json"]);
  } finally {
    await cleanup();
  }
});

test("a damaged checkpoint is a CheckpointCorruptError", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const store = await CheckpointStore.open(dir);
    const path = store.pathFor("bad", "receiver");
    for (const text of [
      "{not json",
      '{"version":2,"transferId":"bad","role":"receiver","files":{}}',
      '{"version":1,"transferId":"bad","role":"receiver","files":{"0":{"size":10,"mtimeMs":1,"ranges":[[5,2]]}}}',
      '{"version":1,"transferId":"bad","role":"receiver","files":{"0":{"size":10,"mtimeMs":1,"ranges":[[0,5],[3,8]]}}}',
    ]) {
      await writeFile(path, text);
      await assert.rejects(store.load("bad", "receiver"), CheckpointCorruptError);
    }
  } finally {
    await cleanup();
  }
});

test("resumableRanges keeps ranges only for an unchanged source", () => {
  const saved = {
    size: 1000,
    mtimeMs: 5000.25,
    ranges: [
      [0, 400],
      [600, 1000],
    ] as [number, number][],
  };
  assert.deepEqual(resumableRanges(saved, { size: 1000, mtimeMs: 5000.25 }), saved.ranges);
  assert.deepEqual(resumableRanges(saved, { size: 1001, mtimeMs: 5000.25 }), []);
  assert.deepEqual(resumableRanges(saved, { size: 1000, mtimeMs: 5001 }), []);
  assert.deepEqual(resumableRanges(undefined, { size: 1000, mtimeMs: 5000.25 }), []);
});
