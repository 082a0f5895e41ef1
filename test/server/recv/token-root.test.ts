/**
 * Where a transfer admitted by its receiveToken lands (server.md §15): below the owner's sandbox
 * root joined with the token's path, `destinationPath` relative to that; `host:/` (an empty
 * destinationPath) is the token's path itself, and `..` or a symbolic link leading out of the
 * token's path is refused before anything is written.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { UdpSender } from "../../../src/io/drivers/udp-sender.js";
import { cleanup, keyedSender, receiving, tempBase } from "./helpers.js";

interface RecvTransfer {
  transferId: string;
  receivingUser: string;
  rootPath: string;
}

/** A receiving server whose admin holds an upload token for /drop/acme, and a report to send. */
async function tokenForDrop(base: string, password: string | null) {
  // no --recv-allow-anonymous: only the token lets transfers in
  const r = await receiving(base);
  const admin = await r.admin();
  await admin.call("mkdir", { path: "/drop/acme", parents: true });
  const { token } = (await admin.call("createAPIToken", {
    permissions: ["upload"],
    path: "/drop/acme",
    ...(password === null ? {} : { password }),
  })) as { token: string };
  await writeFile(join(base, "report.pdf"), "quarterly");
  return { r, admin, receiveToken: { token, password } };
}

test("a receiveToken's path is the root of its transfer: destinationPath and destPath go below it", async () => {
  const base = await tempBase();
  const { r, admin, receiveToken } = await tokenForDrop(base, "pw");
  const alice = join(base, "sandbox", "admin");
  try {
    const s = await keyedSender(r.port);
    const send = (sender: UdpSender, destinationPath: string, path: string) =>
      sender.send({ destinationPath, files: [{ source: join(base, "report.pdf"), path }], receiveToken });
    try {
      // the spec's table row: token /drop/acme, destinationPath /2024, destPath report.pdf
      const row = await send(s.sender, "/2024", "report.pdf");
      assert.equal(row.ok, true, row.message);
      assert.equal(await readFile(join(alice, "drop", "acme", "2024", "report.pdf"), "utf8"), "quarterly");
      const record = (await admin.call("recv.getTransfer", { transferId: row.id })) as RecvTransfer;
      assert.equal(record.receivingUser, "admin");
      assert.equal(record.rootPath, join(alice, "drop", "acme", "2024"));

      // `cp --remote-token=T ./report.pdf host:/`: the token's path itself
      const top = await send(s.sender, "", "report.pdf");
      assert.equal(top.ok, true, top.message);
      assert.equal(await readFile(join(alice, "drop", "acme", "report.pdf"), "utf8"), "quarterly");
      const slash = await send(s.sender, "/", "top/report.pdf");
      assert.equal(slash.ok, true, slash.message);
      assert.equal(await readFile(join(alice, "drop", "acme", "top", "report.pdf"), "utf8"), "quarterly");

      // nothing leaves the token's path: `..` in destinationPath or destPath, a link pointing out
      await mkdir(join(alice, "private"));
      await symlink(join(alice, "private"), join(alice, "drop", "acme", "out"));
      for (const [destinationPath, path] of [
        ["../escaped", "report.pdf"],
        ["/2024/../..", "report.pdf"],
        ["/2024", "../../escaped.pdf"],
        ["out", "report.pdf"],
      ] as const) {
        const refused = await send(s.sender, destinationPath, path);
        assert.equal(refused.ok, false, `${destinationPath} ${path}`);
        assert.equal(refused.code, "RECEIVER_REFUSED", refused.message);
        assert.match(refused.message ?? "", /refused: .*(not allowed|leads outside)/);
      }
      assert.deepEqual((await readdir(alice)).sort(), ["drop", "private"]);
      assert.deepEqual(await readdir(join(alice, "drop")), ["acme"]);
      assert.deepEqual(await readdir(join(alice, "private")), []);
    } finally {
      await s.sender.close();
    }
  } finally {
    await r.stop();
    await cleanup(base);
  }
});

test("a receiveToken whose path is gone, or now leads out of the sandbox, is refused saying which", async () => {
  const base = await tempBase();
  const { r, receiveToken } = await tokenForDrop(base, null);
  const alice = join(base, "sandbox", "admin");
  try {
    const s = await keyedSender(r.port);
    const send = () =>
      s.sender.send({
        destinationPath: "",
        files: [{ source: join(base, "report.pdf"), path: "report.pdf" }],
        receiveToken,
      });
    try {
      await rm(join(alice, "drop", "acme"), { recursive: true });
      const gone = await send();
      assert.equal(gone.code, "RECEIVER_REFUSED");
      assert.match(gone.message ?? "", /path no longer exists/);
      // the path is back, as a link to somewhere outside the owner's sandbox
      await mkdir(join(base, "elsewhere"));
      await symlink(join(base, "elsewhere"), join(alice, "drop", "acme"));
      const out = await send();
      assert.equal(out.code, "RECEIVER_REFUSED");
      assert.match(out.message ?? "", /cannot be used .*leaves the sandbox through a symbolic link/);
      assert.deepEqual(await readdir(join(base, "elsewhere")), [], "nothing written there");
    } finally {
      await s.sender.close();
    }
  } finally {
    await r.stop();
    await cleanup(base);
  }
});
