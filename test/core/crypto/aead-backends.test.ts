import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { AeadProtection, AEAD_TAG_SIZE } from "../../../src/core/crypto/aead-protection.js";
import {
  defaultAeadBackend,
  nodeCryptoBackend,
  sodiumNativeBackend,
  type AeadBackend,
} from "../../../src/core/crypto/aead-backends.js";
import { HEADER_SIZE, PacketType, writeHeader } from "../../../src/core/wire/packet.js";

const noSodium = sodiumNativeBackend === null ? "sodium-native is not installed here" : false;

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
  backend: AeadBackend,
  a: Uint8Array,
  b: Uint8Array,
  rotation = 64,
): [AeadProtection, AeadProtection] {
  return [
    new AeadProtection("chacha20-poly1305", a, b, rotation, undefined, backend),
    new AeadProtection("chacha20-poly1305", b, a, rotation, undefined, backend),
  ];
}

test("the default backend is sodium-native for ChaCha20-Poly1305 when installed, node:crypto for AES-256-GCM", () => {
  assert.equal(defaultAeadBackend("aes-256-gcm"), nodeCryptoBackend);
  assert.equal(defaultAeadBackend("chacha20-poly1305"), sodiumNativeBackend ?? nodeCryptoBackend);
  assert.equal(
    new AeadProtection("aes-256-gcm", randomBytes(32), randomBytes(32)).backend.name,
    "node:crypto",
  );
  assert.equal(nodeCryptoBackend.supports("aes-256-gcm"), true);
  assert.equal(nodeCryptoBackend.supports("chacha20-poly1305"), true);
});

test("a backend without the cipher is refused at construction", { skip: noSodium }, () => {
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
});

test(
  "ChaCha20-Poly1305: node:crypto and sodium-native produce the same datagrams byte for byte and open each other's",
  { skip: noSodium },
  () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const [nodeTx, nodeRx] = pair(nodeCryptoBackend, a, b);
    const [sodiumTx, sodiumRx] = pair(sodiumNativeBackend!, a, b);
    // Sizes include an empty payload; packet numbers cross key epochs (rotation every 64) and the 2^32 boundary.
    const numbers = [0, 1, 63, 64, 65, 200, 1000, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7];
    for (const [i, pn] of numbers.entries()) {
      const payload = randomBytes([0, 1, 15, 16, 17, 700, 1368][i % 7]!);
      const fromNode = seal(nodeTx, pn, payload);
      const fromSodium = seal(sodiumTx, pn, payload);
      assert.deepEqual(Buffer.from(fromSodium), Buffer.from(fromNode), `packet ${pn}`);
      assert.deepEqual(
        Buffer.from(sodiumRx.open(fromNode, HEADER_SIZE, pn)!),
        payload,
        `sodium opens node ${pn}`,
      );
      assert.deepEqual(
        Buffer.from(nodeRx.open(fromSodium, HEADER_SIZE, pn)!),
        payload,
        `node opens sodium ${pn}`,
      );
    }
    assert.equal(nodeTx.stats.keyUpdates, sodiumTx.stats.keyUpdates);
    assert.ok(sodiumTx.stats.keyUpdates > 3);
  },
);

test(
  "sodium-native: tampered and truncated datagrams are refused, counted, and left untouched",
  { skip: noSodium },
  () => {
    const [tx, rx] = pair(sodiumNativeBackend!, randomBytes(32), randomBytes(32));
    const payload = randomBytes(300);
    const d = seal(tx, 9, payload);
    let expected = 0;
    for (let i = 0; i < d.length; i += 7) {
      const bad = Uint8Array.from(d);
      bad[i]! ^= 0x80;
      const before = Uint8Array.from(bad);
      assert.equal(rx.open(bad, HEADER_SIZE, 9), null, `bit flip at byte ${i}`);
      assert.deepEqual(bad, before, "a refused datagram is not modified");
      assert.equal(rx.stats.unauthentic, ++expected);
    }
    assert.equal(rx.open(d.subarray(0, d.length - 1), HEADER_SIZE, 9), null);
    assert.equal(rx.open(d, HEADER_SIZE, 10), null, "the packet number is part of the nonce");
    expected += 2;
    assert.equal(rx.stats.unauthentic, expected);
    const copy = Uint8Array.from(d);
    assert.deepEqual(Buffer.from(rx.open(d, HEADER_SIZE, 9)!), payload);
    assert.deepEqual(d, copy, "open leaves the datagram untouched");
    assert.equal(rx.open(d, HEADER_SIZE, 9), null);
    assert.equal(rx.stats.replayed, 1);
  },
);
