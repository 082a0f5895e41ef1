/**
 * The allow-list through the API (api.md §4, §5.14): add (update), list, remove, the errors, the
 * events, and the enforcement flag, persisted across a restart unless the command line overrides it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateKeyPair } from "../../../src/core/crypto/keys.js";
import { formatPublicKey } from "../../../src/io/keys.js";
import { cleanup, expectError, named, receiving, tempBase } from "./helpers.js";

interface Client {
  clientPublicKey: string;
  user: string | null;
  description: string;
  addedBy: string;
  creationTime: number;
  lastSeenTime: number | null;
}

test("allow-list: add, update, list, remove, with their errors and events", async () => {
  const base = await tempBase();
  const r = await receiving(base);
  try {
    await r.server.handle.state.users.add("bob", "bob-password", false, 1);
    const plain = await r.admin();
    const key = formatPublicKey(generateKeyPair().publicKey);
    await expectError(plain.call("recv.getAuthorizedClients", {}), "NOT_SUPERUSER");
    await expectError(plain.call("recv.addAuthorizedClient", { clientPublicKey: key }), "NOT_SUPERUSER");
    const bob = r.server.client();
    await bob.login("bob", "bob-password");
    await expectError(bob.call("recv.getSources", {}), "NOT_SUPERUSER");

    const admin = await r.admin(true);
    await expectError(
      admin.call("recv.addAuthorizedClient", { clientPublicKey: "not-a-key" }),
      "INVALID_ARGUMENT",
      /clientPublicKey/,
    );
    await expectError(
      admin.call("recv.addAuthorizedClient", { clientPublicKey: key, user: "nobody" }),
      "NOT_FOUND",
      /nobody/,
    );
    const added = (await admin.call("recv.addAuthorizedClient", {
      clientPublicKey: key,
      user: "bob",
      description: "bob's uploader",
    })) as Client;
    assert.equal(added.clientPublicKey, key);
    assert.equal(added.user, "bob");
    assert.equal(added.addedBy, "admin");
    assert.equal(added.lastSeenTime, null);
    assert.ok(Math.abs(added.creationTime - Date.now() * 1000) < 60e6);
    const updated = (await admin.call("recv.addAuthorizedClient", {
      clientPublicKey: key,
      description: "now anonymous",
    })) as Client;
    assert.equal(updated.user, null);
    assert.equal(updated.creationTime, added.creationTime);
    const other = formatPublicKey(generateKeyPair().publicKey);
    await admin.call("recv.addAuthorizedClient", { clientPublicKey: other });
    const list = (await admin.call("recv.getAuthorizedClients", {})) as Client[];
    assert.deepEqual(
      list.map((c) => [c.clientPublicKey, c.description]),
      [
        [key, "now anonymous"],
        [other, ""],
      ],
    );
    assert.equal(((await admin.call("recv.getAuthorizedClients", { offset: 1 })) as Client[]).length, 1);

    assert.equal(await admin.call("recv.removeAuthorizedClient", { clientPublicKey: key }), null);
    await expectError(admin.call("recv.removeAuthorizedClient", { clientPublicKey: key }), "NOT_FOUND");
    const left = (await admin.call("recv.getAuthorizedClients", {})) as Client[];
    assert.deepEqual(
      left.map((c) => c.clientPublicKey),
      [other],
    );
    assert.equal(named(r.events, "recv.authorizedClientAdded").length, 3);
    assert.deepEqual(
      named(r.events, "recv.authorizedClientRemoved").map((e) => [e.clientPublicKey, e.owner]),
      [[key, null]],
    );
  } finally {
    await r.stop();
    await cleanup(base);
  }
});

test("the allow-list and its flag survive a restart; --recv-only-authorized-clients overrides the flag", async () => {
  const base = await tempBase();
  const stateDir = join(base, "state");
  const key = formatPublicKey(generateKeyPair().publicKey);
  const flag = async (r: Awaited<ReturnType<typeof receiving>>) => {
    const info = (await (await r.admin()).call("getServerInfo", {})) as {
      receiver: { onlyAuthorizedClientsAllowed: boolean };
    };
    return info.receiver.onlyAuthorizedClientsAllowed;
  };
  let r = await receiving(base, { stateDir });
  try {
    assert.equal(await flag(r), false);
    const admin = await r.admin(true);
    await admin.call("recv.addAuthorizedClient", { clientPublicKey: key, description: "kept" });
    assert.equal(
      await admin.call("recv.allowOnlyAuthorizedClients", { onlyAuthorizedClientsAllowed: true }),
      null,
    );
    assert.equal(await flag(r), true);
  } finally {
    await r.stop();
  }
  r = await receiving(base, { stateDir });
  try {
    assert.equal(await flag(r), true);
    const admin = await r.admin(true);
    const list = (await admin.call("recv.getAuthorizedClients", {})) as Client[];
    assert.deepEqual(
      list.map((c) => [c.clientPublicKey, c.description]),
      [[key, "kept"]],
    );
  } finally {
    await r.stop();
  }
  r = await receiving(base, { stateDir, recvOnlyAuthorizedClients: false });
  try {
    assert.equal(await flag(r), false);
  } finally {
    await r.stop();
    await cleanup(base);
  }
});
