import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/server/errors.js";
import { serverHelpText } from "../../src/server/options/help.js";
import { parseServerCommand } from "../../src/server/options/parse.js";
import { parseDuration, parseRate, parseSize } from "../../src/server/units.js";
import { temporaryDir } from "../api/helpers.js";

const env = { isRoot: false, home: "/home/tester", hostName: "testhost" };

function configError(pattern: RegExp) {
  return (error: unknown) =>
    error instanceof ConfigError && error.exitCode === 2 && pattern.test(error.message);
}

describe("option value syntax (server.md §2.2)", () => {
  it("parses sizes, rates and durations with their suffixes", () => {
    assert.equal(parseSize("8M"), 8_388_608);
    assert.equal(parseSize("4k"), 4096);
    assert.equal(parseSize(1400), 1400);
    assert.equal(parseRate("500M"), 500_000);
    assert.equal(parseRate("2G"), 2_000_000);
    assert.equal(parseRate("750"), 750);
    assert.equal(parseDuration("90"), 90);
    assert.equal(parseDuration("5m"), 300);
    assert.equal(parseDuration("2h"), 7200);
    assert.equal(parseDuration("1d"), 86400);
    assert.equal(parseDuration("0.5"), 0.5);
    assert.throws(() => parseSize("8X"));
    assert.throws(() => parseRate("1.5K"));
    assert.throws(() => parseDuration("5M"));
    assert.throws(() => parseSize("-1"));
  });
});

describe("slipstream server options", () => {
  it("has the documented defaults", () => {
    const { options, sources, configFile } = parseServerCommand([], env);
    assert.equal(options.stateDir, "/home/tester/.slipstream/state");
    assert.equal(options.triggerDir, "/home/tester/.slipstream/triggers");
    assert.equal(options.apiPort, 8886);
    assert.deepEqual(options.recvPorts, [8886]);
    assert.equal(options.serverName, "testhost");
    assert.equal(options.socketRecvBuffer, 8 * 1024 * 1024);
    assert.equal(options.defaultSendRateMax, 10_000_000);
    assert.equal(options.minCipher, "chacha20-poly1305");
    assert.equal(options.recvOnlyAuthorizedClients, null);
    assert.equal(options.apiSessionIdleTimeout, 3600);
    assert.equal(sources.apiPort, "default");
    assert.equal(configFile, null);
    assert.equal(
      parseServerCommand([], { ...env, isRoot: true }).options.stateDir,
      "/var/lib/slipstream/state",
    );
  });

  it("accepts --name value, --name=value, --flag, --flag=false, --no-flag and repeats", () => {
    const { options, sources } = parseServerCommand(
      [
        "--api-port",
        "0",
        "--datagram-size=9000",
        "--socket-recv-buffer=16M",
        "--default-send-rate",
        "500M",
        "--peer-timeout=1m",
        "--recv-port=9000",
        "--recv-port",
        "9001",
        "--superuser=alice",
        "--superuser=bob",
        "--ephemeral",
        "--no-event-log",
        "--api-allow-remote-control=false",
        "--recv-only-authorized-clients",
        "--log-format=json",
      ],
      env,
    );
    assert.equal(options.apiPort, 0);
    assert.equal(options.datagramSize, 9000);
    assert.equal(options.socketRecvBuffer, 16 * 1024 * 1024);
    assert.equal(options.defaultSendRate, 500_000);
    assert.equal(options.peerTimeout, 60);
    assert.deepEqual(options.recvPorts, [9000, 9001]);
    assert.deepEqual(options.superusers, ["alice", "bob"]);
    assert.equal(options.ephemeral, true);
    assert.equal(options.persistentDestinations, false);
    assert.equal(options.persistentTransfers, false);
    assert.equal(options.eventLog, false);
    assert.equal(options.apiAllowRemoteControl, false);
    assert.equal(options.recvOnlyAuthorizedClients, true);
    assert.equal(options.logFormat, "json");
    assert.equal(sources.recvPorts, "command-line");
  });

  it("reads the config file under the command line", () => {
    const file = join(temporaryDir(), "server.json");
    writeFileSync(
      file,
      JSON.stringify({
        "api-port": 9999,
        "recv-port": [1, 2],
        "sandbox-dir": "/srv/%u",
        "socket-send-buffer": "1M",
        "borrow-incoming-rate": true,
      }),
    );
    const { options, sources, configFile } = parseServerCommand(["--config", file, "--api-port=7"], env);
    assert.equal(configFile, file);
    assert.equal(options.apiPort, 7);
    assert.equal(sources.apiPort, "command-line");
    assert.deepEqual(options.recvPorts, [1, 2]);
    assert.equal(sources.recvPorts, "file");
    assert.equal(options.sandboxDir, "/srv/%u");
    assert.equal(options.socketSendBuffer, 1024 * 1024);
    assert.equal(options.borrowIncomingRate, true);
  });

  it("names the unknown option, bad value or config key", () => {
    assert.throws(() => parseServerCommand(["--api-prot=1"], env), configError(/unknown option --api-prot/));
    assert.throws(
      () => parseServerCommand(["--api-port=abc"], env),
      configError(/--api-port: expected an integer/),
    );
    assert.throws(() => parseServerCommand(["--api-port=70000"], env), configError(/--api-port/));
    assert.throws(() => parseServerCommand(["--datagram-size=100"], env), configError(/--datagram-size/));
    assert.throws(
      () => parseServerCommand(["--log-level=loud"], env),
      configError(/--log-level: expected one of/),
    );
    assert.throws(() => parseServerCommand(["--api-port"], env), configError(/--api-port: missing value/));
    assert.throws(
      () => parseServerCommand(["--api-port=1", "--api-port=2"], env),
      configError(/more than once/),
    );
    assert.throws(
      () => parseServerCommand(["--no-api-port"], env),
      configError(/unknown option --no-api-port/),
    );
    assert.throws(() => parseServerCommand(["stray"], env), configError(/unexpected argument/));
    assert.throws(
      () => parseServerCommand(["--ephemeral", "--state-dir=/x"], env),
      configError(/cannot be combined/),
    );
    assert.throws(() => parseServerCommand(["--api-cert=/x"], env), configError(/together/));
    const file = join(temporaryDir(), "bad.json");
    writeFileSync(file, JSON.stringify({ "api-port": 1, "no-such-key": 2 }));
    assert.throws(
      () => parseServerCommand(["--config", file], env),
      configError(/unknown key "no-such-key"/),
    );
    writeFileSync(file, JSON.stringify({ "api-port": [1, 2] }));
    assert.throws(() => parseServerCommand(["--config", file], env), configError(/"api-port"/));
    writeFileSync(file, "{oops");
    assert.throws(() => parseServerCommand(["--config", file], env), configError(/bad.json/));
    assert.throws(
      () => parseServerCommand(["--config", "/no/such/file.json"], env),
      configError(/does not exist/),
    );
  });

  it("recognises the action options and --help", () => {
    const parsed = parseServerCommand(["--print-fingerprint", "--help"], env);
    assert.deepEqual(parsed.actions, ["print-fingerprint"]);
    assert.equal(parsed.help, true);
    const help = serverHelpText(env);
    assert.match(help, /--api-port <port>/);
    assert.match(help, /--recv-allow-anonymous\[=bool\]/);
  });
});
