import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import {
  SandboxPathError,
  isInside,
  resolveInSandbox,
  sandboxSegments,
  type SandboxRefusal,
} from "../../src/io/sandbox-path.js";
import { tempDir } from "./helpers.js";

function refused(reason: SandboxRefusal) {
  return (error: unknown): boolean =>
    error instanceof SandboxPathError && error.code === "RECEIVER_REFUSED" && error.reason === reason;
}

test("paths resolve under the root as in server.md §15", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    assert.equal(
      await resolveInSandbox(dir, ["/repository1", "/mnt/data/file.txt"]),
      join(dir, "repository1/mnt/data/file.txt"),
    );
    assert.equal(await resolveInSandbox(dir, ["incoming", "a/b.bin"]), join(dir, "incoming/a/b.bin"));
    assert.equal(await resolveInSandbox(dir, ["", "./a//./b"]), join(dir, "a/b"));
    assert.equal(await resolveInSandbox(dir, ["", "win\\style\\path.txt"]), join(dir, "win/style/path.txt"));
    assert.equal(await resolveInSandbox(dir, ["", ""], { allowRoot: true }), dir);
    assert.equal(await resolveInSandbox("/", ["", "file.txt"]), "/file.txt");
    await assert.rejects(resolveInSandbox("relative/root", ["", "f"]), RangeError);
    await assert.rejects(resolveInSandbox("", ["", "f"]), RangeError);
  } finally {
    await cleanup();
  }
});

test("escapes are refused with a typed error naming the path, and nothing is created", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const root = join(dir, "root");
    await mkdir(root);
    await assert.rejects(resolveInSandbox(root, ["../etc", "passwd"]), refused("dot-dot"));
    await assert.rejects(resolveInSandbox(root, ["", "a/../../b"]), refused("dot-dot"));
    await assert.rejects(resolveInSandbox(root, ["", "a\\..\\..\\b"]), refused("dot-dot"));
    await assert.rejects(resolveInSandbox(root, ["", "C:\\Windows\\x"]), refused("drive-or-unc"));
    await assert.rejects(resolveInSandbox(root, ["", "\\\\server\\share"]), refused("drive-or-unc"));
    await assert.rejects(resolveInSandbox(root, ["", "bad\0name"]), refused("nul-byte"));
    await assert.rejects(resolveInSandbox(root, ["/", "."]), refused("empty"));
    await assert.rejects(resolveInSandbox(root, ["x", "../../../etc/passwd"]), (error: unknown) => {
      assert.ok(error instanceof SandboxPathError);
      assert.match(error.message, /\.\.\/\.\.\/\.\.\/etc\/passwd/);
      return true;
    });
    assert.deepEqual(await readdir(root), [], "nothing created");
  } finally {
    await cleanup();
  }
});

test("symbolic links are followed only while they stay inside the root", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const root = join(dir, "root");
    const outside = join(dir, "outside");
    await mkdir(join(root, "real", "deep"), { recursive: true });
    await mkdir(outside);
    await symlink(outside, join(root, "escape"));
    await symlink(join(root, "real"), join(root, "inner"));
    await symlink("../../outside", join(root, "real", "relative-escape"));
    await symlink(join(dir, "nowhere"), join(root, "dangling"));
    await symlink(join(outside, "target.txt"), join(root, "file-link"));

    assert.equal(await resolveInSandbox(root, ["inner", "deep/f.txt"]), join(root, "inner/deep/f.txt"));
    await assert.rejects(resolveInSandbox(root, ["escape", "f.txt"]), refused("symlink-escape"));
    await assert.rejects(resolveInSandbox(root, ["", "escape/new/dir/f.txt"]), refused("symlink-escape"));
    await assert.rejects(
      resolveInSandbox(root, ["inner", "relative-escape/f.txt"]),
      refused("symlink-escape"),
    );
    await assert.rejects(resolveInSandbox(root, ["", "dangling/f.txt"]), refused("symlink-escape"));
    await assert.rejects(resolveInSandbox(root, ["", "file-link"]), refused("symlink-escape"));
    assert.deepEqual(await readdir(outside), [], "nothing created outside");
  } finally {
    await cleanup();
  }
});

test("a root reached through a symlink, and a root that does not exist yet", async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await mkdir(join(dir, "actual"));
    await symlink(join(dir, "actual"), join(dir, "alias"));
    assert.equal(await resolveInSandbox(join(dir, "alias"), ["", "f"]), join(dir, "alias", "f"));
    assert.equal(await resolveInSandbox(join(dir, "not", "yet"), ["a", "f"]), join(dir, "not/yet/a/f"));
    assert.deepEqual((await readdir(dir)).sort(), ["actual", "alias"], "the missing root was not created");
  } finally {
    await cleanup();
  }
});

test("sandboxSegments and isInside", () => {
  assert.deepEqual(sandboxSegments("/a/./b//c/"), ["a", "b", "c"]);
  assert.deepEqual(sandboxSegments(""), []);
  assert.deepEqual(sandboxSegments("..."), ["..."], "three dots is a name");
  assert.equal(isInside("/a/b", "/a/b"), true);
  assert.equal(isInside("/a/b", "/a/b/c"), true);
  assert.equal(isInside("/a/b", "/a/bc"), false);
  assert.equal(isInside("/a/b", "/a"), false);
  assert.equal(isInside("/a/b", "/a/b/..c"), true);
});
