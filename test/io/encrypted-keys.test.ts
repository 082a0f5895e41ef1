import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import {
  formatPublicKey,
  KeyFileError,
  KeyFormatError,
  loadKeyPair,
  loadOrCreateKeyPair,
  parsePublicKey,
} from "../../src/io/keys.js";
import { generateKeyPair, keysEqual } from "../../src/core/crypto/keys.js";

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "slipstream-keys-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("a key pair is made once, owner-only, and loaded back the same", () =>
  withDir(async (dir) => {
    const path = join(dir, "state", "server.key");
    const first = await loadOrCreateKeyPair(path);
    assert.equal(first.created, true);
    if (process.platform !== "win32") assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.match(await readFile(path, "utf8"), /BEGIN PRIVATE KEY/);
    const again = await loadOrCreateKeyPair(path);
    assert.equal(again.created, false);
    assert.ok(keysEqual(again.keyPair.publicKey, first.keyPair.publicKey));
    assert.ok(keysEqual(again.keyPair.privateKey, first.keyPair.privateKey));
    const text = formatPublicKey(first.keyPair.publicKey);
    assert.match(text, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(keysEqual(parsePublicKey(text), first.keyPair.publicKey));
  }));

test("key files that are too open, not keys or of another type are refused with a reason", () =>
  withDir(async (dir) => {
    const path = join(dir, "server.key");
    await loadOrCreateKeyPair(path);
    if (process.platform !== "win32") {
      await chmod(path, 0o644);
      await assert.rejects(
        loadKeyPair(path),
        (e: unknown) => e instanceof KeyFileError && /chmod 600/.test(e.message),
      );
    }
    const junk = join(dir, "junk.key");
    await writeFile(junk, "hello", { mode: 0o600 });
    await assert.rejects(loadKeyPair(junk), /not a PEM private key/);
    const ed = join(dir, "ed.key");
    const { privateKey } = generateKeyPairSync("ed25519");
    await writeFile(ed, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
    await assert.rejects(loadKeyPair(ed), /X25519 key is required, found ed25519/);
  }));

test("public keys: base64url text of 32 bytes, errors name the problem", () => {
  const bad: Array<[string, RegExp]> = [
    ["", /43 base64url characters, not 0/],
    ["abc", /not 3/],
    ["A".repeat(44), /not 44/],
    ["A".repeat(42) + "=", /without padding/],
    ["+".repeat(43), /base64url text/],
    ["A".repeat(42) + "B", /canonical/],
  ];
  for (const [text, why] of bad) {
    assert.throws(
      () => parsePublicKey(text, "destinationPublicKey"),
      (e: unknown) =>
        e instanceof KeyFormatError && /^destinationPublicKey: /.test(e.message) && why.test(e.message),
      text,
    );
  }
  const text = formatPublicKey(generateKeyPair().publicKey);
  assert.equal(parsePublicKey(`  ${text}\n`).length, 32, "surrounding blanks are ignored");
  assert.throws(() => parsePublicKey("A".repeat(43)), /low-order/, "the all-zero point is refused");
});
