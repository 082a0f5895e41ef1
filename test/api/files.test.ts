import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SlipstreamClient } from "../../src/client/client.js";
import { SlipstreamApiError } from "../../src/client/errors.js";
import { startTestServer, temporaryDir, type TestServer } from "./helpers.js";

function rejectsWith(code: string, param?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SlipstreamApiError, String(error));
    assert.equal(error.code, code, error.message);
    if (param !== undefined) assert.equal(error.data.param, param);
    return true;
  };
}

describe("file methods inside the sandbox (--sandbox-dir with %u)", () => {
  let server: TestServer;
  let root: string;
  let outside: string;
  let admin: SlipstreamClient;
  before(async () => {
    const base = temporaryDir();
    outside = join(base, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "secret.txt"), "secret");
    server = await startTestServer({ sandboxDir: join(base, "sandboxes", "%u") });
    root = join(base, "sandboxes", "admin");
    admin = await server.admin();
  });
  after(() => server.stop());

  it("creates directories and lists them in name order, recursively with full paths", async () => {
    assert.equal(await admin.call("mkdir", { path: "/projects/a/b" }), null);
    assert.equal(await admin.call("mkdir", { path: "projects/a" }), null);
    await assert.rejects(
      admin.call("mkdir", { path: "/projects/a", parents: false }),
      rejectsWith("CONFLICT"),
    );
    writeFileSync(join(root, "projects", "a", "data.bin"), Buffer.alloc(1000));
    writeFileSync(join(root, "projects", ".hidden"), "h");
    const top = await admin.call("lsRoots");
    assert.deepEqual(
      top.map((e) => e.path),
      ["/projects"],
    );
    const listing = await admin.call("ls", { path: "/projects", recursive: true });
    assert.deepEqual(
      listing.map((e) => e.path),
      ["/projects/.hidden", "/projects/a", "/projects/a/b", "/projects/a/data.bin"],
    );
    const file = listing[3];
    assert.deepEqual([file.type, file.size, file.name, file.target], ["file", 1000, "data.bin", null]);
    assert.match(file.mode ?? "", /^0[0-7]{3}$/);
    assert.ok(file.mtime > 1_000_000_000_000_000);
    const visible = await admin.call("ls", { path: "/projects", includeHidden: false });
    assert.deepEqual(
      visible.map((e) => e.name),
      ["a"],
    );
    const page = await admin.call("ls", { path: "/projects", recursive: true, offset: 1, limit: 2 });
    assert.deepEqual(
      page.map((e) => e.name),
      ["a", "b"],
    );
    assert.deepEqual(await admin.call("du", { path: "/projects" }), {
      path: "/projects",
      totalSize: 1001,
      fileCount: 2,
      dirCount: 2,
    });
    await assert.rejects(admin.call("ls", { path: "/missing" }), rejectsWith("NOT_FOUND"));
    await assert.rejects(admin.call("mkdir", { path: "/projects/a/data.bin/x" }), rejectsWith("CONFLICT"));
  });

  it("moves and removes with the documented conflicts", async () => {
    writeFileSync(join(root, "one.txt"), "1");
    writeFileSync(join(root, "two.txt"), "2");
    await assert.rejects(
      admin.call("mv", { srcPath: "/one.txt", destPath: "/two.txt" }),
      rejectsWith("CONFLICT", "destPath"),
    );
    await admin.call("mv", { srcPath: "/one.txt", destPath: "/two.txt", overwrite: true });
    assert.equal(readFileSync(join(root, "two.txt"), "utf8"), "1");
    await assert.rejects(
      admin.call("mv", { srcPath: "/nope", destPath: "/x" }),
      rejectsWith("NOT_FOUND", "srcPath"),
    );
    await assert.rejects(admin.call("rm", { path: "/projects" }), rejectsWith("CONFLICT"));
    await admin.call("rm", { path: "/projects", recursive: true });
    assert.equal(existsSync(join(root, "projects")), false);
    await assert.rejects(admin.call("rm", { path: "/" }), rejectsWith("CONFLICT"));
    await assert.rejects(admin.call("rm", { path: "/two.txt/x" }), rejectsWith("NOT_FOUND"));
    await admin.call("rm", { path: "/two.txt" });
  });

  it("refuses '..', NUL bytes and symlink escapes with INVALID_ARGUMENT", async () => {
    symlinkSync(outside, join(root, "escape"));
    symlinkSync(join(outside, "secret.txt"), join(root, "secret-link"));
    const attempts: [string, Record<string, unknown>, string][] = [
      ["ls", { path: "/../.." }, "path"],
      ["ls", { path: "/a/../../etc" }, "path"],
      ["ls", { path: "/x\u0000y" }, "path"],
      ["ls", { path: "/escape" }, "path"],
      ["du", { path: "/escape" }, "path"],
      ["ls", { path: "/secret-link" }, "path"],
      ["mkdir", { path: "/escape/new" }, "path"],
      ["mv", { srcPath: "/escape/secret.txt", destPath: "/stolen.txt" }, "srcPath"],
      ["mv", { srcPath: "/secret-link", destPath: "/escape/planted" }, "destPath"],
      ["rm", { path: "/escape/secret.txt" }, "path"],
    ];
    for (const [method, params, param] of attempts) {
      await assert.rejects(
        admin.call(method, params),
        rejectsWith("INVALID_ARGUMENT", param),
        `${method} ${JSON.stringify(params)}`,
      );
    }
    assert.equal(readFileSync(join(outside, "secret.txt"), "utf8"), "secret");
    assert.equal(existsSync(join(outside, "new")), false);
    const entries = await admin.call("ls", { path: "/" });
    const link = entries.find((e) => e.name === "escape");
    assert.deepEqual([link?.type, link?.target], ["symlink", null]);
    await admin.call("rm", { path: "/escape" }); // removes the link, not its target
    assert.equal(existsSync(join(outside, "secret.txt")), true);
  });

  it("gives each user their own tree (%u)", async () => {
    const info = await admin.call("getServerInfo");
    assert.equal(info.sandboxed, true);
    await admin.call("mkdir", { path: "/mine" });
    assert.equal(existsSync(join(root, "mine")), true);
  });
});
