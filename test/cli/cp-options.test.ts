/**
 * `slipstream cp --relay` and `--no-encryption` (server.md §5, §9, §10): uploads (user@ and
 * --remote-token) and a download through a sender-side relay, on one destination that shows the
 * relay, as its connection does;
 * unencrypted copies from an embedded and from a running unencrypted server, a receiver that
 * requires encryption, a sending server that encrypts, and the usage errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { InvalidArgumentError } from "commander";
import { parseRelay, relaySettings } from "../../src/cli/commands/cp/sending.js";
import type { CpOptions } from "../../src/cli/commands/cp/options.js";
import { readAdminPassword } from "../../src/client/credentials.js";
import { startRelayAllowing } from "../relay/helpers.js";
import { launch, stop, type Server } from "../server/send/processes.js";
import { runCli } from "./run-cli.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Destination {
  destinationId: string;
  connectionId: string;
  relayHost: string | null;
  relayPort: number;
}
interface Connection {
  relayIP: string | null;
  relayPort: number | null;
  encryptionEnabled: boolean;
  cipher: string | null;
}

const destinations = async (s: Server) => (await s.api.call("send.getDestinations", {})) as Destination[];

/** The only connection of `s` once its snapshot (taken once per second) shows `ready`. */
async function snapshot(s: Server, ready: (c: Connection) => boolean): Promise<Connection> {
  for (let i = 0; ; i++) {
    const all = (await s.api.call("send.getConnections", {})) as Connection[];
    assert.equal(all.length, 1);
    if (ready(all[0]!) || i === 50) return all[0]!;
    await sleep(100);
  }
}

test("--relay parses host[:port], [IPv6]:port and a bare IPv6 address; the port defaults to 8887", () => {
  assert.deepEqual(parseRelay("relay.dmz.local"), { host: "relay.dmz.local", port: null });
  assert.deepEqual(parseRelay("10.0.0.5:9000"), { host: "10.0.0.5", port: 9000 });
  assert.deepEqual(parseRelay("[2001:db8::7]:9000"), { host: "2001:db8::7", port: 9000 });
  assert.deepEqual(parseRelay("2001:db8::7"), { host: "2001:db8::7", port: null });
  assert.deepEqual(parseRelay(""), { host: "", port: null });
  for (const bad of ["host:0", "host:70000", "a:b:c", "[::1", "host:"]) {
    assert.throws(() => parseRelay(bad), InvalidArgumentError, bad);
  }
  const o = (relay: string | undefined) =>
    ({ relay: relay === undefined ? undefined : parseRelay(relay) }) as CpOptions;
  assert.deepEqual(relaySettings(o("relay.dmz.local")), { relayHost: "relay.dmz.local", relayPort: 8887 });
  assert.deepEqual(relaySettings(o("[::1]:9000")), { relayHost: "::1", relayPort: 9000 });
  assert.deepEqual(relaySettings(o("")), { relayHost: "" });
  assert.deepEqual(relaySettings(o(undefined)), {});
});

test("cp --relay: uploads (user@, --remote-token) and a download sent through a sender-side relay", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cpopt-"));
  // neither server has a sandbox: their admins see local paths as they are
  const sender = await launch(join(base, "send"), ["--recv-port", "0"]);
  const receiver = await launch(join(base, "recv"), ["--recv-port", "0"]);
  const senderKey = ((await sender.api.call("getServerInfo", {})) as { publicKey: string }).publicKey;
  const relay = await startRelayAllowing(join(base, "relay-state"), senderKey);
  try {
    const data = randomBytes(400_000);
    await mkdir(join(base, "src"));
    await writeFile(join(base, "src", "f.bin"), data);
    const via = ["--relay", `127.0.0.1:${relay.port}`, "-q"];

    // local (the sender) → receiver: the local server's destination goes through the relay
    const up = await runCli(
      [
        "cp",
        "--state-dir",
        sender.stateDir,
        "--remote-api-port",
        String(receiver.apiPort),
        ...via,
        join(base, "src", "f.bin"),
        `admin@127.0.0.1:${receiver.recvPort}:${join(base, "up")}/`,
      ],
      { env: { SLIPSTREAM_REMOTE_PASSWORD: readAdminPassword(receiver.stateDir)!, HOME: base } },
    );
    assert.equal(up.code, 0, up.stderr);
    assert.equal(sha(await readFile(join(base, "up", "f.bin"))), sha(data));
    const [made, ...others] = await destinations(sender);
    assert.deepEqual(others, []);
    assert.deepEqual([made!.relayHost, made!.relayPort], ["127.0.0.1", relay.port]);
    const c = await snapshot(sender, (c) => c.relayIP !== null);
    assert.deepEqual([c.relayIP, c.relayPort, c.encryptionEnabled], ["127.0.0.1", relay.port, true]);

    // the same sender as the remote of a download into the receiver: the destination it
    // makes there (the receiver's address, port and key, the relay) is the one above
    const down = await runCli(
      [
        "cp",
        "--state-dir",
        receiver.stateDir,
        "--remote-api-port",
        String(sender.apiPort),
        ...via,
        `admin@127.0.0.1:${join(base, "src", "f.bin")}`,
        join(base, "down", "f.bin"),
      ],
      { env: { SLIPSTREAM_REMOTE_PASSWORD: readAdminPassword(sender.stateDir)!, HOME: base } },
    );
    assert.equal(down.code, 0, down.stderr);
    assert.equal(sha(await readFile(join(base, "down", "f.bin"))), sha(data));
    assert.deepEqual(
      (await destinations(sender)).map((d) => d.destinationId),
      [made!.destinationId],
    );

    // with --remote-token cp fetches the receiver's key all the same: a relay needs it
    await mkdir(join(base, "tok"));
    const { token } = (await receiver.api.call("createAPIToken", {
      permissions: ["upload"],
      path: join(base, "tok"),
      expirySeconds: 600,
    })) as { token: string };
    const withToken = await runCli(
      [
        "cp",
        "--state-dir",
        sender.stateDir,
        "--remote-api-port",
        String(receiver.apiPort),
        "--remote-token",
        token,
        ...via,
        join(base, "src", "f.bin"),
        `127.0.0.1:${receiver.recvPort}:/`,
      ],
      { env: { HOME: base } },
    );
    assert.equal(withToken.code, 0, withToken.stderr);
    assert.equal(sha(await readFile(join(base, "tok", "f.bin"))), sha(data));
    const transfers = (await sender.api.call("send.getTransfers", {})) as { status: string }[];
    assert.deepEqual(
      transfers.map((t) => t.status),
      ["complete", "complete", "complete"],
    );
  } finally {
    await relay.stop();
    await stop(sender);
    await stop(receiver);
    await rm(base, { recursive: true, force: true });
  }
});

test("cp --no-encryption: unencrypted from an embedded or an unencrypted server; refused by a receiver or sender that requires encryption", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cpopt-"));
  const open = ["--recv-port", "0", "--recv-allow-anonymous"];
  const plainReceiver = await launch(join(base, "plain-recv"), [
    ...open,
    "--sandbox-dir",
    join(base, "plain-sandbox"),
    "--min-cipher",
    "none",
  ]);
  const strictReceiver = await launch(join(base, "strict-recv"), [
    ...open,
    "--sandbox-dir",
    join(base, "strict-sandbox"),
  ]);
  const plainSender = await launch(join(base, "plain-send"), [
    "--recv-port",
    "0",
    "--cipher",
    "none",
    "--min-cipher",
    "none",
  ]);
  const encryptingSender = await launch(join(base, "send"), ["--recv-port", "0"]);
  try {
    const data = randomBytes(300_000);
    const file = join(base, "f.bin");
    await writeFile(file, data);
    const cp = (stateDir: string, target: Server, path: string) =>
      runCli(
        [
          "cp",
          "--state-dir",
          stateDir,
          "--no-encryption",
          "-q",
          "--json",
          file,
          `127.0.0.1:${target.recvPort}:${path}`,
        ],
        { env: { HOME: base } },
      );

    // no server at this state dir: cp's embedded server sends unencrypted
    const embedded = await cp(join(base, "no-server-here"), plainReceiver, "embedded/");
    assert.equal(embedded.code, 0, embedded.stderr);
    assert.equal(sha(await readFile(join(base, "plain-sandbox", "embedded", "f.bin"))), sha(data));
    await plainReceiver.api.superuser(); // the transfer arrived as anonymous
    const received = (await plainReceiver.api.call("recv.getTransfers", {})) as {
      cipher: string;
      encryptionEnabled: boolean;
    }[];
    assert.deepEqual(
      received.map((t) => [t.cipher, t.encryptionEnabled]),
      [["none", false]],
    );

    const running = await cp(plainSender.stateDir, plainReceiver, "running/");
    assert.equal(running.code, 0, running.stderr);
    assert.equal((JSON.parse(running.stdout) as { status: string }).status, "complete");
    assert.equal(sha(await readFile(join(base, "plain-sandbox", "running", "f.bin"))), sha(data));
    const c = await snapshot(plainSender, (c) => c.cipher !== null);
    assert.deepEqual([c.encryptionEnabled, c.cipher], [false, "none"]);

    // a receiver with the default --min-cipher refuses: cp fails and cancels its transfer
    const refused = await cp(plainSender.stateDir, strictReceiver, "refused/");
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /receiver refused the session: .*requires encryption/);
    assert.match(refused.stderr, /--no-encryption needs a receiver whose --min-cipher is none/);
    const transfers = (await plainSender.api.call("send.getTransfers", {})) as { status: string }[];
    assert.deepEqual(
      transfers.map((t) => t.status),
      ["complete", "cancelled"],
    );

    // a sending server that encrypts every session: refused before anything is made
    const encrypting = await cp(encryptingSender.stateDir, plainReceiver, "encrypting/");
    assert.equal(encrypting.code, 1, encrypting.stderr);
    assert.match(encrypting.stderr, /encrypts every session \(--min-cipher chacha20-poly1305\)/);
    assert.deepEqual(await destinations(encryptingSender), []);
  } finally {
    await stop(encryptingSender);
    await stop(plainSender);
    await stop(strictReceiver);
    await stop(plainReceiver);
    await rm(base, { recursive: true, force: true });
  }
});

test("cp --no-encryption is a usage error with a relay, user@ or --remote-token on the receiving side, and into a local path", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cpopt-"));
  try {
    await writeFile(join(base, "f"), "x");
    const cases: [string[], RegExp][] = [
      [
        ["admin@127.0.0.1:in/"],
        /cannot be used with admin@127\.0\.0\.1: .*tokens only travel in encrypted sessions/,
      ],
      [["--remote-token", "tok", "127.0.0.1:in/"], /with --remote-token on the receiving side/],
      [
        ["--relay", "127.0.0.1", "127.0.0.1:in/"],
        /cannot be used with --relay: relays only carry encrypted sessions/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(["cp", "--no-encryption", join(base, "f"), ...args], { env: { HOME: base } });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
    const remote = [
      ["admin@127.0.0.1:data/f", join(base, "got")],
      ["slipstream://127.0.0.1/download?token=abc", join(base, "got")],
      ["admin@127.0.0.1:data/f", "bob@127.0.0.2:in/"],
      ["--remote-token", "tok", "admin@127.0.0.1:data/f", "127.0.0.2:in/"],
    ];
    for (const args of remote) {
      const r = await runCli(["cp", "--no-encryption", ...args], { env: { HOME: base } });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /--no-encryption cannot/);
    }
    const badRelay = await runCli(["cp", "--relay", "host:0", join(base, "f"), "127.0.0.1:in/"]);
    assert.equal(badRelay.code, 2, badRelay.stderr);
    assert.match(badRelay.stderr, /--relay/);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
