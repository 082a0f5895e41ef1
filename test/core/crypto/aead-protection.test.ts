import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { AeadProtection, AEAD_TAG_SIZE } from "../../../src/core/crypto/aead-protection.js";
import { ReplayWindow } from "../../../src/core/crypto/replay-window.js";
import { HEADER_SIZE, PacketType, writeHeader } from "../../../src/core/wire/packet.js";
import { MAX_PROTECTION_OVERHEAD } from "../../../src/core/wire/protection.js";

const CIPHERS = ["aes-256-gcm", "chacha20-poly1305"] as const;

function pair(cipher: (typeof CIPHERS)[number], rotation?: number): [AeadProtection, AeadProtection] {
  const a = randomBytes(32);
  const b = randomBytes(32);
  return [new AeadProtection(cipher, a, b, rotation), new AeadProtection(cipher, b, a, rotation)];
}

function packet(p: AeadProtection, pn: number, payload: Uint8Array): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE + payload.length + AEAD_TAG_SIZE);
  writeHeader(buf, {
    version: 1,
    type: PacketType.Established,
    sessionId: "0123456789abcdef",
    packetNumber: pn,
  });
  buf.set(payload, HEADER_SIZE);
  return buf.subarray(0, p.seal(buf, HEADER_SIZE, HEADER_SIZE + payload.length, pn));
}

test("the AEAD tag fits the overhead every block size already reserves", () => {
  assert.equal(AEAD_TAG_SIZE, MAX_PROTECTION_OVERHEAD);
  for (const c of CIPHERS) assert.equal(pair(c)[0].overhead, MAX_PROTECTION_OVERHEAD);
});

for (const cipher of CIPHERS) {
  test(`${cipher}: round trip, payload encrypted, header authenticated`, () => {
    const [tx, rx] = pair(cipher);
    const payload = randomBytes(1368);
    const d = packet(tx, 42, payload);
    assert.equal(d.length, HEADER_SIZE + 1368 + 16);
    assert.ok(!Buffer.from(d).includes(payload.subarray(0, 32)), "payload is not in the clear");
    const header = Uint8Array.from(d.subarray(0, HEADER_SIZE));
    const opened = rx.open(d, HEADER_SIZE, 42)!;
    assert.deepEqual(Buffer.from(opened), payload);
    assert.equal(opened.buffer, d.buffer, "decrypted in place");
    assert.deepEqual(d.subarray(0, HEADER_SIZE), header, "the header is not touched");
  });

  test(`${cipher}: tampered, truncated and misnumbered packets are dropped and counted`, () => {
    const [tx, rx] = pair(cipher);
    const payload = randomBytes(200);
    const d = packet(tx, 7, payload);
    let expected = 0;
    for (let i = 0; i < d.length; i++) {
      const bad = Uint8Array.from(d);
      bad[i]! ^= 0x01;
      assert.equal(rx.open(bad, HEADER_SIZE, 7), null, `bit flip at byte ${i}`);
      assert.equal(rx.stats.unauthentic, ++expected);
    }
    for (const n of [0, 10, HEADER_SIZE, HEADER_SIZE + 15, d.length - 1]) {
      assert.equal(rx.open(Uint8Array.from(d).subarray(0, n), HEADER_SIZE, 7), null, `truncated to ${n}`);
      assert.equal(rx.stats.unauthentic, ++expected);
    }
    assert.equal(rx.open(Uint8Array.from(d), HEADER_SIZE, 8), null, "the packet number is part of the nonce");
    assert.ok(rx.open(d, HEADER_SIZE, 7), "the genuine packet still opens after all that");
  });

  test(`${cipher}: replayed and too-old packets are dropped and counted`, () => {
    const [tx, rx] = pair(cipher);
    const sent = Array.from({ length: 3000 }, (_, pn) => packet(tx, pn, Uint8Array.of(pn & 0xff)));
    assert.ok(rx.open(sent[0]!, HEADER_SIZE, 0));
    assert.equal(rx.open(sent[0]!, HEADER_SIZE, 0), null);
    assert.equal(rx.stats.replayed, 1);
    assert.ok(rx.open(sent[2999]!, HEADER_SIZE, 2999));
    assert.ok(rx.open(sent[1000]!, HEADER_SIZE, 1000), "late but inside the window");
    assert.equal(rx.open(sent[1000]!, HEADER_SIZE, 1000), null);
    assert.equal(rx.open(sent[500]!, HEADER_SIZE, 500), null, "older than the window");
    assert.deepEqual({ replayed: rx.stats.replayed, tooOld: rx.stats.tooOld }, { replayed: 2, tooOld: 1 });
    // A forged packet does not enter the window: the genuine one with that number still opens.
    const forged = Uint8Array.from(sent[2000]!);
    forged[HEADER_SIZE]! ^= 1;
    assert.equal(rx.open(forged, HEADER_SIZE, 2000), null);
    assert.ok(rx.open(sent[2000]!, HEADER_SIZE, 2000));
  });

  test(`${cipher}: keys rotate every rotationPackets, out-of-order packets across epochs still open`, () => {
    const [tx, rx] = pair(cipher, 16);
    const sent = Array.from({ length: 100 }, (_, pn) => packet(tx, pn, Uint8Array.of(pn)));
    assert.equal(tx.stats.keyUpdates, 6);
    // Same plaintext, same packet-number offset within different epochs: different ciphertext.
    assert.notDeepEqual(sent[1]!.subarray(HEADER_SIZE), sent[17]!.subarray(HEADER_SIZE));
    const order = [...sent.keys()].sort((a, b) => ((a * 37) % 101) - ((b * 37) % 101));
    for (const pn of order) assert.deepEqual([...rx.open(sent[pn]!, HEADER_SIZE, pn)!], [pn], `pn ${pn}`);
    // The receiver of a rotated key cannot open a packet sealed under another epoch's key.
    const other = pair(cipher, 16)[0];
    assert.equal(rx.open(packet(other, 200, Uint8Array.of(1)), HEADER_SIZE, 200), null);
  });
}

test("the rotation interval has a floor", () => {
  assert.throws(() => pair("aes-256-gcm", 4));
});

test("replay window: sliding bitmap", () => {
  const w = new ReplayWindow(64);
  assert.equal(w.check(0), "new");
  w.mark(0);
  assert.equal(w.check(0), "replay");
  w.mark(63);
  assert.equal(w.check(0), "replay");
  assert.equal(w.check(1), "new");
  w.mark(64);
  assert.equal(w.check(0), "tooOld");
  assert.equal(w.check(1), "new");
  w.mark(1000);
  assert.equal(w.check(999), "new");
  assert.equal(w.check(937), "new");
  assert.equal(w.check(936), "tooOld");
  assert.equal(w.check(1000), "replay");
  w.mark(2 ** 48 - 2);
  assert.equal(w.check(2 ** 48 - 1), "new");
  assert.equal(w.check(2 ** 48 - 2), "replay");
  assert.throws(() => new ReplayWindow(100));
});
