import { test } from "node:test";
import assert from "node:assert/strict";
import { SentPackets, type SentPacket } from "../../src/core/transport/sent-packets.js";

function packet(pn: number, sentTime: number): SentPacket {
  return {
    pn,
    sentTime,
    size: 1000,
    ackEliciting: true,
    inFlight: true,
    delivery: null,
    dataTransfer: 1,
    dataFile: 0,
    dataBlock: pn,
    controlOffset: 0,
    controlLength: 0,
    acked: false,
    lost: false,
  };
}

test("a packet is lost once a packet 3 numbers later is acknowledged", () => {
  const s = new SentPackets();
  for (let pn = 0; pn < 10; pn++) s.onSent(packet(pn, pn * 100));
  assert.equal(s.bytesInFlight, 10_000);
  const r1 = s.onAck(2000, [[1, 3]], 100_000, 100_000)!;
  assert.deepEqual(
    r1.newlyAcked.map((p) => p.pn),
    [1, 2],
  );
  assert.deepEqual(r1.lost, [], "only two later packets acknowledged: not yet lost");
  assert.notEqual(s.lossTime, null, "a loss timer waits for the time threshold");
  const r2 = s.onAck(2100, [[1, 4]], 100_000, 100_000)!;
  assert.deepEqual(
    r2.lost.map((p) => p.pn),
    [0],
  );
  assert.equal(s.bytesInFlight, 6000);
});

test("a packet is lost by time once 9/8 RTT passed and a later one was acknowledged", () => {
  const s = new SentPackets();
  s.onSent(packet(0, 0));
  s.onSent(packet(1, 10));
  const r = s.onAck(1000, [[1, 2]], 1000, 1000)!;
  assert.deepEqual(r.lost, []);
  assert.equal(s.lossTime, 1125);
  assert.deepEqual(s.detectLost(1124, 1000, 1000), []);
  assert.deepEqual(
    s.detectLost(1125, 1000, 1000).map((p) => p.pn),
    [0],
  );
});

test("an ACK for a packet number never sent is refused", () => {
  const s = new SentPackets();
  for (let pn = 0; pn < 3; pn++) s.onSent(packet(pn, 0));
  assert.equal(s.onAck(10, [[0, 50]], 100, 100), null);
  assert.equal(s.bytesInFlight, 3000, "nothing changed");
});

test("a late ACK for a packet already declared lost does not count twice", () => {
  const s = new SentPackets();
  for (let pn = 0; pn < 5; pn++) s.onSent(packet(pn, 0));
  const r1 = s.onAck(10, [[1, 5]], 100, 100)!;
  assert.deepEqual(
    r1.lost.map((p) => p.pn),
    [0],
  );
  const r2 = s.onAck(20, [[0, 5]], 100, 100)!;
  assert.deepEqual(r2.newlyAcked, []);
  assert.equal(s.bytesInFlight, 0);
});
