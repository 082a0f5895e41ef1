import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { AeadProtection, AEAD_TAG_SIZE } from "../../../src/core/crypto/aead-protection.js";
import {
  defaultAeadBackend,
  nodeCryptoBackend,
  opensslNativeBackend,
  sodiumNativeBackend,
  type AeadBackend,
} from "../../../src/core/crypto/aead-backends.js";
import type { AeadCipherName } from "../../../src/core/crypto/ciphers.js";
import { HEADER_SIZE, PacketType, writeHeader } from "../../../src/core/wire/packet.js";

const CIPHERS: AeadCipherName[] = ["aes-256-gcm", "chacha20-poly1305"];
const backends = [nodeCryptoBackend, sodiumNativeBackend, opensslNativeBackend].filter(
  (b): b is AeadBackend => b !== null,
);

function datagram(pn: number, payload: Uint8Array): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE + payload.length + AEAD_TAG_SIZE);
  writeHeader(buf, {
    version: 1,
    type: PacketType.Established,
    sessionId: "0123456789abcdef",
    packetNumber: pn,
  });
  buf.set(payload, HEADER_SIZE);
  return buf;
}

function seal(p: AeadProtection, pn: number, payload: Uint8Array): Uint8Array {
  const buf = datagram(pn, payload);
  return buf.subarray(0, p.seal(buf, HEADER_SIZE, HEADER_SIZE + payload.length, pn));
}

function pair(
  cipher: AeadCipherName,
  backend: AeadBackend,
  a: Uint8Array,
  b: Uint8Array,
  rotation = 64,
): [AeadProtection, AeadProtection] {
  return [
    new AeadProtection(cipher, a, b, rotation, undefined, backend),
    new AeadProtection(cipher, b, a, rotation, undefined, backend),
  ];
}

test("the default backend is the fastest one available for each cipher", () => {
  for (const cipher of CIPHERS) {
    const expected =
      opensslNativeBackend ??
      (cipher === "chacha20-poly1305" && sodiumNativeBackend ? sodiumNativeBackend : nodeCryptoBackend);
    assert.equal(defaultAeadBackend(cipher), expected, cipher);
    assert.equal(new AeadProtection(cipher, randomBytes(32), randomBytes(32)).backend.name, expected.name);
  }
  assert.equal(nodeCryptoBackend.supports("aes-256-gcm"), true);
  assert.equal(nodeCryptoBackend.supports("chacha20-poly1305"), true);
});

test("the native addon is built here (CI has a compiler), so the fast path is what the tests exercise", () => {
  // A machine without a compiler runs on the fallbacks; this repository's CI must not silently do so.
  assert.notEqual(opensslNativeBackend, null, "native/build/Release/slipstream_native.node did not load");
});

test(
  "a backend without the cipher is refused at construction",
  { skip: sodiumNativeBackend === null ? "sodium-native is not installed here" : false },
  () => {
    assert.throws(
      () =>
        new AeadProtection(
          "aes-256-gcm",
          randomBytes(32),
          randomBytes(32),
          undefined,
          undefined,
          sodiumNativeBackend!,
        ),
      /sodium-native has no aes-256-gcm/,
    );
  },
);

for (const cipher of CIPHERS) {
  const able = backends.filter((b) => b.supports(cipher));
  test(`${cipher}: ${able.map((b) => b.name).join(", ")} produce the same datagrams byte for byte and open each other's`, () => {
    assert.ok(able.length >= 2, "at least two backends to compare");
    const a = randomBytes(32);
    const b = randomBytes(32);
    const pairs = able.map((backend) => pair(cipher, backend, a, b));
    // Sizes include an empty payload; packet numbers cross key epochs (rotation every 64) and the 2^32 boundary.
    const numbers = [0, 1, 63, 64, 65, 200, 1000, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7];
    for (const [i, pn] of numbers.entries()) {
      const payload = randomBytes([0, 1, 15, 16, 17, 700, 1368][i % 7]!);
      const sealed = pairs.map(([tx]) => seal(tx, pn, payload));
      for (let s = 1; s < sealed.length; s++) {
        assert.deepEqual(Buffer.from(sealed[s]!), Buffer.from(sealed[0]!), `${able[s]!.name} packet ${pn}`);
      }
      for (const [r, [, rx]] of pairs.entries()) {
        const from = sealed[(r + 1) % sealed.length]!;
        assert.deepEqual(
          Buffer.from(rx.open(from, HEADER_SIZE, pn)!),
          payload,
          `${able[r]!.name} opens ${pn}`,
        );
      }
    }
    const updates = pairs.map(([tx]) => tx.stats.keyUpdates);
    assert.ok(updates[0]! > 3);
    assert.ok(updates.every((u) => u === updates[0]));
  });

  for (const backend of able) {
    test(`${cipher} through ${backend.name}: tampered, truncated and replayed datagrams are refused and counted; open decrypts in place`, () => {
      const [tx, rx] = pair(cipher, backend, randomBytes(32), randomBytes(32));
      const payload = randomBytes(300);
      const d = seal(tx, 9, payload);
      let expected = 0;
      for (let i = 0; i < d.length; i += 7) {
        const bad = Uint8Array.from(d);
        bad[i]! ^= 0x80;
        assert.equal(rx.open(bad, HEADER_SIZE, 9), null, `bit flip at byte ${i}`);
        assert.equal(rx.stats.unauthentic, ++expected);
      }
      // Each attempt gets its own copy: a refused open may leave garbage in the body it was given.
      assert.equal(rx.open(Uint8Array.from(d).subarray(0, d.length - 1), HEADER_SIZE, 9), null);
      assert.equal(
        rx.open(Uint8Array.from(d).subarray(0, HEADER_SIZE + 3), HEADER_SIZE, 9),
        null,
        "shorter than a tag",
      );
      assert.equal(
        rx.open(Uint8Array.from(d), HEADER_SIZE, 10),
        null,
        "the packet number is part of the nonce",
      );
      expected += 3;
      assert.equal(rx.stats.unauthentic, expected);
      const opened = rx.open(d, HEADER_SIZE, 9)!;
      assert.deepEqual(Buffer.from(opened), payload);
      assert.equal(opened.buffer, d.buffer, "the plaintext is the datagram's own body, not a copy");
      assert.equal(opened.byteOffset, d.byteOffset + HEADER_SIZE);
      assert.equal(rx.open(d, HEADER_SIZE, 9), null);
      assert.equal(rx.stats.replayed, 1);
    });
  }
}
