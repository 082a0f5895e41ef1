import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RelayLink } from "../../src/io/relay/relay-link.js";
import { CLI, serverKeyPair, startRelay, withDirs } from "./helpers.js";

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "relay", ...args], { encoding: "utf8", timeout: 15_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("--print-public-key creates the relay key once and prints the same key every time", () =>
  withDirs(async ({ state }) => {
    const first = run(["--state-dir", state, "--print-public-key"]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    assert.equal(run(["--state-dir", state, "--print-public-key"]).stdout, first.stdout);
  }));

test("a malformed allowed key or port list is a usage error naming it", () =>
  withDirs(async ({ state }) => {
    const badKey = run(["--state-dir", state, "--control-port", "0", "--allow-server-key", "not-a-key"]);
    assert.equal(badKey.status, 2);
    assert.match(badKey.stderr, /"not-a-key" is not a base64url X25519 public key/);
    const badPorts = run(["--state-dir", state, "--control-port", "0", "--public-ports", "9000-80"]);
    assert.equal(badPorts.status, 2);
    assert.match(badPorts.stderr, /--public-ports: "9000-80" is not a port or port range/);
    const config = join(state, "..", "relay.json");
    await writeFile(config, JSON.stringify({ "control-port": 0, "max-server": 3 }));
    const badConfig = run(["--state-dir", state, "--config", config]);
    assert.equal(badConfig.status, 2);
    assert.match(badConfig.stderr, /relay\.json: unknown option "max-server"/);
  }));

test(
  "servers listed in --allowed-keys-file attach; with no allowed key the relay warns at start",
  { timeout: 30_000 },
  () =>
    withDirs(async ({ state }) => {
      const inner = serverKeyPair();
      const file = join(state, "..", "allowed-keys");
      await writeFile(file, `# inner servers\n${inner.text}  # the test server\n\n`);
      const relay = await startRelay([
        "--state-dir",
        state,
        "--control-port",
        "0",
        "--allowed-keys-file",
        file,
      ]);
      const link = RelayLink.open({ relayHost: "127.0.0.1", relayPort: relay.port, keyPair: inner });
      try {
        await link.waitConnected();
      } finally {
        await link.close();
        await relay.stop();
      }
      const closed = await startRelay(["--state-dir", state, "--control-port", "0"]);
      try {
        assert.match(closed.stderr(), /every server is refused/);
      } finally {
        await closed.stop();
      }
    }),
);
