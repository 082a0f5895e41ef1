/**
 * `slipstream cp` in the directions driven through a remote server's API (server.md §5):
 * `host:path → local` (a file, a tree, several sources, with a password or a download token),
 * a `slipstream://` link into an embedded receiver, and `hostA:path → hostB:path`; the tokens
 * cp makes are gone afterwards, and bad operands or credentials end with the spec's statuses.
 */
import { spawn } from "node:child_process";
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readAdminPassword } from "../../src/client/credentials.js";
import { CLI, launch, stop, type Server } from "../server/send/processes.js";
import { runCli } from "./run-cli.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The files below `<sandbox>/admin/data` of a remote server, by path relative to `data`. */
const FILES: Record<string, Buffer> = {
  "a.bin": randomBytes(300_000),
  "sub/b.txt": Buffer.from("bee"),
  "sub/deeper/c.bin": randomBytes(5_000),
};

async function writeTree(dir: string): Promise<void> {
  for (const [path, data] of Object.entries(FILES)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), data);
  }
}

async function assertSame(dir: string, paths: Record<string, string>): Promise<void> {
  for (const [got, original] of Object.entries(paths)) {
    assert.equal(sha(await readFile(join(dir, got))), sha(FILES[original]!), got);
  }
}

/** A server process with a per-user sandbox holding FILES under admin's `/data`. */
async function remoteWithData(base: string, name: string): Promise<Server> {
  await writeTree(join(base, `${name}-sandbox`, "admin", "data"));
  return launch(join(base, name), ["--recv-port", "0", "--sandbox-dir", join(base, `${name}-sandbox`, "%u")]);
}

/**
 * `cp …args /big.bin-source TARGET` (a 2 MB file at a fixed 1 Mbit/s on a new destination)
 * interrupted with SIGINT once its progress shows: exit 130, and the transfer on `sender`
 * cancelled.
 */
async function interruptedCopy(args: string[], env: Record<string, string>, sender: Server): Promise<void> {
  const child = spawn(process.execPath, [CLI, "cp", "--rate-control", "fixed", "--rate", "1000", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | string | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (/big\.bin \(1 file\)/.test(stderr)) resolve();
    });
    child.once("exit", () => reject(new Error(`cp ended before showing progress: ${stderr}`)));
  });
  child.kill("SIGINT");
  assert.equal(await exited, 130, stderr);
  const transfers = (await sender.api.call("send.getTransfers", {})) as { status: string }[];
  assert.deepEqual(
    transfers.map((t) => t.status),
    ["cancelled"],
  );
}

test("cp host:path → local: a file, a tree (-r) and several sources, with a password or a download token", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cpdl-"));
  const remote = await remoteWithData(base, "remote");
  // the local server has no sandbox: its admin sees local paths as they are
  const local = await launch(join(base, "local"), ["--recv-port", "0"]);
  try {
    const env = { SLIPSTREAM_REMOTE_PASSWORD: readAdminPassword(remote.stateDir)!, HOME: base };
    const cp = (...args: string[]) =>
      runCli(["cp", "--state-dir", local.stateDir, "--remote-api-port", String(remote.apiPort), ...args], {
        env,
      });
    const file = await cp("--json", "admin@127.0.0.1:data/a.bin", join(base, "got", "copy.bin"));
    assert.equal(file.code, 0, file.stderr);
    assert.match(file.stderr, /done: /);
    const final = JSON.parse(file.stdout) as { status: string; totalFiles: number };
    assert.deepEqual([final.status, final.totalFiles], ["complete", 1]);
    await assertSame(join(base, "got"), { "copy.bin": "a.bin" });

    const tree = await cp("-r", "-q", "admin@127.0.0.1:data", join(base, "tree"));
    assert.equal(tree.code, 0, tree.stderr);
    assert.equal(tree.stderr, "");
    await assertSame(join(base, "tree"), {
      "a.bin": "a.bin",
      "sub/b.txt": "sub/b.txt",
      "sub/deeper/c.bin": "sub/deeper/c.bin",
    });

    // several sources, and an existing directory as TARGET: each keeps its base name
    await mkdir(join(base, "two"));
    const two = await cp(
      "-q",
      "admin@127.0.0.1:data/a.bin",
      "admin@127.0.0.1:/data/sub/b.txt",
      join(base, "two"),
    );
    assert.equal(two.code, 0, two.stderr);
    await assertSame(join(base, "two"), { "a.bin": "a.bin", "b.txt": "sub/b.txt" });

    // an API token with download, confined to /data on the remote
    const token = (await remote.api.call("createAPIToken", { permissions: ["download"], path: "/data" })) as {
      token: string;
    };
    const viaToken = await cp(
      "-q",
      "--remote-token",
      token.token,
      "127.0.0.1:sub/b.txt",
      join(base, "tok") + "/",
    );
    assert.equal(viaToken.code, 0, viaToken.stderr);
    await assertSame(join(base, "tok"), { "b.txt": "sub/b.txt" });

    // the upload tokens cp made on the local server are gone again
    assert.deepEqual(await local.api.call("getAPITokens", { includeExpired: true }), []);

    const noR = await cp("admin@127.0.0.1:data", join(base, "x"));
    assert.equal(noR.code, 2);
    assert.match(noR.stderr, /admin@127\.0\.0\.1:data is a directory \(use -r\)/);
    const missing = await cp("admin@127.0.0.1:data/nope", join(base, "x"));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /admin@127\.0\.0\.1:data\/nope: no such file or directory/);
    const anonymous = await cp("127.0.0.1:data/a.bin", join(base, "x"));
    assert.equal(anonymous.code, 2);
    assert.match(anonymous.stderr, /needs user@127\.0\.0\.1:path or --remote-token/);
    const mixed = await cp("admin@127.0.0.1:data/a.bin", join(base, "got", "copy.bin"), "127.0.0.1:x/");
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /is a local path but other SOURCEs are on a server/);
    const wrongPassword = await runCli(
      [
        "cp",
        "--state-dir",
        local.stateDir,
        "--remote-api-port",
        String(remote.apiPort),
        "admin@127.0.0.1:data/a.bin",
        join(base, "x"),
      ],
      { env: { ...env, SLIPSTREAM_REMOTE_PASSWORD: "wrong" } },
    );
    assert.equal(wrongPassword.code, 4, wrongPassword.stderr);
    assert.match(wrongPassword.stderr, /login to 127\.0\.0\.1 as admin failed/);
  } finally {
    await stop(local);
    await stop(remote);
    await rm(base, { recursive: true, force: true });
  }
});

test("cp of a slipstream:// link into an embedded receiver counts one download; a wrong token exits 4", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cpdl-"));
  const remote = await remoteWithData(base, "remote");
  try {
    const manifest = (await remote.api.call("send.createManifest", {
      fileMappings: [{ srcPath: "/data/sub", destPath: "shared" }],
    })) as { manifestId: string };
    await remote.api.call("send.waitForManifest", { manifestId: manifest.manifestId, timeoutSeconds: 10 });
    const shared = (await remote.api.call("send.createSharedToken", { manifestId: manifest.manifestId })) as {
      token: string;
      link: string;
    };
    const cp = (...args: string[]) =>
      runCli(["cp", "--state-dir", join(base, "no-server-here"), ...args], { env: { HOME: base } });
    const copy = await cp(shared.link, join(base, "incoming") + "/");
    assert.equal(copy.code, 0, copy.stderr);
    await assertSame(join(base, "incoming", "shared"), {
      "b.txt": "sub/b.txt",
      "deeper/c.bin": "sub/deeper/c.bin",
    });
    const after = (await remote.api.call("send.getSharedToken", { token: shared.token })) as {
      downloadCount: number;
    };
    assert.equal(after.downloadCount, 1);

    const wrong = await cp(shared.link.replace(/token=.*/, `token=${"0".repeat(32)}`), join(base, "nope"));
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.match(wrong.stderr, /refused the link's token/);
    const notALink = await cp(`slipstream://127.0.0.1:${remote.apiPort}/upload?token=x`, join(base, "nope"));
    assert.equal(notALink.code, 2);
    assert.match(notALink.stderr, /not a download link/);
    const asTarget = await cp(join(base, "incoming"), shared.link);
    assert.equal(asTarget.code, 2);
    assert.match(asTarget.stderr, /a shared link can only be a SOURCE/);
    assert.equal(
      ((await remote.api.call("send.getSharedToken", { token: shared.token })) as { downloadCount: number })
        .downloadCount,
      1,
    );
  } finally {
    await stop(remote);
    await rm(base, { recursive: true, force: true });
  }
});

test("cp hostA:path → hostB:path: driven on hostA with a download token, received on hostB with a token cp deletes", async () => {
  const base = await mkdtemp(join(tmpdir(), "slipstream-cpdl-"));
  const source = await remoteWithData(base, "a");
  // no --recv-allow-anonymous: only the upload token cp makes on hostB lets the files in
  const receiver = await launch(join(base, "b"), [
    "--recv-port",
    "0",
    "--sandbox-dir",
    join(base, "b-sandbox", "%u"),
  ]);
  try {
    const token = (await source.api.call("createAPIToken", { permissions: ["download"], path: "/data" })) as {
      token: string;
    };
    const env = { SLIPSTREAM_REMOTE_PASSWORD: readAdminPassword(receiver.stateDir)!, HOME: base };
    const ports = [
      "--remote-api-port",
      String(source.apiPort),
      "--target-api-port",
      String(receiver.apiPort),
    ];
    // Ctrl-C: the transfer on hostA is cancelled and the token cp made on hostB deleted
    await writeFile(join(base, "a-sandbox", "admin", "data", "big.bin"), randomBytes(2_000_000));
    await interruptedCopy(
      [
        "--remote-token",
        token.token,
        ...ports,
        "127.0.0.1:big.bin",
        `admin@127.0.0.1:${receiver.recvPort}:inbox/`,
      ],
      env,
      source,
    );
    assert.deepEqual(await receiver.api.call("getAPITokens", { includeExpired: true }), []);

    const copy = await runCli(
      [
        "cp",
        "-r",
        "--remote-token",
        token.token,
        ...ports,
        "127.0.0.1:sub",
        `admin@127.0.0.1:${receiver.recvPort}:inbox/`,
      ],
      { env },
    );
    assert.equal(copy.code, 0, copy.stderr);
    await assertSame(join(base, "b-sandbox", "admin", "inbox", "sub"), {
      "b.txt": "sub/b.txt",
      "deeper/c.bin": "sub/deeper/c.bin",
    });
    assert.deepEqual(await receiver.api.call("getAPITokens", { includeExpired: true }), []);
    const left = (await source.api.call("getAPITokens", {})) as { token: string }[];
    assert.deepEqual(
      left.map((t) => t.token),
      [token.token],
    );
  } finally {
    await stop(receiver);
    await stop(source);
    await rm(base, { recursive: true, force: true });
  }
});
