import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ServerDatabase } from "../../src/server/database.js";
import { EventLog } from "../../src/server/event-log.js";
import { StartupError } from "../../src/server/errors.js";
import { loadServerUid, openStateDir } from "../../src/server/state-dir.js";
import { loadTlsIdentity } from "../../src/server/tls.js";
import { UsersFile } from "../../src/server/users.js";
import { temporaryDir } from "../api/helpers.js";

describe("state dir", () => {
  it("is created with mode 0700 and locked against a second server", () => {
    const dir = join(temporaryDir(), "state");
    const first = openStateDir(dir, false);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.throws(
      () => openStateDir(dir, false),
      (e: unknown) => e instanceof StartupError && e.exitCode === 2,
    );
    first.release();
    first.release();
    openStateDir(dir, false).release();
  });

  it("takes over a stale lock whose process is gone", () => {
    const dir = temporaryDir();
    writeFileSync(join(dir, "lock"), "999999999\n");
    const state = openStateDir(dir, false);
    assert.equal(readFileSync(join(dir, "lock"), "utf8").trim(), String(process.pid));
    state.release();
    assert.equal(existsSync(join(dir, "lock")), false);
  });

  it("deletes an ephemeral state dir at release", () => {
    const state = openStateDir("/ignored", true);
    assert.ok(existsSync(state.path));
    state.release();
    assert.equal(existsSync(state.path), false);
  });

  it("keeps serverUid across starts", () => {
    const dir = temporaryDir();
    const uid = loadServerUid(dir);
    assert.match(uid, /^[0-9a-f]{32}$/);
    assert.equal(loadServerUid(dir), uid);
  });
});

describe("API certificate", () => {
  it("is self-signed, valid 10 years, kept across starts and renewable", () => {
    const dir = temporaryDir();
    const identity = loadTlsIdentity(dir);
    const cert = new X509Certificate(identity.certPem);
    assert.ok(cert.verify(cert.publicKey));
    const years = (Date.parse(cert.validTo) - Date.now()) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
    assert.match(identity.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(identity.fingerprint, cert.fingerprint256.replace(/:/g, "").toLowerCase());
    assert.equal(statSync(join(dir, "tls", "key.pem")).mode & 0o777, 0o600);
    assert.equal(loadTlsIdentity(dir).fingerprint, identity.fingerprint);
    assert.notEqual(loadTlsIdentity(dir, { renew: true }).fingerprint, identity.fingerprint);
  });
});

describe("users file", () => {
  it("creates admin with a 0600 password file on first start and verifies passwords", async () => {
    const dir = temporaryDir();
    const users = new UsersFile(dir);
    const passwordFile = await users.initialize(1);
    assert.equal(passwordFile, join(dir, "admin.password"));
    assert.equal(statSync(join(dir, "admin.password")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "users.json")).mode & 0o777, 0o600);
    assert.equal(await users.initialize(2), null);
    const password = readFileSync(join(dir, "admin.password"), "utf8").trim();
    assert.equal(password.length, 24);
    assert.equal((await users.verify("admin", password))?.superuser, true);
    assert.equal(await users.verify("admin", "nope"), null);
    assert.equal(await users.verify("ghost", password), null);
    assert.match(users.get("admin")?.passwordHash ?? "", /^scrypt\$32768\$8\$1\$/);
  });

  it("adds, changes, flags and removes users; validates names", async () => {
    const users = new UsersFile(temporaryDir());
    await users.add("alice", "pw1", false, 5);
    await assert.rejects(users.add("alice", "pw", false, 5), /already exists/);
    await assert.rejects(users.add("Bad Name", "pw", false, 5), /invalid user name/);
    await assert.rejects(users.add("anonymous", "pw", false, 5), /reserved/);
    await users.setPassword("alice", "pw2");
    assert.equal(await users.verify("alice", "pw1"), null);
    assert.ok(await users.verify("alice", "pw2"));
    users.setSuperuser("alice", true);
    assert.equal(users.get("alice")?.superuser, true);
    assert.deepEqual(
      users.list().map((u) => u.name),
      ["alice"],
    );
    users.remove("alice");
    assert.equal(users.get("alice"), null);
    assert.throws(() => users.remove("alice"), /no user/);
  });
});

describe("event log", () => {
  it("numbers entries strictly increasing across reopen and filters queries", () => {
    const dir = temporaryDir();
    let db = ServerDatabase.open(dir);
    let log = new EventLog(db);
    const base = { _serverId: "s".repeat(32), owner: null };
    log.append({ ...base, _event: "launch", _timestamp: 10 });
    log.append({ ...base, _event: "auth.login", _timestamp: 20, owner: "alice", user: "alice" });
    log.append({ ...base, _event: "auth.loginFailed", _timestamp: 30 });
    db.close();
    db = ServerDatabase.open(dir);
    log = new EventLog(db);
    const fourth = log.append({ ...base, _event: "send.transferComplete", _timestamp: 40, owner: "bob" });
    assert.equal(fourth._seq, 4);
    const q = {
      afterSeq: 0,
      since: null,
      until: null,
      events: null,
      order: "asc" as const,
      offset: 0,
      limit: 100,
      owner: null,
    };
    assert.deepEqual(
      log.query(q).map((e) => e._seq),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      log.query({ ...q, events: ["auth.*"] }).map((e) => e._event),
      ["auth.login", "auth.loginFailed"],
    );
    assert.deepEqual(
      log.query({ ...q, events: ["launch", "send.*"], order: "desc" }).map((e) => e._seq),
      [4, 1],
    );
    assert.deepEqual(
      log.query({ ...q, owner: "alice" }).map((e) => e.user),
      ["alice"],
    );
    assert.deepEqual(
      log.query({ ...q, afterSeq: 2, since: 30, until: 40 }).map((e) => e._seq),
      [3],
    );
    assert.deepEqual(
      log.query({ ...q, offset: 1, limit: 2 }).map((e) => e._seq),
      [2, 3],
    );
    assert.deepEqual(log.query({ ...q, events: ["auth_login"] }), []);
    assert.equal(log.prune(null, 2), 2);
    assert.equal(log.append({ ...base, _event: "x", _timestamp: 50 })._seq, 5);
    db.close();
  });
});
