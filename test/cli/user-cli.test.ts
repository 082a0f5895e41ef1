import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UsersFile } from "../../src/server/users.js";
import { temporaryDir } from "../api/helpers.js";
import { runCli } from "./run-cli.js";

describe("slipstream user", () => {
  it("adds, lists, flags, re-keys and removes users in a state dir", async () => {
    const stateDir = join(temporaryDir(), "state");
    const add = await runCli(["user", "add", "alice", "--password-stdin", "--state-dir", stateDir], {
      input: "s3cret\n",
    });
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stderr, /created user admin/);
    assert.equal(statSync(join(stateDir, "users.json")).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(stateDir, "admin.password"), "utf8").trim().length, 24);
    const users = new UsersFile(stateDir);
    assert.ok(await users.verify("alice", "s3cret"));

    const list = await runCli(["user", "list", "--json", "--state-dir", stateDir]);
    const entries = JSON.parse(list.stdout) as { name: string; superuser: boolean; creationTime: number }[];
    assert.deepEqual(
      entries.map((u) => [u.name, u.superuser]),
      [
        ["admin", true],
        ["alice", false],
      ],
    );

    assert.equal(
      (await runCli(["user", "set", "alice", "--superuser=true", "--state-dir", stateDir])).code,
      0,
    );
    assert.equal(users.get("alice")?.superuser, true);
    assert.equal(
      (
        await runCli(["user", "passwd", "alice", "--password-stdin", "--state-dir", stateDir], {
          input: "new",
        })
      ).code,
      0,
    );
    assert.ok(await users.verify("alice", "new"));
    assert.equal((await runCli(["user", "remove", "alice", "--state-dir", stateDir])).code, 0);
    assert.equal(users.get("alice"), null);
    const text = await runCli(["user", "list", "--state-dir", stateDir]);
    assert.match(text.stdout, /^admin\s+superuser\s+\d{4}-/);
  });

  it("fails with the documented exit statuses", async () => {
    const stateDir = temporaryDir();
    const badName = await runCli(["user", "add", "Bad Name", "--password-stdin", "--state-dir", stateDir], {
      input: "x",
    });
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /invalid user name/);
    const duplicate = await runCli(["user", "add", "admin", "--password-stdin", "--state-dir", stateDir], {
      input: "x",
    });
    assert.equal(duplicate.code, 1);
    const noTerminal = await runCli(["user", "add", "bob", "--state-dir", stateDir]);
    assert.equal(noTerminal.code, 2);
    const missing = await runCli(["user", "remove", "ghost", "--state-dir", stateDir]);
    assert.equal(missing.code, 1);
    const badBool = await runCli(["user", "set", "admin", "--superuser=maybe", "--state-dir", stateDir]);
    assert.equal(badBool.code, 2);
    assert.match(badBool.stderr, /--superuser/);
  });
});
