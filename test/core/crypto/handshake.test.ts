import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  decodePublicKey,
  encodePublicKey,
  generateKeyPair,
  KeyFormatError,
  keysEqual,
} from "../../../src/core/crypto/keys.js";
import { ReceiverEndpoint } from "../../../src/core/endpoint/receiver.js";
import { SenderEndpoint } from "../../../src/core/endpoint/sender.js";
import { DEFAULT_CONNECTION_CONFIG } from "../../../src/core/transport/connection.js";
import { AeadProtection } from "../../../src/core/crypto/aead-protection.js";
import { PlainHandshakeInitiator, PlainHandshakeResponder } from "../../../src/core/transport/handshake.js";
import { HEADER_SIZE } from "../../../src/core/wire/packet.js";
import type { PacketProtection } from "../../../src/core/wire/protection.js";
import {
  failureOf,
  initiator,
  outcomeOf,
  RECEIVER,
  receiverKeys,
  responder,
  SENDER,
  senderKeys,
  successOf,
} from "./helpers.js";

/** seals a packet with one side's protection and opens it with the other's */
function roundTrip(from: PacketProtection, to: PacketProtection, pn: number): Uint8Array | null {
  const buf = new Uint8Array(HEADER_SIZE + 100 + 16);
  buf.fill(7, 0, HEADER_SIZE);
  buf.fill(pn & 0xff, HEADER_SIZE, HEADER_SIZE + 100);
  const end = from.seal(buf, HEADER_SIZE, HEADER_SIZE + 100, pn);
  return to.open(buf.subarray(0, end), HEADER_SIZE, pn);
}

test("IK: both ends authenticate, exchange identities and agree on keys", () => {
  const init = initiator();
  const hello = init.hello();
  assert.equal(hello[0], 0x01);
  assert.ok(
    !Buffer.from(hello).includes(Buffer.from(senderKeys.publicKey)),
    "the sender's key travels encrypted",
  );
  const r = outcomeOf(responder().onHello(hello));
  assert.equal(r.outcome.peer.publicKey, encodePublicKey(senderKeys.publicKey));
  assert.equal(r.outcome.peer.serverId, SENDER.serverId);
  assert.equal(r.outcome.peer.cipher, "aes-256-gcm");
  const o = successOf(init.onReply(r.reply));
  assert.equal(o.peer.publicKey, encodePublicKey(receiverKeys.publicKey));
  assert.equal(o.peer.keyLearned, false);
  assert.equal(o.peer.serverId, RECEIVER.serverId);
  assert.equal(o.peer.serverUid, RECEIVER.serverUid);
  assert.equal(o.peer.protocolVersion, 1);
  assert.ok(o.protection instanceof AeadProtection);
  assert.equal(o.protection.cipher, "aes-256-gcm");
  assert.ok(roundTrip(o.protection, r.outcome.protection, 0));
  assert.ok(roundTrip(r.outcome.protection, o.protection, 0));
  // Each direction has its own key: a packet cannot be reflected back to its sender.
  assert.equal(roundTrip(o.protection, o.protection, 1), null);
});

test("the initiator's retransmitted hello is the same message", () => {
  const init = initiator();
  assert.deepEqual(init.hello(), init.hello());
});

test("trust on first use (IX): the learned receiver key is reported", () => {
  const init = initiator({ peerPublicKey: null });
  const hello = init.hello();
  assert.equal(hello[0], 0x02);
  const r = outcomeOf(responder().onHello(hello));
  assert.equal(r.outcome.peer.publicKey, encodePublicKey(senderKeys.publicKey));
  assert.ok(
    !Buffer.from(r.reply).includes(Buffer.from(receiverKeys.publicKey)),
    "the receiver's key travels encrypted",
  );
  const o = successOf(init.onReply(r.reply));
  assert.equal(o.peer.publicKey, encodePublicKey(receiverKeys.publicKey));
  assert.equal(o.peer.keyLearned, true);
  assert.equal(o.peer.serverUid, RECEIVER.serverUid);
  assert.ok(roundTrip(o.protection, r.outcome.protection, 5));
});

test("a receiver with another key than the pinned one: KEY_MISMATCH, no session", () => {
  const init = initiator({ peerPublicKey: generateKeyPair().publicKey });
  const f = failureOf(responder().onHello(init.hello()));
  assert.equal(f.error, "KEY_MISMATCH");
  assert.ok(!f.drop);
});

test("an impostor cannot answer for the pinned key", () => {
  // The impostor holds another key but claims to be the pinned receiver by accepting any hint.
  const impostorKeys = generateKeyPair();
  const init = initiator();
  const hello = init.hello();
  const impostor = responder({ keyPair: impostorKeys });
  const f = failureOf(impostor.onHello(hello));
  assert.equal(f.error, "KEY_MISMATCH");
  // A TOFU reply from the impostor does not authenticate for an IK initiator either.
  const fake = outcomeOf(impostor.onHello(initiator({ peerPublicKey: null }).hello()));
  const g = failureOf(init.onReply(fake.reply));
  assert.ok(g.drop);
});

test("an initiator key refused by authorize(): NOT_AUTHORIZED on both sides", () => {
  const seen: Uint8Array[] = [];
  const resp = responder({
    authorize: (key) => {
      seen.push(key);
      return { code: "NOT_AUTHORIZED", message: "key not in the authorised-clients list" };
    },
  });
  for (const init of [initiator(), initiator({ peerPublicKey: null })]) {
    const f = failureOf(resp.onHello(init.hello()));
    assert.equal(f.error, "NOT_AUTHORIZED");
    assert.ok(f.reply, "the refusal is sent back authenticated");
    const g = failureOf(init.onReply(f.reply!));
    assert.equal(g.error, "NOT_AUTHORIZED");
    assert.match(g.message, /authorised-clients/);
    assert.ok(!g.drop);
  }
  assert.equal(seen.length, 2);
  assert.ok(seen.every((k) => keysEqual(k, senderKeys.publicKey)));
});

test("cipher negotiation follows both minimums; none only when both allow it", () => {
  type C = "none" | "chacha20-poly1305" | "aes-256-gcm";
  const cases: Array<[preferred: C, senderMin: C, receiverMin: C, expected: C | "CIPHER_REJECTED"]> = [
    ["aes-256-gcm", "chacha20-poly1305", "chacha20-poly1305", "aes-256-gcm"],
    ["chacha20-poly1305", "chacha20-poly1305", "chacha20-poly1305", "chacha20-poly1305"],
    ["chacha20-poly1305", "chacha20-poly1305", "aes-256-gcm", "aes-256-gcm"],
    ["chacha20-poly1305", "chacha20-poly1305", "none", "chacha20-poly1305"],
    ["aes-256-gcm", "none", "none", "aes-256-gcm"],
    ["none", "none", "none", "none"],
    ["none", "none", "chacha20-poly1305", "aes-256-gcm"],
    ["none", "chacha20-poly1305", "none", "aes-256-gcm"],
    ["chacha20-poly1305", "chacha20-poly1305", "aes-256-gcm", "aes-256-gcm"],
    ["aes-256-gcm", "aes-256-gcm", "aes-256-gcm", "aes-256-gcm"],
  ];
  for (const [cipher, minCipher, receiverMin, expected] of cases) {
    const init = initiator({ cipher, minCipher });
    const r = outcomeOf(responder({ minCipher: receiverMin }).onHello(init.hello()));
    const o = successOf(init.onReply(r.reply));
    assert.equal(o.peer.cipher, expected, `${cipher}/${minCipher} → ${receiverMin}`);
    assert.equal(r.outcome.peer.cipher, expected);
    assert.equal(o.protection.overhead, expected === "none" ? 4 : 16);
  }
});

test("no acceptable cipher: CIPHER_REJECTED on both sides", () => {
  const cases: Array<
    [
      offers: Array<"none" | "chacha20-poly1305" | "aes-256-gcm">,
      receiverMin: "chacha20-poly1305" | "aes-256-gcm",
    ]
  > = [
    [["chacha20-poly1305"], "aes-256-gcm"],
    [["none"], "chacha20-poly1305"],
    [["none"], "aes-256-gcm"],
  ];
  for (const [ciphers, minCipher] of cases) {
    const init = initiator({ ciphers, minCipher: "none" });
    const f = failureOf(responder({ minCipher }).onHello(init.hello()));
    assert.equal(f.error, "CIPHER_REJECTED");
    const g = failureOf(init.onReply(f.reply!));
    assert.equal(g.error, "CIPHER_REJECTED");
    assert.match(g.message, new RegExp(minCipher));
  }
  // An offer below the sender's own minimum is never made.
  const strict = initiator({ ciphers: ["none", "chacha20-poly1305"], minCipher: "chacha20-poly1305" });
  const r = outcomeOf(responder({ minCipher: "none" }).onHello(strict.hello()));
  assert.equal(r.outcome.peer.cipher, "chacha20-poly1305");
});

test("plain and Noise ends: refused with a reason, never misread", () => {
  const plainHello = new PlainHandshakeInitiator(SENDER, 1400).hello();
  assert.equal(failureOf(responder().onHello(plainHello)).error, "ENCRYPTION_REQUIRED");
  const plain = outcomeOf(responder({ minCipher: "none" }).onHello(plainHello));
  assert.equal(plain.outcome.peer.cipher, "none");
  assert.equal(plain.outcome.peer.publicKey, null);
  const f = failureOf(new PlainHandshakeResponder(RECEIVER, 1400).onHello(initiator().hello()));
  assert.equal(f.error, "CIPHER_REJECTED");
});

test("random, truncated or altered handshake messages are dropped without changing state", () => {
  const resp = responder();
  for (let i = 0; i < 300; i++) {
    const junk = randomBytes(i % 3 === 0 ? i : 200);
    if (i % 3 === 1) junk[0] = 0x01 + (i % 2); // looks like IK or IX
    const f = failureOf(resp.onHello(junk));
    if (f.error === "KEY_MISMATCH") continue; // an IK byte with a foreign key hint: answered, no session
    assert.ok(f.drop, `junk ${i}: ${f.error}`);
  }
  for (const init of [initiator(), initiator({ peerPublicKey: null })]) {
    const hello = init.hello();
    // Every single-byte alteration of the hello (after the hint) is dropped.
    for (let i = hello[0] === 0x01 ? 9 : 1; i < hello.length; i += 7) {
      const bad = Uint8Array.from(hello);
      bad[i]! ^= 0x40;
      const f = responder().onHello(bad);
      if (hello[0] === 0x02 && !("error" in f)) {
        // IX carries its first payload in the clear, bound by the transcript: the altered
        // hello gets a reply, but the initiator will not accept it.
        assert.ok(failureOf(init.onReply(f.reply)).drop);
        continue;
      }
      assert.ok(failureOf(f).drop, `byte ${i}`);
    }
    const genuine = outcomeOf(responder().onHello(hello));
    // Junk, truncated and altered replies first: each dropped, and the genuine reply still works.
    for (let i = 0; i < 100; i++) assert.ok(failureOf(init.onReply(randomBytes(i * 3))).drop);
    for (let n = 0; n < genuine.reply.length; n += 5)
      assert.ok(failureOf(init.onReply(genuine.reply.subarray(0, n))).drop);
    for (let i = 0; i < genuine.reply.length; i += 3) {
      const bad = Uint8Array.from(genuine.reply);
      bad[i]! ^= 1;
      assert.ok(failureOf(init.onReply(bad)).drop, `reply byte ${i}`);
    }
    const o = successOf(init.onReply(genuine.reply));
    assert.ok(roundTrip(o.protection, genuine.outcome.protection, 0));
  }
});

test("mismatched key pairs and unusable public keys are refused when an endpoint is made", () => {
  const config = { ...DEFAULT_CONNECTION_CONFIG };
  const local = { serverId: null, serverUid: null };
  const mismatched = { publicKey: generateKeyPair().publicKey, privateKey: receiverKeys.privateKey };
  assert.throws(
    () => new ReceiverEndpoint({ config, local, security: { keyPair: mismatched } }),
    KeyFormatError,
  );
  const randomBytes = (n: number) => new Uint8Array(n);
  assert.throws(
    () => new SenderEndpoint({ config, local, randomBytes, security: { keyPair: mismatched } }),
    KeyFormatError,
  );
  const lowOrder = new Uint8Array(32); // the point 0
  assert.throws(
    () =>
      new SenderEndpoint({
        config,
        local,
        randomBytes,
        security: { keyPair: senderKeys, peerPublicKey: lowOrder },
      }),
    /low-order/,
  );
  assert.throws(() => decodePublicKey(encodePublicKey(lowOrder)), /low-order/);
});

test("the smaller key rotation interval of the two ends applies in both directions", () => {
  for (const [mine, theirs] of [
    [1000, 64],
    [64, 1000],
  ] as const) {
    const init = initiator({ keyRotationPackets: mine });
    const r = outcomeOf(responder({ keyRotationPackets: theirs }).onHello(init.hello()));
    const o = successOf(init.onReply(r.reply));
    assert.equal((o.protection as AeadProtection).rotationPackets, 64);
    assert.equal((r.outcome.protection as AeadProtection).rotationPackets, 64);
  }
});
