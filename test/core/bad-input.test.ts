/**
 * Hostile datagrams at the endpoints: random bytes, wrong versions, truncated headers, bad
 * checksums, garbage handshakes, and a well-formed ACK naming packets never sent. Each is dropped
 * and counted; nothing throws and no state is created or corrupted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CONNECTION_CONFIG } from "../../src/core/transport/connection.js";
import { SenderEndpoint } from "../../src/core/endpoint/sender.js";
import { ReceiverEndpoint } from "../../src/core/endpoint/receiver.js";
import { HEADER_SIZE, PacketType, writeHeader } from "../../src/core/wire/packet.js";
import { FrameType, writeAckFrame } from "../../src/core/wire/frames.js";
import { ChecksumProtection } from "../../src/core/wire/protection.js";
import { Random } from "../../src/core/util/random.js";

const config = { ...DEFAULT_CONNECTION_CONFIG };
const local = { serverId: null, serverUid: null };

function sealed(type: PacketType, sessionId: string, pn: number, frames: Uint8Array): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE + frames.length + 4);
  writeHeader(buf, { version: 1, type, sessionId, packetNumber: pn });
  buf.set(frames, HEADER_SIZE);
  return buf.subarray(0, new ChecksumProtection().seal(buf, HEADER_SIZE, HEADER_SIZE + frames.length));
}

test("random, truncated, wrong-version and badly checksummed datagrams are counted, never thrown", () => {
  const rx = new ReceiverEndpoint({ config, local });
  const rng = new Random("garbage");
  let sent = 0;
  for (let i = 0; i < 5000; i++) {
    const len = rng.int(1600);
    const d = Uint8Array.from({ length: len }, () => rng.int(256));
    if (i % 3 === 0 && len > 2) d[0] = 1; // a valid version, so parsing goes deeper
    if (i % 5 === 0 && len > 2) d[1] = PacketType.Initial;
    rx.handleDatagram(i, d, `10.0.0.${i % 250}:${1000 + (i % 7)}`);
    sent++;
  }
  // A well-formed Initial whose handshake payload is garbage.
  const garbageHello = Uint8Array.of(FrameType.Handshake, 3, 0xff, 0xfe, 0xfd);
  rx.handleDatagram(9999, sealed(PacketType.Initial, "0123456789abcdef", 0, garbageHello), "10.0.0.1:1");
  assert.equal(rx.sessionCount, 0, "no session was created");
  assert.ok(rx.totalInvalid() >= sent * 0.9, `${rx.totalInvalid()} of ${sent + 1} counted invalid`);
  // Answers are only rate-limited resets and handshake refusals, never session traffic.
  for (let out = rx.pollTransmit(10_000); out; out = rx.pollTransmit(10_000)) {
    assert.ok(out.datagram[1] === PacketType.Reset || out.datagram[1] === PacketType.Handshake);
  }
});

test("a checksummed ACK for packets never sent is dropped and counted; the session carries on", () => {
  const rng = new Random("ids");
  const tx = new SenderEndpoint({
    config,
    local,
    randomBytes: (n) => Uint8Array.from({ length: n }, () => rng.int(256)),
  });
  const rx = new ReceiverEndpoint({ config, local });
  tx.connect(0);
  const initial = tx.pollTransmit(0)!;
  rx.handleDatagram(1000, initial, "10.0.0.1:5000");
  for (let out = rx.pollTransmit(1000); out; out = rx.pollTransmit(1000))
    tx.handleDatagram(2000, out.datagram);
  assert.equal(tx.state, "connected");
  const sessionId = tx.connection!.sessionId;
  const ack = new Uint8Array(64);
  const end = writeAckFrame(ack, 0, {
    ackDelay: 0,
    ranges: [[0, 1_000_000]],
    receiveWindow: 1 << 20,
    rateCap: 0,
  });
  tx.handleDatagram(3000, sealed(PacketType.Established, sessionId, 50, ack.subarray(0, end)));
  assert.equal(tx.connection!.counters.acksInvalid, 1);
  assert.equal(tx.connection!.bytesInFlight, 0);
  // Random bytes and a packet for another session: counted, state unchanged.
  tx.handleDatagram(4000, Uint8Array.of(1, 2, 3));
  tx.handleDatagram(
    4000,
    sealed(PacketType.Established, "ffffffffffffffff", 1, Uint8Array.of(FrameType.Ping)),
  );
  assert.equal(tx.connection!.counters.packetsInvalid, 2);
  assert.equal(tx.state, "connected");
});
