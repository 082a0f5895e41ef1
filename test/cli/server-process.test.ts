import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SlipstreamClient } from "../../src/client/client.js";
import { readAdminPassword } from "../../src/client/credentials.js";
import { readRuntimeFile } from "../../src/server/runtime-file.js";
import { temporaryDir } from "../api/helpers.js";
import { exitOf, runCli, startCli } from "./run-cli.js";

const quiet = [
  "--api-host",
  "127.0.0.1",
  "--api-port",
  "0",
  "--recv-host",
  "127.0.0.1",
  "--recv-port",
  "0",
  "--log-format",
  "json",
];

describe("slipstream server (child process)", () => {
  it("starts with --ephemeral --api-port 0, serves the API and removes its state at SIGTERM", async (t) => {
    const { child, line } = await startCli(["server", "--ephemeral", ...quiet], /API listening/);
    t.after(() => void child.kill("SIGKILL"));
    const record = JSON.parse(line) as {
      apiPort: number;
      fingerprint: string;
      stateDir: string;
      level: string;
      component: string;
      time: string;
    };
    assert.deepEqual([record.level, record.component], ["info", "server"]);
    assert.ok(!Number.isNaN(Date.parse(record.time)));
    // runtime.json comes after every port (API and receive) is bound, a moment after the API line.
    let runtime = readRuntimeFile(record.stateDir);
    for (let i = 0; i < 200 && !runtime; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      runtime = readRuntimeFile(record.stateDir);
    }
    assert.ok(runtime);
    assert.deepEqual(
      [runtime.apiPort, runtime.pid, runtime.certificateFingerprint],
      [record.apiPort, child.pid, record.fingerprint],
    );
    const client = new SlipstreamClient({
      host: "127.0.0.1",
      port: record.apiPort,
      knownHostsFile: null,
      fingerprint: record.fingerprint,
    });
    await client.loginWithStateDir(record.stateDir);
    const info = await client.call("getServerInfo");
    assert.equal(info.serverUid, runtime.serverUid);
    child.kill("SIGTERM");
    assert.equal(await exitOf(child), 0);
    assert.equal(existsSync(record.stateDir), false);
  });

  it("refuses a second server on the same state dir with exit 2, exits 0 on terminate()", async (t) => {
    const stateDir = join(temporaryDir(), "state");
    const { child, stderr } = await startCli(["server", "--state-dir", stateDir, ...quiet], /"launch"/);
    t.after(() => void child.kill("SIGKILL"));
    const second = await runCli(["server", "--state-dir", stateDir, ...quiet]);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /in use/);
    const runtime = readRuntimeFile(stateDir);
    assert.ok(runtime);
    const client = new SlipstreamClient({ host: "127.0.0.1", port: runtime.apiPort, knownHostsFile: null });
    await client.login("admin", readAdminPassword(stateDir) ?? "");
    await client.superuser();
    assert.equal(await client.call("terminate"), null);
    assert.equal(await exitOf(child), 0);
    assert.equal(existsSync(join(stateDir, "runtime.json")), false);
    assert.match(stderr(), /"reason":"terminate","owner":null,"msg":"shutdown"/);
    assert.ok(existsSync(join(stateDir, "users.json")));
    // --print-fingerprint reads the certificate the server made
    const printed = await runCli(["server", "--state-dir", stateDir, "--print-fingerprint"]);
    assert.deepEqual([printed.code, printed.stdout.trim()], [0, runtime.certificateFingerprint]);
    assert.match(readFileSync(join(stateDir, "tls", "cert.pem"), "utf8"), /BEGIN CERTIFICATE/);
  });

  it("exits 2 naming an unknown option or a bad value, 0 for --help", async () => {
    const unknown = await runCli(["server", "--ephemeral", "--no-such-option"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option --no-such-option/);
    const bad = await runCli(["server", "--ephemeral", "--socket-recv-buffer=lots"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--socket-recv-buffer/);
    const help = await runCli(["server", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--api-session-idle-timeout/);
  });
});

describe("slipstream top level", () => {
  it("prints version and help, and exits 2 for an unknown command", async () => {
    const version = await runCli(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^slipstream \d+\.\d+\.\d+ \(revision \d+, API version 1/);
    assert.equal((await runCli(["version"])).stdout, version.stdout);
    const help = await runCli(["help", "api"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--params-json/);
    const unknown = await runCli(["frobnicate"]);
    assert.equal(unknown.code, 2);
  });
});
