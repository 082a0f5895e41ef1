import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RateSample } from "../../src/core/congestion/controller.js";
import { DeliveryRateEstimator, type PacketDeliveryState } from "../../src/core/congestion/delivery-rate.js";

const MS = 1000;
const SIZE = 1000;

interface Sent {
  state: PacketDeliveryState;
  ackAt: number;
}

/**
 * Sends a packet every `sendGap` µs; packet i is acknowledged (one ACK per packet) at
 * max(send + rtt, previous ACK + ackGap), i.e. through a bottleneck of SIZE / ackGap.
 */
function pacedStream(count: number, sendGap: number, ackGap: number, rtt: number): RateSample[] {
  const est = new DeliveryRateEstimator();
  const inFlight: Sent[] = [];
  const samples: RateSample[] = [];
  let bytesInFlight = 0;
  let lastAck = -Infinity;
  let sendIndex = 0;
  for (;;) {
    const nextSend = sendIndex < count ? sendIndex * sendGap : Infinity;
    const nextAck = inFlight[0]?.ackAt ?? Infinity;
    if (nextSend === Infinity && nextAck === Infinity) break;
    if (nextSend < nextAck) {
      const state = est.onPacketSent(nextSend, SIZE, bytesInFlight);
      bytesInFlight += SIZE;
      lastAck = Math.max(nextSend + rtt, lastAck + ackGap);
      inFlight.push({ state, ackAt: lastAck });
      sendIndex++;
    } else {
      const p = inFlight.shift()!;
      bytesInFlight -= SIZE;
      est.onPacketAcked(p.ackAt, p.state);
      const s = est.generateSample(p.ackAt, rtt);
      assert.ok(s);
      samples.push(s);
    }
  }
  return samples;
}

describe("DeliveryRateEstimator", () => {
  it("measures a steady paced stream at its sending rate", () => {
    // 1000 bytes every 1 ms = 1,000,000 B/s; the path is faster
    const samples = pacedStream(500, 1 * MS, 0.1 * MS, 50 * MS);
    const late = samples.slice(100);
    for (const s of late) {
      assert.ok(Math.abs(s.deliveryRate - 1_000_000) < 20_000, `rate ${s.deliveryRate}`);
      assert.equal(s.isAppLimited, false);
    }
  });

  it("measures the bottleneck (ACK rate) when sending faster than the path", () => {
    // send at 4 MB/s, ACKs spaced by a 1 MB/s bottleneck
    const samples = pacedStream(600, 0.25 * MS, 1 * MS, 20 * MS);
    const late = samples.slice(200);
    for (const s of late) assert.ok(Math.abs(s.deliveryRate - 1_000_000) < 30_000, `rate ${s.deliveryRate}`);
  });

  it("caps a sample at the pacing rate its newest packet was sent at (a batched send, ACKs together)", () => {
    const est = new DeliveryRateEstimator();
    const pacing = 10 * 1_000_000; // bytes per second
    // 40 packets leave in one syscall and are acknowledged together 1 ms later
    const pkts = Array.from({ length: 40 }, (_, i) => est.onPacketSent(0, SIZE, i * SIZE, pacing));
    for (const p of pkts) est.onPacketAcked(1 * MS, p);
    const s = est.generateSample(1 * MS, 0.1 * MS);
    assert.ok(s);
    assert.equal(s.interval, 1 * MS);
    // 40 × SIZE in 1 ms would be far above what the sender paced
    assert.ok((s.delivered * 1e6) / s.interval > pacing);
    assert.equal(s.deliveryRate, pacing);
  });

  it("returns null when nothing new was acknowledged", () => {
    const est = new DeliveryRateEstimator();
    est.onPacketSent(0, SIZE, 0);
    assert.equal(est.generateSample(10 * MS, 10 * MS), null);
  });

  it("invalidates samples over an interval shorter than the min RTT but keeps round data", () => {
    const est = new DeliveryRateEstimator();
    const p = est.onPacketSent(0, SIZE, 0);
    est.onPacketAcked(50 * MS, p);
    const s = est.generateSample(50 * MS, 80 * MS);
    assert.ok(s);
    assert.equal(s.deliveryRate, 0);
    assert.equal(s.priorDelivered, 0);
    assert.equal(s.delivered, SIZE);
    assert.equal(s.rtt, 50 * MS);
  });

  it("does not count idle time when a new flight starts", () => {
    const est = new DeliveryRateEstimator();
    const a = est.onPacketSent(0, SIZE, 0);
    est.onPacketAcked(50 * MS, a);
    est.generateSample(50 * MS, 50 * MS);
    // idle for a second, then one packet
    const b = est.onPacketSent(1000 * MS, SIZE, 0);
    est.onPacketAcked(1050 * MS, b);
    const s = est.generateSample(1050 * MS, 50 * MS);
    assert.ok(s);
    assert.equal(s.interval, 50 * MS);
    assert.equal(s.deliveryRate, SIZE / 0.05);
  });

  it("uses the newest-sent packet of an ACK that covers several", () => {
    const est = new DeliveryRateEstimator();
    const pkts = [0, 1, 2, 3].map((i) => est.onPacketSent(i * MS, SIZE, i * SIZE));
    // one ACK frame for all four, reported out of order
    for (const p of [pkts[2]!, pkts[0]!, pkts[3]!, pkts[1]!]) est.onPacketAcked(40 * MS, p);
    const s = est.generateSample(40 * MS, 30 * MS);
    assert.ok(s);
    assert.equal(s.rtt, 37 * MS); // newest packet, sent at 3 ms
    assert.equal(s.delivered, 4 * SIZE);
    assert.equal(est.delivered, 4 * SIZE);
  });

  it("flags samples app-limited until the marked bytes are delivered", () => {
    const est = new DeliveryRateEstimator();
    let t = 0;
    const sendAckPair = (): RateSample => {
      const p = est.onPacketSent(t, SIZE, 0);
      t += 10 * MS;
      est.onPacketAcked(t, p);
      const s = est.generateSample(t, 10 * MS);
      assert.ok(s);
      return s;
    };
    assert.equal(sendAckPair().isAppLimited, false);
    assert.equal(est.isAppLimited, false);

    // nothing to send with two packets in flight
    const before = est.onPacketSent(t, SIZE, 0);
    const before2 = est.onPacketSent(t + MS, SIZE, SIZE);
    est.markAppLimited(2 * SIZE);
    assert.equal(est.isAppLimited, true);
    const during = est.onPacketSent(t + 2 * MS, SIZE, 2 * SIZE);
    assert.equal(before.isAppLimited, false);
    assert.equal(during.isAppLimited, true);

    est.onPacketAcked(t + 10 * MS, before);
    assert.equal(est.generateSample(t + 10 * MS, 10 * MS)?.isAppLimited, false);
    est.onPacketAcked(t + 11 * MS, before2);
    est.generateSample(t + 11 * MS, 10 * MS);
    assert.equal(est.isAppLimited, true); // the marked bytes are delivered, not yet passed
    est.onPacketAcked(t + 12 * MS, during);
    assert.equal(est.generateSample(t + 12 * MS, 10 * MS)?.isAppLimited, true); // sent while limited
    assert.equal(est.isAppLimited, false); // delivered passed the mark: the flag clears
    t += 20 * MS;
    assert.equal(sendAckPair().isAppLimited, false);
  });
});
