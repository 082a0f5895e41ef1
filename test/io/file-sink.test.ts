import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { FileSink, FileSinkError, ensureDirectory, partPathFor } from "../../src/io/file-sink.js";
import { seededRandom } from "../../src/core/util/random.js";
import { tempDir } from "./helpers.js";

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");
const BLOCK = 1400;

function blocks(content: Buffer): { offset: number; data: Buffer }[] {
  const out: { offset: number; data: Buffer }[] = [];
  for (let offset = 0; offset < content.length; offset += BLOCK) {
    out.push({ offset, data: Buffer.from(content.subarray(offset, offset + BLOCK)) });
  }
  return out;
}

function shuffled<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

test("out-of-order blocks produce a byte-identical file, nothing under the final name until finish", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = randomBytes(2 * 1024 * 1024 + 77);
    const target = join(dir, "sub", "deeper", "file.bin");
    const sink = await FileSink.create({ targetPath: target, transferId: "0123abcd", size: content.length });
    assert.equal(basename(sink.partPath), ".file.bin.slipstream-0123abcd.part");
    const all = shuffled(blocks(content), 3);
    const writes: Promise<void>[] = [];
    for (const [i, block] of all.entries()) {
      writes.push(sink.write(block.offset, block.data));
      if (i === all.length / 2) assert.equal(await exists(target), false);
      if (i % 64 === 0) await Promise.all(writes.splice(0));
    }
    await sink.write(all[0].offset, all[0].data); // a duplicate
    await Promise.all(writes);
    assert.equal(await exists(target), false, "no file under the final name before finish");
    assert.equal(sink.receivedBytes, content.length);
    const mtimeMs = Date.UTC(2020, 1, 2, 3, 4, 5, 678);
    const result = await sink.finish(sha256(content).toUpperCase(), mtimeMs);
    assert.deepEqual(result, { ok: true, sha256: sha256(content) });
    assert.deepEqual(await readFile(target), content);
    const info = await stat(target);
    assert.equal(Math.round(info.mtimeMs), mtimeMs);
    assert.equal(info.mode & 0o777, 0o644 & ~process.umask());
    assert.equal((await stat(join(dir, "sub"))).mode & 0o777, 0o755 & ~process.umask());
    assert.deepEqual(await readdir(join(dir, "sub", "deeper")), ["file.bin"], "part file gone");
  } finally {
    await cleanup();
  }
});

test("a hash mismatch never renames and keeps the part file until abort", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = randomBytes(10_000);
    const target = join(dir, "file.bin");
    await writeFile(target, "old contents");
    const sink = await FileSink.create({ targetPath: target, transferId: "t1", size: content.length });
    for (const block of blocks(content).reverse()) void sink.write(block.offset, block.data);
    const result = await sink.finish(sha256(Buffer.from("something else")), Date.now());
    assert.equal(result.ok, false);
    assert.equal(result.ok === false && result.reason, "HASH_MISMATCH");
    assert.equal(result.ok === false && result.reason === "HASH_MISMATCH" && result.sha256, sha256(content));
    assert.equal(await readFile(target, "utf8"), "old contents");
    assert.equal(await exists(sink.partPath), true);
    await sink.abort(true);
    assert.equal(await exists(sink.partPath), false);
    assert.equal(await readFile(target, "utf8"), "old contents");
  } finally {
    await cleanup();
  }
});

test("beyond the memory cap, blocks are re-read from the part file and still hash correctly", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = randomBytes(1024 * 1024);
    const target = join(dir, "big.bin");
    const sink = await FileSink.create({
      targetPath: target,
      transferId: "cap",
      size: content.length,
      maxHashBufferBytes: 64 * 1024,
    });
    const all = blocks(content);
    // everything but the first block first, in reverse: the frontier stays at 0 and the cap overflows
    await Promise.all(
      all
        .slice(1)
        .reverse()
        .map((b) => sink.write(b.offset, b.data)),
    );
    assert.equal(sink.hashedBytes, 0);
    assert.ok(sink.hashStats.bufferedBytes <= 64 * 1024);
    assert.ok(sink.hashStats.spilledBytes > 0);
    await sink.write(all[0].offset, all[0].data);
    const result = await sink.finish(sha256(content), Date.now());
    assert.deepEqual(result, { ok: true, sha256: sha256(content) });
    assert.ok(sink.hashStats.rereadBytes > 0);
    assert.deepEqual(await readFile(target), content);
  } finally {
    await cleanup();
  }
});

test("missing bytes are reported as INCOMPLETE and the file can still be completed", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = randomBytes(5 * BLOCK);
    const target = join(dir, "f");
    const sink = await FileSink.create({ targetPath: target, transferId: "inc", size: content.length });
    const all = blocks(content);
    await Promise.all([0, 1, 3, 4].map((i) => sink.write(all[i].offset, all[i].data)));
    const first = await sink.finish(sha256(content), Date.now());
    assert.deepEqual(first, { ok: false, reason: "INCOMPLETE", missing: [[2 * BLOCK, 3 * BLOCK]] });
    assert.equal(await exists(target), false);
    await sink.write(all[2].offset, all[2].data);
    assert.equal((await sink.finish(sha256(content), Date.now())).ok, true);
    assert.deepEqual(await readFile(target), content);
  } finally {
    await cleanup();
  }
});

test("checkpoint then resume with openExisting re-hashes what is on disk", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = randomBytes(300_000);
    const target = join(dir, "resume.bin");
    const all = shuffled(blocks(content), 11);
    const half = Math.floor(all.length / 2);
    const first = await FileSink.create({ targetPath: target, transferId: "res", size: content.length });
    for (const block of all.slice(0, half)) void first.write(block.offset, block.data);
    const durable = await first.checkpoint();
    assert.equal(
      durable.reduce((sum, [s, e]) => sum + e - s, 0),
      all.slice(0, half).reduce((sum, b) => sum + b.data.length, 0),
    );
    await first.abort(false); // the process "crashes" after the checkpoint
    assert.equal(await exists(partPathFor(target, "res")), true);

    const resumed = await FileSink.openExisting({
      targetPath: target,
      transferId: "res",
      size: content.length,
      ranges: durable,
    });
    assert.equal(resumed.receivedBytes, first.receivedBytes);
    assert.equal(resumed.has(all[0].offset, all[0].data.length), true);
    for (const block of all) void resumed.write(block.offset, block.data); // duplicates are ignored
    assert.deepEqual(await resumed.finish(sha256(content), Date.now()), {
      ok: true,
      sha256: sha256(content),
    });
    assert.deepEqual(await readFile(target), content);
  } finally {
    await cleanup();
  }
});

test("openExisting without a part file is PART_MISSING", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await assert.rejects(
      FileSink.openExisting({ targetPath: join(dir, "x"), transferId: "none", size: 10, ranges: [[0, 10]] }),
      (error: unknown) => error instanceof FileSinkError && error.code === "PART_MISSING",
    );
  } finally {
    await cleanup();
  }
});

test("empty files, directories, and a file or directory in the way", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const empty = await FileSink.create({
      targetPath: join(dir, "a", "empty.txt"),
      transferId: "e",
      size: 0,
    });
    assert.equal((await empty.finish(sha256(Buffer.alloc(0)), Date.now())).ok, true);
    assert.equal((await stat(join(dir, "a", "empty.txt"))).size, 0);

    await ensureDirectory(join(dir, "x", "y", "z"));
    assert.equal((await stat(join(dir, "x", "y", "z"))).isDirectory(), true);
    await ensureDirectory(join(dir, "x", "y", "z")); // exists: fine

    await writeFile(join(dir, "plain"), "I am a file");
    await assert.rejects(
      ensureDirectory(join(dir, "plain")),
      (e: unknown) => e instanceof FileSinkError && e.code === "RECEIVER_WRITE",
    );
    await assert.rejects(
      FileSink.create({ targetPath: join(dir, "plain", "child"), transferId: "c", size: 1 }),
      (e: unknown) => e instanceof FileSinkError && e.code === "RECEIVER_WRITE",
    );

    await mkdir(join(dir, "adir"));
    const blocked = await FileSink.create({ targetPath: join(dir, "adir"), transferId: "d", size: 3 });
    await blocked.write(0, Buffer.from("abc"));
    await assert.rejects(
      blocked.finish(sha256(Buffer.from("abc")), Date.now()),
      (e: unknown) => e instanceof FileSinkError && e.code === "RECEIVER_WRITE",
    );
    assert.equal((await stat(join(dir, "adir"))).isDirectory(), true);
  } finally {
    await cleanup();
  }
});

test("writes outside the file are refused and a closed sink refuses writes", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const sink = await FileSink.create({ targetPath: join(dir, "f"), transferId: "w", size: 100 });
    await assert.rejects(sink.write(90, Buffer.alloc(20)), RangeError);
    await sink.abort(false);
    await assert.rejects(
      sink.write(0, Buffer.alloc(10)),
      (e: unknown) => e instanceof FileSinkError && e.code === "SINK_CLOSED",
    );
    assert.equal(await exists(sink.partPath), true, "abort(false) keeps the part file");
    sink.write(0, Buffer.alloc(10)); // an ignored rejection must not crash the process
  } finally {
    await cleanup();
  }
});

test("long names keep the part file name within 255 bytes", () => {
  const long = "n".repeat(250);
  const part = basename(partPathFor(join("/x", long), "0123456789abcdef0123456789abcdef"));
  assert.ok(Buffer.byteLength(part) <= 255);
  assert.match(part, /^\.[0-9a-f]{64}\.slipstream-0123456789abcdef0123456789abcdef\.part$/);
});

test("a few blocks per event-loop turn are gathered into large writes; the last small run still lands", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // 200 turns of 3 contiguous blocks each, as a receiver that keeps up sees them
    const content = randomBytes(600 * BLOCK + 100);
    const target = join(dir, "gathered.bin");
    const sink = await FileSink.create({ targetPath: target, transferId: "0123abcd", size: content.length });
    const all = blocks(content);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < all.length; i += 3) {
      for (const block of all.slice(i, i + 3)) writes.push(sink.write(block.offset, block.data));
      await new Promise((resolve) => setImmediate(resolve));
    }
    // the tail (under 64 KiB) is written without anything else arriving
    await Promise.all(writes);
    assert.ok(sink.writeCount <= 16, `${sink.writeCount} writes for ${all.length} blocks`);
    assert.equal(sink.bufferedBytes, 0);
    assert.deepEqual(await sink.finish(sha256(content), Date.now()), { ok: true, sha256: sha256(content) });
    assert.deepEqual(await readFile(target), content);
  } finally {
    await cleanup();
  }
});
