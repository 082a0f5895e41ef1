/**
 * `slipstream cp`, `status` and `api` against real server processes: a directory copied with
 * an embedded sending server, a detached copy through a running server shown by `status`, and
 * the usage errors.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseLink, planCopy, parseRemote, routeCopy } from "../../src/cli/commands/cp.js";
import { CliExit } from "../../src/cli/exit.js";
import { progressLine } from "../../src/cli/progress.js";
import { readAdminPassword } from "../../src/client/credentials.js";
import { CLI, launch, stop } from "../server/send/processes.js";

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** cp pins remote certificates in ~/.slipstream/known_hosts: each test gets a home of its own. */
const home = (base: string) => ({ HOME: base });

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

test("cp copies a directory to a receiver with an embedded server; status shows a running server's work", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cp-"));
  const receiver = await launch(join(base, "recv"), [
    "--recv-port",
    "0",
    "--recv-allow-anonymous",
    "--sandbox-dir",
    join(base, "sandbox"),
  ]);
  try {
    await mkdir(join(base, "src", "dir", "sub"), { recursive: true });
    const a = randomBytes(2 * 1024 * 1024);
    await writeFile(join(base, "src", "dir", "a.bin"), a);
    await writeFile(join(base, "src", "dir", "sub", "b.txt"), "bee");
    const copy = await cli(
      [
        "cp",
        "-r",
        "--state-dir",
        join(base, "no-server-here"),
        "--remote-api-port",
        String(receiver.apiPort),
        "--json",
        join(base, "src", "dir"),
        `127.0.0.1:${receiver.recvPort}:backup/dir`,
      ],
      home(base),
    );
    assert.equal(copy.code, 0, copy.stderr);
    assert.match(copy.stderr, /done: /);
    const final = JSON.parse(copy.stdout) as { status: string; totalFiles: number };
    assert.equal(final.status, "complete");
    assert.equal(final.totalFiles, 2);
    assert.equal(sha(await readFile(join(base, "sandbox", "backup", "dir", "a.bin"))), sha(a));
    assert.equal(await readFile(join(base, "sandbox", "backup", "dir", "sub", "b.txt"), "utf8"), "bee");

    // through a running server: detached, then visible in status and the API
    const sender = await launch(join(base, "send"), ["--recv-port", "0"]);
    try {
      await writeFile(join(base, "big"), randomBytes(8 * 1024 * 1024));
      const detached = await cli(
        [
          "cp",
          "--state-dir",
          sender.stateDir,
          "--port",
          String(receiver.recvPort),
          "--rate-control",
          "fixed",
          "--rate",
          "8000",
          "--remote-api-port",
          String(receiver.apiPort),
          "--detach",
          join(base, "big"),
          "127.0.0.1:slow/",
        ],
        home(base),
      );
      assert.equal(detached.code, 0, detached.stderr);
      const transferId = detached.stdout.trim();
      assert.match(transferId, /^[0-9a-f]{32}$/);
      const status = await cli(["status", "--state-dir", sender.stateDir]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`127\\.0\\.0\\.1:${receiver.recvPort}`));
      assert.match(status.stdout, new RegExp(transferId));
      const api = await cli([
        "api",
        "--state-dir",
        sender.stateDir,
        "send.getTransfer",
        `--transferId=${transferId}`,
      ]);
      assert.equal(api.code, 0, api.stderr);
      assert.equal((JSON.parse(api.stdout) as { transferId: string }).transferId, transferId);
      await sender.api.call("send.cancelTransfer", { transferId });
    } finally {
      await stop(sender);
    }
  } finally {
    await stop(receiver);
    await rm(base, { recursive: true, force: true });
  }
});

test("cp user@host: an upload token made on the receiver for the copy, used and deleted; --remote-token paths are below the token's", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cp-"));
  // no --recv-allow-anonymous: only a transfer carrying a valid receive token may write
  const receiver = await launch(join(base, "recv"), [
    "--recv-port",
    "0",
    "--sandbox-dir",
    join(base, "sandbox", "%u"),
  ]);
  try {
    const data = randomBytes(1024 * 1024);
    await writeFile(join(base, "f.bin"), data);
    const password = readAdminPassword(receiver.stateDir)!;
    // cp with no local server, the file to `target` on the receiver
    const cpTo = (target: string, options: string[] = [], env: Record<string, string> = home(base)) =>
      cli(
        [
          "cp",
          "--state-dir",
          join(base, "no-server-here"),
          "--remote-api-port",
          String(receiver.apiPort),
          ...options,
          join(base, "f.bin"),
          target,
        ],
        env,
      );
    const copy = await cpTo(`admin@127.0.0.1:${receiver.recvPort}:inbox/f.bin`, [], {
      ...home(base),
      SLIPSTREAM_REMOTE_PASSWORD: password,
    });
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal(sha(await readFile(join(base, "sandbox", "admin", "inbox", "f.bin"))), sha(data));
    // the token cp made is gone again
    const tokens = (await receiver.api.call("getAPITokens", { includeExpired: true })) as unknown[];
    assert.equal(tokens.length, 0);
    // without a token the same receiver refuses (anonymous is off)
    const refused = await cpTo(`127.0.0.1:${receiver.recvPort}:inbox/g.bin`);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /anonymous|RECEIVER_REFUSED|NOT_AUTHORIZED/);

    // --remote-token: `host:path` is relative to the token's path (server.md §15, §18)
    await receiver.api.call("mkdir", { path: "/drop/acme", parents: true });
    const { token } = (await receiver.api.call("createAPIToken", {
      permissions: ["upload"],
      path: "/drop/acme",
    })) as { token: string };
    const viaToken = (target: string) =>
      cpTo(`127.0.0.1:${receiver.recvPort}:${target}`, [`--remote-token=${token}`]);
    for (const [target, landed] of [
      ["/", "f.bin"],
      ["2024/report.bin", "2024/report.bin"],
    ]) {
      const copied = await viaToken(target!);
      assert.equal(copied.code, 0, copied.stderr);
      const written = join(base, "sandbox", "admin", "drop", "acme", landed!);
      assert.equal(sha(await readFile(written)), sha(data), target);
    }
    const escape = await viaToken("../out/");
    assert.equal(escape.code, 1);
    assert.match(escape.stderr, /\.\./);
  } finally {
    await stop(receiver);
    await rm(base, { recursive: true, force: true });
  }
});

test("cp refuses bad operands with usage errors", async () => {
  const missing = await cli(["cp", "/definitely/not/here", "127.0.0.1:x"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no such file/);
  const dir = await mkdtemp(join(tmpdir(), "slipstream-cp-"));
  try {
    const noR = await cli(["cp", dir, "127.0.0.1:x"]);
    assert.equal(noR.code, 2);
    assert.match(noR.stderr, /-r/);
    const local = await cli(["cp", dir, join(dir, "elsewhere")]);
    assert.equal(local.code, 2);
    assert.match(local.stderr, /SOURCE or TARGET must be a server \(host:path\).*both are local/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("operand parsing and scp naming", async () => {
  assert.deepEqual(parseRemote("host:dir/x"), { user: null, host: "host", port: null, path: "dir/x" });
  assert.deepEqual(parseRemote("bob@[::1]:p"), { user: "bob", host: "::1", port: null, path: "p" });
  assert.deepEqual(parseRemote("h:9000:in/x"), { user: null, host: "h", port: 9000, path: "in/x" });
  assert.equal(parseRemote("h:99999:x"), null);
  assert.equal(parseRemote("./a:b"), null);
  assert.equal(parseRemote("/abs/a:b"), null);
  assert.deepEqual(parseLink("slipstream://h.example:9000/download?token=abc", 8886), {
    host: "h.example",
    port: 9000,
    token: "abc",
  });
  assert.deepEqual(parseLink("slipstream://[::1]/download?token=t", 8886), {
    host: "::1",
    port: 8886,
    token: "t",
  });
  assert.equal(parseLink("h:download", 8886), null);
  const usage = (error: unknown) => error instanceof CliExit && error.status === 2;
  assert.throws(() => parseLink("slipstream://h/download", 8886), usage);

  assert.equal(routeCopy(["a", "b", "h:x/"], 8886).direction, "upload");
  assert.deepEqual(routeCopy(["u@h:a", "u@h:/b/", "./d/"], 8886), {
    direction: "download",
    server: { user: "u", host: "h" },
    sources: [
      { path: "/a", operand: "u@h:a" },
      { path: "/b", operand: "u@h:/b/" },
    ],
    target: "./d/",
  });
  const both = routeCopy(["h:a", "g:9000:b"], 8886);
  assert.equal(both.direction, "remote-to-remote");
  assert.equal(routeCopy(["slipstream://h/download?token=t", "in/"], 8886).direction, "link");
  for (const bad of [
    ["only"],
    ["h:a", "g:b", "x"], // sources on two servers
    ["h:a", "./local", "x"], // local and remote sources
    ["h:9000:a", "x"], // a UDP port in a SOURCE
    ["x", "slipstream://h/download?token=t"], // a link as TARGET
    ["slipstream://h/download?token=t", "h:in/"], // a link to a server
    ["slipstream://h/download?token=t", "y", "x"], // a link and more
    ["a", "b"], // both local
  ]) {
    assert.throws(() => routeCopy(bad, 8886), usage, bad.join(" "));
  }

  const dir = await mkdtemp(join(tmpdir(), "slipstream-cp-"));
  try {
    await writeFile(join(dir, "f"), "x");
    assert.deepEqual(await planCopy([join(dir, "f")], "out/name", false), {
      destinationPath: "out",
      mappings: [{ srcPath: join(dir, "f"), destPath: "name" }],
    });
    assert.deepEqual(await planCopy([join(dir, "f")], "out/", false), {
      destinationPath: "out",
      mappings: [{ srcPath: join(dir, "f"), destPath: "f" }],
    });
    assert.deepEqual(await planCopy([dir], "copy", true), {
      destinationPath: "copy",
      mappings: [{ srcPath: dir, destPath: "" }],
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const line = progressLine({
    label: "run7",
    status: "transferring",
    bytesAcked: 1_520_000_000,
    totalBytes: 3_240_000_000,
    goodputAverageWindow: 861_000,
    roundTripTimeMs: 142,
    lossPercentWindow: 0.6,
    connected: true,
  });
  assert.match(
    line,
    /^run7 {2}46% \[=+> +\] 1\.52 GB\/3\.24 GB {2}861 Mbit\/s {2}ETA 0:16 {2}rtt 142 ms {2}loss 0\.6%$/,
  );
});
