import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer } from "../../src/sim/transfer/run-transfer.js";
import { senderStats } from "../../src/core/endpoint/stats.js";

test("sender statistics come from the live connection and agree with the path", () => {
  const r = runSimTransfer({
    seed: "stats",
    rateMbit: 50,
    rttMs: 80,
    lossPct: 2,
    files: [{ size: 3_000_000 }],
    method: "adaptive",
  });
  assert.equal(r.outcome, "complete");
  const st = senderStats(r.sender.endpoint);
  assert.equal(st.state, "connected");
  assert.equal(st.rateControllerActive, true);
  assert.equal(st.cipher, "none");
  assert.equal(st.protocolVersion, 1);
  assert.equal(st.peerServerUid, "d".repeat(32));
  // RTT: the path's 80 ms plus at most a bounded queue and ACK delay
  assert.ok(st.smoothedRtt! >= 80_000 && st.smoothedRtt! < 200_000, `smoothed ${st.smoothedRtt}`);
  assert.ok(st.minRtt! >= 80_000 && st.minRtt! < 90_000, `min ${st.minRtt}`);
  // the bottleneck estimate is within 25 % of the 50 Mbit/s link
  const est = (st.bottleneckEstimate! * 8) / 1e6;
  assert.ok(est > 37.5 && est < 62.5, `estimate ${est} Mbit/s`);
  // loss rate near the configured 2 % (plus start-up overflow), and every loss was retransmitted
  assert.ok(st.lossRate > 0.01 && st.lossRate < 0.2, `loss rate ${st.lossRate}`);
  assert.equal(st.counters.dataPacketsRetransmitted >= st.counters.dataPacketsLost, true);
  assert.ok(st.counters.lastRecvTime! > 0 && st.counters.lastSendTime! > 0);
  assert.ok(st.counters.bytesSent > 3_000_000 && st.counters.packetsRecv > 0);
  const progress = r.sender.endpoint.activeTransfers.length;
  assert.equal(progress, 0, "the finished transfer is no longer active");
});

test("a fixed-rate sender reports an inactive controller and paces at its rate", () => {
  const r = runSimTransfer({
    seed: "fixed",
    rateMbit: 100,
    rttMs: 20,
    files: [{ size: 2_000_000 }],
    method: "fixed",
    sendRateMbit: 40,
  });
  const st = senderStats(r.sender.endpoint);
  assert.equal(st.rateControllerActive, false);
  assert.equal(Math.round((st.pacingRate! * 8) / 1e6), 40);
  // 2 MB at 40 Mbit/s takes at least 0.4 s: the pacer held the rate on a faster link
  assert.ok(r.duration >= 400_000, `duration ${r.duration}`);
});
