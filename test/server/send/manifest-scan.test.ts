import assert from "node:assert/strict";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { viewFromMapping, type SandboxView } from "../../../src/server/sandbox.js";
import { parseFileMappings, type FileMappingInput } from "../../../src/server/send/file-mapping.js";
import { ManifestScanError, scanManifest, type ScanOptions } from "../../../src/server/send/manifest-scan.js";

const temporaryDirs: string[] = [];
function temporaryDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "slipstream-scan-")));
  temporaryDirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

/** Create files (string content) and directories (nested objects) below `base`. */
interface Tree {
  [name: string]: string | Tree;
}
function build(base: string, tree: Tree): void {
  mkdirSync(base, { recursive: true });
  for (const [name, content] of Object.entries(tree)) {
    if (typeof content === "string") writeFileSync(join(base, name), content);
    else build(join(base, name), content);
  }
}

function scan(view: SandboxView, mappings: FileMappingInput[], opts: ScanOptions = {}) {
  return scanManifest(parseFileMappings(mappings), view, opts);
}

/** Assert that the scan fails with a ManifestScanError matching `pattern` that leaks no real path. */
async function failsWith(promise: Promise<unknown>, pattern: RegExp, realBase?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ManifestScanError, String(error));
    assert.match(error.message, pattern);
    if (realBase !== undefined) assert.ok(!error.message.includes(realBase), error.message);
    assert.equal(error.aborted, false);
    return true;
  });
}

describe("manifest scan (api.md §3.3)", () => {
  let base: string;
  let root: string;
  let view: SandboxView;
  before(() => {
    base = temporaryDir();
    root = join(base, "sandbox");
    view = viewFromMapping({ "": root }, "ann");
    build(root, {
      data: {
        "b.txt": "bbb",
        "a.txt": "a",
        empty: "",
        sub: { deep: { "z.bin": "zz" }, "y.txt": "yyyy" },
        hollow: {},
        "c.txt": "cc",
      },
    });
    utimesSync(join(root, "data", "a.txt"), 1_700_000_000, 1_700_000_000.25);
  });

  it("expands a directory depth first in name order, with empty files and empty directories", async () => {
    const entries = await scan(view, ["/data:out"]);
    assert.deepEqual(
      entries.map((e) => [e.srcPath, e.destPath, e.fileSize, e.isEmptyDir]),
      [
        ["/data/a.txt", "out/a.txt", 1, false],
        ["/data/b.txt", "out/b.txt", 3, false],
        ["/data/c.txt", "out/c.txt", 2, false],
        ["/data/empty", "out/empty", 0, false],
        ["/data/hollow", "out/hollow", 0, true],
        ["/data/sub/deep/z.bin", "out/sub/deep/z.bin", 2, false],
        ["/data/sub/y.txt", "out/sub/y.txt", 4, false],
      ],
    );
    assert.equal(entries[0].localPath, join(root, "data", "a.txt"));
    assert.equal(entries[4].localPath, join(root, "data", "hollow"));
    assert.equal(entries[0].mtime, 1_700_000_000_250_000);
  });

  it("maps single files, keeps the source path as destination by default, and takes '' as the top", async () => {
    const entries = await scan(view, [
      "/data/a.txt:renamed.txt",
      "data/sub/y.txt",
      { srcPath: "/data/sub", destPath: "/" },
    ]);
    assert.deepEqual(
      entries.map((e) => [e.srcPath, e.destPath]),
      [
        ["/data/a.txt", "renamed.txt"],
        ["/data/sub/y.txt", "data/sub/y.txt"],
        ["/data/sub/deep/z.bin", "deep/z.bin"],
        ["/data/sub/y.txt", "y.txt"],
      ],
    );
    await failsWith(scan(view, ["/data/a.txt:/"]), /\/data\/a\.txt: a file needs a destPath/);
    assert.deepEqual(await scan(view, ["/data/hollow:"]), []);
  });

  it("walks the same directory twice when it is mapped twice to different places", async () => {
    const entries = await scan(view, ["/data/sub/deep:x", "/data/sub/deep:y"]);
    assert.deepEqual(
      entries.map((e) => e.destPath),
      ["x/z.bin", "y/z.bin"],
    );
  });

  it("fails on two entries with the same destination, naming both sources", async () => {
    await failsWith(
      scan(view, ["/data/a.txt:same", "/data/b.txt:same"]),
      /destination path "same" would be written by both \/data\/a\.txt and \/data\/b\.txt/,
    );
    await failsWith(
      scan(view, ["/data/sub/deep:d", "/data/sub/deep/z.bin:d/z.bin"]),
      /"d\/z\.bin" would be written by both \/data\/sub\/deep\/z\.bin and \/data\/sub\/deep\/z\.bin/,
    );
    await failsWith(
      scan(view, ["/data/a.txt:d", "/data/sub/deep:d"]),
      /"d" is a file from \/data\/a\.txt but a directory for \/data\/sub\/deep\/z\.bin/,
    );
    await failsWith(
      scan(view, ["/data/sub/deep:d", "/data/a.txt:d"]),
      /"d" is a file from \/data\/a\.txt but a directory for \/data\/sub\/deep\/z\.bin/,
    );
  });

  it("fails on a missing source, naming its virtual path and the OS error but not the real path", async () => {
    await failsWith(
      scan(view, ["/data/a.txt", "/nope/x"]),
      /^\/nope\/x: no such file or directory \(ENOENT\)$/,
      base,
    );
  });

  it(
    "fails on unreadable directories and files",
    { skip: process.getuid?.() === 0 && "running as root" },
    async () => {
      const locked = join(root, "locked");
      build(locked, { dir: { f: "x" }, "secret.txt": "s" });
      chmodSync(join(locked, "dir"), 0o000);
      chmodSync(join(locked, "secret.txt"), 0o000);
      try {
        await failsWith(
          scan(view, ["/locked/dir"]),
          /cannot read directory \/locked\/dir: permission denied \(EACCES\)/,
          base,
        );
        await failsWith(
          scan(view, ["/locked/secret.txt"]),
          /cannot read \/locked\/secret\.txt: permission denied/,
          base,
        );
      } finally {
        chmodSync(join(locked, "dir"), 0o755);
        rmSync(locked, { recursive: true, force: true });
      }
    },
  );

  it("refuses sockets and other special files, naming them", async () => {
    const dir = join(root, "special");
    mkdirSync(dir);
    writeFileSync(join(dir, "ok.txt"), "ok");
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, "agent.sock"), resolve));
    try {
      await failsWith(
        scan(view, ["/special"]),
        /\/special\/agent\.sock: is a socket; only regular files and directories/,
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("manifest scan: symbolic links", () => {
  let base: string;
  let root: string;
  let view: SandboxView;
  before(() => {
    base = temporaryDir();
    root = join(base, "sandbox");
    build(join(base, "outside"), { "secret.txt": "secret", dir: { "s.txt": "s" } });
    build(root, { real: { "f.txt": "ffff", inner: { "g.txt": "g" } }, links: {} });
    symlinkSync("../real/f.txt", join(root, "links", "file-link"));
    symlinkSync(join(root, "real", "inner"), join(root, "links", "dir-link"));
    view = viewFromMapping({ "": root }, "ann");
  });

  it("follows links that stay inside the sandbox; srcPath as reached, localPath resolved", async () => {
    const entries = await scan(view, ["/links:l"]);
    assert.deepEqual(
      entries.map((e) => [e.srcPath, e.destPath, e.localPath, e.fileSize]),
      [
        ["/links/dir-link/g.txt", "l/dir-link/g.txt", join(root, "real", "inner", "g.txt"), 1],
        ["/links/file-link", "l/file-link", join(root, "real", "f.txt"), 4],
      ],
    );
    const direct = await scan(view, ["/links/file-link:x"]);
    assert.equal(direct[0].localPath, join(root, "real", "f.txt"));
  });

  it("fails on a link leading outside the sandbox, naming the link", async () => {
    const dir = join(root, "escape");
    build(dir, { "a.txt": "a" });
    symlinkSync(join(base, "outside", "secret.txt"), join(dir, "to-secret"));
    try {
      await failsWith(
        scan(view, ["/escape"]),
        /^\/escape\/to-secret: symbolic link points outside the sandbox$/,
        base,
      );
      await failsWith(
        scan(view, ["/escape/to-secret"]),
        /\/escape\/to-secret: a symbolic link on this path leads outside/,
        base,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    symlinkSync(join(base, "outside", "dir"), join(root, "escape-dir"));
    try {
      await failsWith(
        scan(view, ["/escape-dir/s.txt"]),
        /\/escape-dir\/s\.txt: a symbolic link on this path leads outside/,
        base,
      );
    } finally {
      rmSync(join(root, "escape-dir"));
    }
  });

  it("follows any link when there is no sandbox", async () => {
    const dir = join(base, "free");
    build(dir, {});
    symlinkSync(join(base, "outside", "dir"), join(dir, "there"));
    const entries = await scanManifest([{ srcPath: dir, destPath: "free" }], { roots: null });
    assert.deepEqual(
      entries.map((e) => [e.srcPath, e.destPath, e.localPath]),
      [[join(dir, "there", "s.txt"), "free/there/s.txt", join(base, "outside", "dir", "s.txt")]],
    );
  });

  it("skips a directory reached twice, so a link to an ancestor does not loop", async () => {
    const dir = join(root, "loop");
    build(dir, { a: { "f.txt": "f" } });
    symlinkSync("..", join(dir, "a", "up"));
    symlinkSync("a", join(dir, "also-a"));
    try {
      const entries = await scan(view, ["/loop:l"]);
      // "a" and "also-a" are one directory: it is walked once, under the name reached first
      assert.deepEqual(
        entries.map((e) => e.srcPath),
        ["/loop/a/f.txt"],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails on links that point at each other and on broken links", async () => {
    const dir = join(root, "cycle");
    mkdirSync(dir);
    symlinkSync("b", join(dir, "a"));
    symlinkSync("a", join(dir, "b"));
    try {
      await failsWith(scan(view, ["/cycle"]), /^\/cycle\/a: symbolic link loop$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const broken = join(root, "broken");
    mkdirSync(broken);
    symlinkSync("missing", join(broken, "dangling"));
    try {
      await failsWith(scan(view, ["/broken"]), /^\/broken\/dangling: broken symbolic link/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});

describe("manifest scan: views with several roots", () => {
  it("expands '/' into each root and resolves paths below a root", async () => {
    const base = temporaryDir();
    build(join(base, "p"), { "one.txt": "1" });
    build(join(base, "m"), { pics: { "x.jpg": "xx" } });
    const view = viewFromMapping({ projects: join(base, "p"), media: join(base, "m") }, "ann");
    assert.deepEqual(
      (await scan(view, ["/"])).map((e) => [e.srcPath, e.destPath, e.localPath]),
      [
        ["/media/pics/x.jpg", "media/pics/x.jpg", join(base, "m", "pics", "x.jpg")],
        ["/projects/one.txt", "projects/one.txt", join(base, "p", "one.txt")],
      ],
    );
    assert.deepEqual(
      (await scan(view, ["/media/pics:p"])).map((e) => e.destPath),
      ["p/x.jpg"],
    );
    await failsWith(scan(view, ["/other/x"]), /^\/other\/x: no such file or directory$/);
  });
});

describe("manifest scan: large trees, progress and abort", () => {
  let root: string;
  let view: SandboxView;
  before(() => {
    root = join(temporaryDir(), "sandbox");
    for (let d = 0; d < 100; d++) {
      const dir = join(root, "big", `d${String(d).padStart(3, "0")}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(dir, `f${String(f).padStart(3, "0")}`), "");
    }
    let deep = join(root, "deep");
    for (let level = 0; level < 200; level++) deep = join(deep, "d");
    build(deep, { "bottom.txt": "b" });
    view = viewFromMapping({ "": root }, "ann");
  });

  it("finds all 10,000 files in order and reports progress", async () => {
    const progress: number[] = [];
    const entries = await scan(view, ["/big:b"], { onProgress: (n) => progress.push(n), yieldEvery: 500 });
    assert.equal(entries.length, 10_000);
    assert.equal(entries[0].destPath, "b/d000/f000");
    assert.equal(entries[9_999].destPath, "b/d099/f099");
    assert.equal(new Set(entries.map((e) => e.destPath)).size, 10_000);
    assert.ok(progress.length > 10, `progress reported ${progress.length} times`);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
    );
    assert.equal(progress.at(-1), 10_000);
  });

  it("walks deep trees without recursion", async () => {
    const entries = await scan(view, ["/deep:x"]);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].destPath, `x/${"d/".repeat(200)}bottom.txt`);
  });

  it("stops when aborted, during the walk or before it starts", async () => {
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(
      scan(view, ["/big"], {
        signal: controller.signal,
        yieldEvery: 100,
        onProgress: () => {
          if (++calls === 3) controller.abort();
        },
      }),
      (error: unknown) =>
        error instanceof ManifestScanError && error.aborted && /aborted/.test(error.message),
    );
    assert.equal(calls, 3);
    await assert.rejects(
      scan(view, ["/big"], { signal: AbortSignal.abort() }),
      (error: unknown) => error instanceof ManifestScanError && error.aborted,
    );
  });
});
