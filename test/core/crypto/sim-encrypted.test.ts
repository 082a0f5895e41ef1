import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer, type SimScenario } from "../../../src/sim/transfer/run-transfer.js";
import { receiverSessionStats, senderStats } from "../../../src/core/endpoint/stats.js";
import { AeadProtection } from "../../../src/core/crypto/aead-protection.js";
import { HEADER_SIZE, PacketType } from "../../../src/core/wire/packet.js";

const BASE: SimScenario = {
  seed: "crypto",
  rateMbit: 50,
  rttMs: 20,
  lossPct: 0.5,
  files: [{ size: 2_000_000 }, { size: 70_001 }],
  keepContent: true,
  timeLimitS: 120,
};

function receiverProtection(r: ReturnType<typeof runSimTransfer>) {
  const re = r.receiver.endpoint;
  const stats = re.sessionIds().map((id) => receiverSessionStats(re, id)!);
  assert.equal(stats.length, 1);
  return stats[0]!;
}

for (const cipher of ["aes-256-gcm", "chacha20-poly1305"] as const) {
  test(`simulated ${cipher} transfer with corruption, duplication, truncation and replays completes intact`, () => {
    const seen: Uint8Array[] = [];
    let n = 0;
    const r = runSimTransfer({
      ...BASE,
      encryption: { cipher },
      forward: { corruptProb: 0.01, duplicateProb: 0.01, reorderProb: 0.01, reorderDelay: 3_000 },
      reverse: { duplicateProb: 0.02 },
      middlebox: (d) => {
        if (d[1] !== PacketType.Established) return [d];
        n++;
        seen.push(d);
        if (n % 97 === 0) return [d.subarray(0, HEADER_SIZE + (n % 50)), d];
        if (n % 89 === 0) return [d, seen[seen.length - 1 - (n % 1500)] ?? d];
        return [d];
      },
    });
    assert.equal(r.outcome, "complete", JSON.stringify(r.senderError));
    assert.equal(r.filesVerified, 2);
    assert.equal(r.filesMismatched, 0);
    const s = receiverProtection(r);
    assert.equal(s.cipher, cipher);
    assert.ok(s.protection!.unauthentic >= 10, `unauthentic ${s.protection!.unauthentic}`);
    assert.ok(s.protection!.replayed >= 10, `replayed ${s.protection!.replayed}`);
    assert.equal(senderStats(r.sender.endpoint).cipher, cipher);
  });
}

test("key rotation with a tiny interval: keys change many times and the transfer completes intact", () => {
  const r = runSimTransfer({
    ...BASE,
    encryption: { keyRotationPackets: 32 },
    forward: { reorderProb: 0.02, reorderDelay: 2_000 },
  });
  assert.equal(r.outcome, "complete");
  assert.equal(r.filesMismatched, 0);
  const sent = r.sender.endpoint.connection!.packetProtection;
  assert.ok(sent instanceof AeadProtection);
  assert.equal(sent.rotationPackets, 32);
  assert.ok(sent.stats.keyUpdates >= r.dataPacketsSent / 32 - 1, `${sent.stats.keyUpdates} updates`);
  const s = receiverProtection(r);
  assert.ok(s.protection!.keyUpdates > 0, "the receiver's ACK direction rotates too");
});

test("simulated trust-on-first-use transfer reports the learned key", () => {
  const r = runSimTransfer({
    ...BASE,
    files: [{ size: 300_000 }],
    encryption: { pinned: false, cipher: "chacha20-poly1305" },
  });
  assert.equal(r.outcome, "complete");
  const stats = senderStats(r.sender.endpoint);
  assert.equal(stats.peerKeyLearned, true);
  assert.equal(stats.peerPublicKey?.length, 43);
  assert.equal(stats.cipher, "chacha20-poly1305");
});

test("encryption keeps the block size: datagrams carry the same file bytes", () => {
  const plain = runSimTransfer({ ...BASE, files: [{ size: 500_000 }] });
  const encrypted = runSimTransfer({ ...BASE, files: [{ size: 500_000 }], encryption: {} });
  assert.equal(encrypted.outcome, "complete");
  assert.equal(encrypted.blockSize, plain.blockSize);
  assert.equal(encrypted.filesMismatched, 0);
});
