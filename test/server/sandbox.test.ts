import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { du, ls, lsRoots } from "../../src/server/files.js";
import {
  expandUserPattern,
  FileOpError,
  resolveVirtualPath,
  SandboxPolicy,
  viewFromMapping,
} from "../../src/server/sandbox.js";
import { temporaryDir } from "../api/helpers.js";

describe("sandbox views (api.md §5.20)", () => {
  it("expands %u and %%", () => {
    assert.equal(expandUserPattern("/srv/%u/100%%", "bob"), "/srv/bob/100%");
  });

  it("maps several virtual roots and lists them at the top", async () => {
    const base = temporaryDir();
    mkdirSync(join(base, "p"));
    writeFileSync(join(base, "p", "f.txt"), "abc");
    const view = viewFromMapping(
      { projects: join(base, "p"), media: { type: "File", path: join(base, "m", "%u") } },
      "bob",
    );
    assert.deepEqual(
      (await lsRoots(view)).map((e) => e.path),
      ["/media", "/projects"],
    );
    assert.deepEqual(
      (await ls(view, "/", { recursive: false, includeHidden: true, offset: 0, limit: 10 })).map(
        (e) => e.name,
      ),
      ["media", "projects"],
    );
    assert.deepEqual(
      (await ls(view, "/projects", { recursive: false, includeHidden: true, offset: 0, limit: 10 })).map(
        (e) => e.path,
      ),
      ["/projects/f.txt"],
    );
    assert.deepEqual(await du(view, "/"), { path: "/", totalSize: 3, fileCount: 1, dirCount: 2 });
    assert.throws(
      () => resolveVirtualPath(view, "/other/x", "path"),
      (e: unknown) => e instanceof FileOpError && e.code === "NOT_FOUND",
    );
  });

  it("refuses S3 targets and relative File paths clearly", () => {
    assert.throws(
      () => viewFromMapping({ "": { type: "S3", bucketName: "b" } }, "u"),
      (e: unknown) => e instanceof FileOpError && e.code === "UNAVAILABLE",
    );
    assert.throws(
      () => viewFromMapping({ "": "relative/dir" }, "u"),
      (e: unknown) => e instanceof FileOpError && e.code === "INVALID_ARGUMENT",
    );
  });

  it("uses --sandbox-dir as the global mapping unless another source is plugged in", () => {
    const policy = new SandboxPolicy("/srv/%u");
    assert.deepEqual(policy.mappingFor("ann"), { "": "/srv/%u" });
    assert.equal(policy.viewFor("ann").roots?.get(""), "/srv/ann");
    policy.setMappingSource((user) => (user === "bob" ? { x: "/x" } : null));
    assert.equal(policy.viewFor("ann").roots, null);
    assert.deepEqual([...(policy.viewFor("bob").roots ?? new Map()).keys()], ["x"]);
  });
});
