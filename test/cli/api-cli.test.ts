import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseMethodParams } from "../../src/cli/api-params.js";
import { KnownHosts } from "../../src/client/known-hosts.js";
import { startTestServer, temporaryDir, type TestServer } from "../api/helpers.js";
import { runCli } from "./run-cli.js";

describe("slipstream api parameter parsing", () => {
  it("parses JSON where it parses, else strings; repeats become arrays; --params-json merges under flags", () => {
    assert.deepEqual(
      parseMethodParams(
        [
          "--a=1",
          "--b=true",
          "--c=null",
          "--d=/data/a.txt:/in/a.txt",
          "--e='x'",
          '--f="42"',
          "--g",
          "--h",
          "two",
          "--r=1",
          "--r=2",
          '--o={"k":[1]}',
        ],
        '{"a": 0, "z": "kept"}',
      ),
      {
        a: 1,
        b: true,
        c: null,
        d: "/data/a.txt:/in/a.txt",
        e: "'x'",
        f: "42",
        g: true,
        h: "two",
        r: [1, 2],
        o: { k: [1] },
        z: "kept",
      },
    );
    assert.deepEqual(parseMethodParams(["--params-json", '{"x": 1}', "--x=2"], undefined), { x: 2 });
    assert.throws(() => parseMethodParams(["stray"], undefined), /unexpected argument/);
    assert.throws(() => parseMethodParams([], "[1]"), /JSON object/);
  });
});

describe("slipstream api (end to end)", () => {
  let server: TestServer;
  let knownHosts: string;
  let base: string[];
  before(async () => {
    server = await startTestServer();
    knownHosts = join(temporaryDir(), "known_hosts");
    // no --api-port: found through <state-dir>/runtime.json
    base = [
      "api",
      "--host",
      "127.0.0.1",
      "--state-dir",
      server.stateDir,
      "--known-hosts",
      knownHosts,
      "--compact",
    ];
  });
  after(() => server.stop());

  it("logs in with the local admin.password, prints the result as JSON and records the fingerprint", async () => {
    const result = await runCli([...base, "--superuser", "getSession"]);
    assert.equal(result.code, 0, result.stderr);
    const session = JSON.parse(result.stdout) as { user: string; superuser: boolean };
    assert.deepEqual([session.user, session.superuser], ["admin", true]);
    assert.match(result.stderr, /recorded certificate fingerprint/);
    assert.equal(
      new KnownHosts(knownHosts).get(`127.0.0.1:${server.handle.apiPort}`),
      server.handle.fingerprint,
    );
    const echo = await runCli([...base, "echo", "--text=hello world"]);
    assert.deepEqual([echo.code, echo.stdout], [0, '"hello world"\n']);
  });

  it("passes --params-json and typed values, and Async names work", async () => {
    const result = await runCli([
      ...base,
      "ls",
      "--params-json",
      '{"path": "/", "limit": 1}',
      "--recursive=false",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as unknown[]).length, 1);
    const started = await runCli([...base, "sleepAsync", "--milliseconds=1"]);
    assert.match(started.stdout, /"requestId":"[0-9a-f]{32}"/);
  });

  it("prints method errors as JSON-RPC error objects on stderr with exit 1", async () => {
    const unknownParam = await runCli([...base, "echo", "--txt=1"]);
    assert.equal(unknownParam.code, 1);
    const error = JSON.parse(unknownParam.stderr.trim().split("\n").pop() ?? "") as {
      code: number;
      data: { code: string; param: string };
    };
    assert.deepEqual([error.code, error.data.code, error.data.param], [-32602, "INVALID_ARGUMENT", "txt"]);
    const unknownMethod = await runCli([...base, "noSuchMethod"]);
    assert.equal(unknownMethod.code, 1);
    assert.match(unknownMethod.stderr, /"code":-32601/);
    const notSuperuser = await runCli([...base, "terminate"]);
    assert.equal(notSuperuser.code, 1);
    assert.match(notSuperuser.stderr, /NOT_SUPERUSER/);
  });

  it("exits 4 when the login fails or no password can be had", async () => {
    const wrong = await runCli([...base, "--user", "admin", "echo"], {
      env: { SLIPSTREAM_API_PASSWORD: "wrong" },
    });
    assert.equal(wrong.code, 4);
    assert.match(wrong.stderr, /AUTH_FAILED/);
    const noTerminal = await runCli([...base, "--user", "admin", "echo"]);
    assert.equal(noTerminal.code, 4);
    const right = await runCli([...base, "--user", "admin", "getSession"], {
      env: { SLIPSTREAM_API_PASSWORD: server.adminPassword },
    });
    assert.equal(right.code, 0, right.stderr);
  });

  it("exits 3 when it cannot connect or the fingerprint changed", async () => {
    const refused = await runCli([
      "api",
      "--host",
      "127.0.0.1",
      "--api-port",
      "1",
      "--known-hosts",
      knownHosts,
      "echo",
    ]);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /cannot connect/);
    const tampered = join(temporaryDir(), "known_hosts");
    new KnownHosts(tampered).set(`127.0.0.1:${server.handle.apiPort}`, "f".repeat(64));
    const changed = await runCli([
      "api",
      "--host",
      "127.0.0.1",
      "--api-port",
      String(server.handle.apiPort),
      "--known-hosts",
      tampered,
      "echo",
    ]);
    assert.equal(changed.code, 3);
    assert.match(changed.stderr, new RegExp(`${"f".repeat(64)}.*${server.handle.fingerprint}`));
    const accepted = await runCli([
      "api",
      "--host",
      "127.0.0.1",
      "--api-port",
      String(server.handle.apiPort),
      "--known-hosts",
      tampered,
      "--fingerprint",
      server.handle.fingerprint,
      "echo",
    ]);
    assert.equal(accepted.code, 0, accepted.stderr);
  });

  it("exits 2 on usage errors, naming the flag", async () => {
    const unknown = await runCli(["api", "--bogus", "echo"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--bogus/);
    const badPort = await runCli(["api", "--api-port", "x", "echo"]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--api-port/);
    const stray = await runCli([...base, "echo", "stray"]);
    assert.equal(stray.code, 2);
    const missing = await runCli(["api"]);
    assert.equal(missing.code, 2);
  });
});
