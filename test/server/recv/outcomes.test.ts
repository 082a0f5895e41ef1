/**
 * How receive records end: a cancel from the sender (partial files removed, recv.transferCancelled),
 * a failure from the sender (status error with its code, recv.transferError), and a file that
 * exists with overwrite "never" (EXISTS), each event once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cleanup, keyedSender, named, receiving, tempBase, until } from "./helpers.js";

type View = Record<string, unknown> & { status: string; bytesRecv: number };

test("cancelled and failed transfers: statuses, error codes and events", async () => {
  const base = await tempBase();
  const r = await receiving(base, { recvAllowAnonymous: true });
  try {
    const admin = await r.admin(true);
    await writeFile(join(base, "big"), randomBytes(4 * 1024 * 1024));
    const s = await keyedSender(r.port, 1e6);
    const get = async (id: string) => (await admin.call("recv.getTransfer", { transferId: id })) as View;
    try {
      for (const [reason, status] of [
        ["cancel", "cancelled"],
        ["error", "error"],
      ] as const) {
        const id = randomBytes(16).toString("hex");
        const sending = s.sender.send({
          id,
          destinationPath: reason,
          files: [{ source: join(base, "big"), path: "big" }],
        });
        await until(async () => {
          try {
            return (await get(id)).bytesRecv > 0;
          } catch {
            return false;
          }
        }, 10_000);
        s.sender.stop(id, reason, reason === "error" ? "SOURCE_READ: the disk went away" : "");
        assert.equal((await sending).code, "CANCELLED");
        let view: View = await get(id);
        await until(async () => {
          view = await get(id);
          return view.status === status;
        });
        assert.ok(view.endTime !== null && view.expiryTime !== null);
        if (status === "error") {
          assert.equal(view.lastError, "SOURCE_READ");
          assert.match(String(view.lastErrorMessage), /disk went away/);
        }
      }
    } finally {
      await s.sender.close();
    }

    // overwrite "never" on an existing target: that file fails with EXISTS, the transfer with error
    await mkdir(join(base, "sandbox", "anonymous", "keep"), { recursive: true });
    await writeFile(join(base, "sandbox", "anonymous", "keep", "f"), "old");
    await writeFile(join(base, "small"), "new");
    const t = await keyedSender(r.port);
    try {
      const result = await t.sender.send({
        destinationPath: "keep",
        overwrite: "never",
        files: [{ source: join(base, "small"), path: "f" }],
      });
      assert.equal(result.ok, false);
      let view: View = { status: "", bytesRecv: 0 };
      await until(async () => {
        view = (await admin.call("recv.getTransfer", { transferId: result.id })) as View;
        return view.status === "error";
      });
      assert.equal(view.lastError, "EXISTS");
    } finally {
      await t.sender.close();
    }
    assert.equal(named(r.events, "recv.transferCancelled").length, 1);
    assert.equal(named(r.events, "recv.transferError").length, 2);
    assert.equal(named(r.events, "recv.transferComplete").length, 0);
    assert.deepEqual(
      named(r.events, "recv.transferError").map((e) => e.lastError),
      ["SOURCE_READ", "EXISTS"],
    );
  } finally {
    await r.stop();
    await cleanup(base);
  }
});
