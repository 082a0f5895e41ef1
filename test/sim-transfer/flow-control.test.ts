import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer } from "../../src/sim/transfer/run-transfer.js";

test("a disk slower than the network sets the pace; buffered data stays within the receive window", () => {
  const r = runSimTransfer({
    seed: "slow-disk",
    rateMbit: 200,
    rttMs: 30,
    lossPct: 0.5,
    diskWriteMbit: 40,
    receiveBufferMiB: 2,
    files: [{ size: 20_000_000 }],
    keepContent: true,
  });
  assert.equal(r.outcome, "complete");
  assert.equal(r.filesMismatched, 0);
  assert.ok(r.receiver.peakPendingWrites <= 2 * 2 ** 20, `peak buffered ${r.receiver.peakPendingWrites} B`);
  // All but the last buffer-full must pass the 40 Mbit/s disk: at least (20 MB - 2 MiB) / 40 Mbit/s.
  // (The simulated receiver verifies from memory, so the last buffer-full need not reach the disk.)
  const diskBound = ((20_000_000 - 2 * 2 ** 20) * 8) / 40e6;
  assert.ok(r.duration / 1e6 >= diskBound, `finished in ${r.duration / 1e6} s, disk bound ${diskBound} s`);
  assert.ok(r.goodputBps > 0.8 * 40e6 && r.goodputBps < 50e6, `goodput ${r.goodputBps / 1e6} Mbit/s`);
});

test("jumbo datagrams: a 9000-byte datagram carries 8941-byte blocks and the transfer is intact", () => {
  const r = runSimTransfer({
    seed: "jumbo",
    rateMbit: 500,
    rttMs: 20,
    lossPct: 1,
    datagramSize: 9000,
    files: [{ size: 5_000_000 }, { size: 8941 }, { size: 8942 }],
    keepContent: true,
  });
  assert.equal(r.outcome, "complete");
  assert.equal(r.blockSize, 8941);
  assert.equal(r.filesVerified, 3);
  // every data packet carried a full jumbo block, except each file's last
  assert.ok(
    r.dataPacketsSent < ((5_000_000 + 2 * 8941) / 8941) * 1.1 + 10,
    `${r.dataPacketsSent} data packets`,
  );
});
