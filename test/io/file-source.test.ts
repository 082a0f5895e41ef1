import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { appendFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FileChangedError, FileSource, sameMtime } from "../../src/io/file-source.js";
import { tempDir } from "./helpers.js";

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

test("block reads return the file's bytes and the in-order reads yield its SHA-256", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = randomBytes(100_000 + 123);
    const path = join(dir, "data.bin");
    await writeFile(path, content);
    const info = await stat(path);
    const source = await FileSource.open(path, {
      expected: { size: info.size, mtimeMs: info.mtimeMs },
      readAheadBytes: 8192,
    });
    assert.equal(source.size, content.length);
    const blocks: Buffer[] = [];
    for (let offset = 0; offset < source.size; offset += 1400)
      blocks.push(Buffer.from(await source.read(offset, 1400)));
    assert.deepEqual(Buffer.concat(blocks), content);
    assert.equal(blocks[blocks.length - 1].length, content.length % 1400, "short last block");
    assert.deepEqual(
      await source.read(50_000, 10),
      content.subarray(50_000, 50_010),
      "a retransmission re-read",
    );
    assert.deepEqual(
      await source.read(0, 20_000),
      content.subarray(0, 20_000),
      "a read larger than the read-ahead",
    );
    assert.equal((await source.read(source.size, 1400)).length, 0);
    assert.equal(await source.sha256(), sha256(content));
    await source.close();
  } finally {
    await cleanup();
  }
});

test("sha256 reads what the block reads skipped", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const content = randomBytes(50_000);
    const path = join(dir, "data.bin");
    await writeFile(path, content);
    const source = await FileSource.open(path, { readAheadBytes: 4096 });
    await source.read(30_000, 1400); // out of order only
    await Promise.all([source.read(0, 1400), source.read(1400, 1400)]);
    assert.equal(await source.sha256(), sha256(content));
    await source.close();
  } finally {
    await cleanup();
  }
});

test("a file changed since it was listed is a FileChangedError", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const path = join(dir, "data.bin");
    await writeFile(path, randomBytes(10_000));
    const listed = await stat(path);
    await appendFile(path, "more");
    await assert.rejects(
      FileSource.open(path, { expected: { size: listed.size, mtimeMs: listed.mtimeMs } }),
      (error: unknown) =>
        error instanceof FileChangedError && error.code === "FILE_CHANGED" && error.actual.size === 10_004,
    );

    const now = await stat(path);
    const source = await FileSource.open(path, { expected: { size: now.size, mtimeMs: now.mtimeMs } });
    await source.verifyUnchanged();
    await utimes(path, new Date(), new Date(now.mtimeMs + 5000));
    await assert.rejects(source.verifyUnchanged(), FileChangedError);
    await source.close();

    // shrinking under an open source: reads past the new end fail as a change
    const shrinking = await FileSource.open(path, { readAheadBytes: 1024 });
    await writeFile(path, randomBytes(100));
    await assert.rejects(shrinking.read(5000, 1400), FileChangedError);
    await shrinking.close();
  } finally {
    await cleanup();
  }
});

test("sameMtime compares to the microsecond", () => {
  const base = 1700000000123;
  assert.equal(sameMtime(base + 0.4567, base + 0.4571), true);
  assert.equal(sameMtime(base + 0.456, base + 0.458), false);
});
