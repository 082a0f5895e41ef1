import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { encodePublicKey, generateKeyPair, keysEqual } from "../../../src/core/crypto/keys.js";
import { receiverSessionStats, senderStats } from "../../../src/core/endpoint/stats.js";
import { encodeHandshakeFrame } from "../../../src/core/wire/frames.js";
import { HEADER_SIZE, PacketType, writeHeader } from "../../../src/core/wire/packet.js";
import { ChecksumProtection } from "../../../src/core/wire/protection.js";
import { Harness } from "./harness.js";

const senderKeys = generateKeyPair();
const receiverKeys = generateKeyPair();

/** a checksum-valid datagram of `type` for `sessionId` whose handshake frame is random bytes */
function junkHandshake(type: PacketType, sessionId: string, size: number): Uint8Array {
  const frame = encodeHandshakeFrame(randomBytes(size));
  const buf = new Uint8Array(HEADER_SIZE + frame.length + 4);
  writeHeader(buf, { version: 1, type, sessionId, packetNumber: 0 });
  buf.set(frame, HEADER_SIZE);
  return buf.subarray(0, new ChecksumProtection().seal(buf, HEADER_SIZE, HEADER_SIZE + frame.length));
}

function randomHeaderPacket(type: PacketType, sessionId: string, size: number): Uint8Array {
  const buf = randomBytes(size);
  writeHeader(buf, { version: 1, type, sessionId, packetNumber: buf.readUIntBE(10, 3) });
  return buf;
}

test("encrypted transfer between endpoints: IK, sender and receiver see each other's keys", () => {
  const content = randomBytes(200_000);
  const h = new Harness(
    { keyPair: senderKeys, peerPublicKey: receiverKeys.publicKey },
    { keyPair: receiverKeys },
    content,
  );
  h.addTransfer();
  h.run(20_000_000, () => h.transferDone());
  assert.ok(h.senderEvents.some((e) => e.type === "transferComplete"));
  assert.ok(h.receivedContent().equals(content));
  const stats = senderStats(h.sender);
  assert.equal(stats.state, "connected");
  assert.equal(stats.cipher, "aes-256-gcm");
  assert.equal(stats.encryptionEnabled, true);
  assert.equal(stats.peerPublicKey, encodePublicKey(receiverKeys.publicKey));
  assert.equal(stats.peerKeyLearned, false);
  assert.equal(stats.protocolVersion, 1);
  assert.equal(stats.peerServerUid, "d".repeat(32));
  const [session] = h.receiver.sessionIds();
  const r = receiverSessionStats(h.receiver, session!)!;
  assert.equal(r.peerPublicKey, encodePublicKey(senderKeys.publicKey));
  assert.equal(r.cipher, "aes-256-gcm");
  assert.equal(r.peerServerUid, "b".repeat(32));
  const opened = h.receiverEvents.find((e) => e.type === "sessionOpened");
  assert.equal(
    opened?.type === "sessionOpened" && opened.peer.publicKey,
    encodePublicKey(senderKeys.publicKey),
  );
});

test("trust on first use: the key is learned, then required; a changed receiver key is refused", () => {
  const h = new Harness({ keyPair: senderKeys }, { keyPair: receiverKeys });
  assert.equal(senderStats(h.sender).peerPublicKey, null);
  assert.equal(senderStats(h.sender).encryptionEnabled, true, "configured to encrypt before any handshake");
  h.sender.connect(0);
  h.run(1_000_000, () => h.sender.state === "connected");
  const stats = senderStats(h.sender);
  assert.equal(stats.peerKeyLearned, true);
  assert.equal(stats.peerPublicKey, encodePublicKey(receiverKeys.publicKey));
  assert.ok(keysEqual(h.sender.peerPublicKey!, receiverKeys.publicKey));
  // The receiver comes back with another key: the sender's next handshake (IK) is refused.
  h.receiver = h.makeReceiver({ keyPair: generateKeyPair() });
  h.run(30_000_000, () => h.sender.lastError?.code === "KEY_MISMATCH");
  assert.equal(h.sender.lastError?.code, "KEY_MISMATCH");
  assert.notEqual(h.sender.state, "connected");
  assert.equal(h.rejected()[0]?.code, "KEY_MISMATCH");
  assert.equal(h.receiver.sessionCount, 0);
});

test("wrong pinned key: KEY_MISMATCH, and the receiver accepts no data", () => {
  const content = randomBytes(50_000);
  const h = new Harness(
    { keyPair: senderKeys, peerPublicKey: generateKeyPair().publicKey },
    { keyPair: receiverKeys },
    content,
  );
  h.addTransfer();
  h.run(5_000_000);
  assert.equal(h.sender.lastError?.code, "KEY_MISMATCH");
  assert.match(h.sender.lastError!.message, /different public key/);
  assert.ok(h.rejected().length > 0 && h.rejected().every((r) => r.code === "KEY_MISMATCH"));
  assert.equal(h.receiver.sessionCount, 0);
  assert.ok(!h.receiverEvents.some((e) => e.type === "transferRequest" || e.type === "write"));
  assert.equal(h.written.size, 0);
  assert.notEqual(senderStats(h.sender).state, "connected");
});

test("an unauthorised sender key: NOT_AUTHORIZED on both sides, no session", () => {
  const refused: Uint8Array[] = [];
  const h = new Harness(
    { keyPair: senderKeys, peerPublicKey: receiverKeys.publicKey },
    {
      keyPair: receiverKeys,
      authorize: (key) => {
        refused.push(key);
        return { code: "NOT_AUTHORIZED", message: "this key is not an authorised client" };
      },
    },
    randomBytes(1000),
  );
  h.addTransfer();
  h.run(3_000_000);
  assert.equal(h.sender.lastError?.code, "NOT_AUTHORIZED");
  assert.match(h.sender.lastError!.message, /authorised client/);
  assert.equal(h.rejected()[0]?.code, "NOT_AUTHORIZED");
  assert.ok(keysEqual(refused[0]!, senderKeys.publicKey));
  assert.equal(h.receiver.sessionCount, 0);
  assert.equal(h.written.size, 0);
});

test("CIPHER_REJECTED on both sides when no offer meets the receiver's minimum", () => {
  const h = new Harness(
    { keyPair: senderKeys, peerPublicKey: receiverKeys.publicKey, ciphers: ["none"], minCipher: "none" },
    { keyPair: receiverKeys, minCipher: "chacha20-poly1305" },
  );
  assert.equal(senderStats(h.sender).encryptionEnabled, false);
  h.sender.connect(0);
  h.run(1_000_000, () => h.sender.lastError !== null);
  assert.equal(h.sender.lastError?.code, "CIPHER_REJECTED");
  assert.equal(h.rejected()[0]?.code, "CIPHER_REJECTED");
});

test("lost handshake packets are retransmitted until the handshake completes", () => {
  let initials = 0;
  let replies = 0;
  const content = randomBytes(30_000);
  const h = new Harness({ keyPair: senderKeys, peerPublicKey: null }, { keyPair: receiverKeys }, content);
  h.toReceiver = (d) => (d[1] === PacketType.Initial && ++initials <= 2 ? [] : [d]);
  h.toSender = (d) => (d[1] === PacketType.Handshake && ++replies <= 2 ? [] : [d]);
  h.addTransfer();
  h.run(30_000_000, () => h.transferDone());
  assert.ok(h.senderEvents.some((e) => e.type === "transferComplete"));
  assert.ok(h.receivedContent().equals(content));
  assert.ok(h.initialsSent >= 5, `${h.initialsSent} initials`);
  assert.equal(h.receiver.sessionIds().length, 1, "retransmitted Initials reuse the session");
});

test("random bytes at every handshake step: no crash, no state change, dropped and counted", () => {
  const content = randomBytes(40_000);
  const h = new Harness(
    { keyPair: senderKeys, peerPublicKey: receiverKeys.publicKey },
    { keyPair: receiverKeys },
    content,
  );
  // Step 0: junk Initials for unknown sessions reach the receiver.
  for (let i = 0; i < 200; i++) {
    const session = randomBytes(8).toString("hex");
    h.receiver.handleDatagram(0, junkHandshake(PacketType.Initial, session, i), "10.9.9.9:1");
    h.receiver.handleDatagram(0, randomHeaderPacket(PacketType.Initial, session, 40 + i), "10.9.9.9:1");
    h.receiver.handleDatagram(0, randomBytes(i), "10.9.9.9:1");
  }
  assert.equal(h.receiver.sessionCount, 0);
  assert.ok(h.receiver.packetsInvalid >= 500, `${h.receiver.packetsInvalid}`);
  assert.ok(
    h.rejected().every((r) => r.code === "KEY_MISMATCH"),
    "only an IK-looking hello gets an answer",
  );
  for (let d = h.receiver.pollTransmit(0); d; d = h.receiver.pollTransmit(0));
  // Step 1: the sender's Initial is out; junk replies for its session arrive before the real one.
  h.addTransfer();
  const hello = h.sender.pollTransmit(0)!;
  const session = Buffer.from(hello.subarray(2, 10)).toString("hex");
  for (let i = 0; i < 200; i++) {
    h.sender.handleDatagram(0, junkHandshake(PacketType.Handshake, session, i));
    h.sender.handleDatagram(0, randomHeaderPacket(PacketType.Handshake, session, 40 + i));
    h.sender.handleDatagram(0, randomHeaderPacket(PacketType.Established, session, 40 + i));
  }
  assert.equal(h.sender.state, "negotiating");
  assert.equal(h.sender.lastError, null);
  assert.ok(h.sender.connection!.counters.packetsInvalid >= 600);
  h.receiver.handleDatagram(0, hello, "10.0.0.1:5000");
  // Step 2: the receiver's session exists; junk with its session id must not disturb it.
  for (let i = 0; i < 200; i++) {
    h.receiver.handleDatagram(0, junkHandshake(PacketType.Initial, session, i), "10.0.0.1:5000");
    h.receiver.handleDatagram(
      0,
      randomHeaderPacket(PacketType.Established, session, 40 + i),
      "10.0.0.1:5000",
    );
  }
  assert.equal(h.receiver.sessionCount, 1);
  const conn = h.receiver.session(session)!;
  assert.equal(conn.state, "established");
  assert.ok(conn.counters.packetsInvalid >= 200);
  // Then the genuine exchange goes on and the transfer completes.
  h.run(20_000_000, () => h.transferDone());
  assert.ok(h.senderEvents.some((e) => e.type === "transferComplete"));
  assert.ok(h.receivedContent().equals(content));
});

test("tampered, truncated and replayed packets are dropped and counted; the transfer completes intact", () => {
  const content = randomBytes(300_000);
  const h = new Harness(
    { keyPair: senderKeys, peerPublicKey: receiverKeys.publicKey },
    { keyPair: receiverKeys },
    content,
  );
  const seen: Uint8Array[] = [];
  let n = 0;
  h.toReceiver = (d) => {
    n++;
    if (d[1] !== PacketType.Established) return [d];
    seen.push(Uint8Array.from(d));
    const out = [d];
    if (n % 7 === 0) {
      const bad = Uint8Array.from(d);
      bad[HEADER_SIZE + (n % (d.length - HEADER_SIZE))]! ^= 0x10;
      out.unshift(bad);
    }
    if (n % 11 === 0) out.unshift(d.subarray(0, d.length - 1 - (n % 20)));
    if (n % 5 === 0) out.push(seen[Math.floor(seen.length / 2)]!); // an older packet, again
    return out;
  };
  h.toSender = (d) => (d[1] === PacketType.Established ? [d, d] : [d]);
  h.addTransfer();
  h.run(30_000_000, () => h.transferDone());
  assert.ok(h.senderEvents.some((e) => e.type === "transferComplete"));
  assert.ok(h.receivedContent().equals(content), "byte-identical");
  const r = receiverSessionStats(h.receiver, h.receiver.sessionIds()[0]!)!;
  assert.ok(r.protection!.unauthentic >= 10, JSON.stringify(r.protection));
  assert.ok(r.protection!.replayed >= 10, JSON.stringify(r.protection));
  assert.ok(r.counters.packetsInvalid >= r.protection!.unauthentic + r.protection!.replayed);
  const s = senderStats(h.sender);
  assert.ok(s.protection!.replayed > 0, "duplicated ACKs are refused by the sender too");
});
