/**
 * The protocol core over the deterministic simulator, 200 seeds per run: random loss up to 30 %,
 * bursty loss, reordering, duplication, corruption, partitions up to 30 s, lossy ACK paths.
 * Every file must arrive byte-identical, nothing may be written twice, every transfer must end.
 * Every scenario runs twice: once with the CRC-32C trailer (`none`) and once encrypted (Noise
 * handshake, per-packet AEAD), the cipher, IK or IX, and the key rotation interval drawn per seed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSimTransfer, type SimFile, type SimScenario } from "../../src/sim/transfer/run-transfer.js";
import { gilbertElliott } from "../../src/sim/loss.js";
import { Random } from "../../src/core/util/random.js";
import { senderStats } from "../../src/core/endpoint/stats.js";

const SEEDS = 200;
const KINDS = [
  "loss",
  "bursty",
  "reorder",
  "duplicate",
  "corrupt",
  "partition",
  "longPartition",
  "everything",
] as const;

/**
 * Drawn from its own generator so the unencrypted scenarios stay the same. A quarter of the seeds
 * rotate keys every few hundred packets, so rotation meets loss, reordering and partitions.
 */
function encryption(seed: number): NonNullable<SimScenario["encryption"]> {
  const rng = new Random(`encryption-${seed}`);
  return {
    cipher: rng.chance(0.5) ? "aes-256-gcm" : "chacha20-poly1305",
    pinned: !rng.chance(0.25),
    ...(rng.chance(0.25) ? { keyRotationPackets: 64 + rng.int(512) } : {}),
  };
}

function scenario(seed: number): { kind: (typeof KINDS)[number]; s: SimScenario } {
  const rng = new Random(`scenario-${seed}`);
  const kind = KINDS[seed % KINDS.length]!;
  const files: SimFile[] = [];
  const count = 1 + rng.int(6);
  for (let i = 0; i < count; i++) {
    const pick = rng.int(5);
    files.push({ size: pick === 0 ? 0 : pick === 1 ? 1 : rng.int(150_000), path: `d${i % 2}/f${i}` });
  }
  if (rng.chance(0.3)) files.push({ size: 0, directory: true, path: "empty-dir" });
  const s: SimScenario = {
    seed,
    rateMbit: 10 + rng.int(40),
    rttMs: 10 + rng.int(150),
    files,
    keepContent: true,
    peerTimeoutMs: 10_000,
    timeLimitS: 900,
    method: (["adaptive", "adaptive", "fair", "fixed", "background"] as const)[rng.int(5)],
  };
  switch (kind) {
    case "loss":
      s.lossPct = rng.uniform(0, 30);
      break;
    case "bursty":
      s.loss = gilbertElliott({ pGoodToBad: 0.01, pBadToGood: 0.2, lossInGood: 0.001, lossInBad: 0.6 });
      break;
    case "reorder":
      s.lossPct = rng.uniform(0, 3);
      s.forward = { reorderProb: 0.05, reorderDelay: 5000 };
      break;
    case "duplicate":
      s.forward = { duplicateProb: 0.05 };
      s.reverse = { duplicateProb: 0.05 };
      break;
    case "corrupt":
      s.forward = { corruptProb: 0.03 };
      s.reverse = { corruptProb: 0.03 };
      break;
    case "partition": {
      const start = 50_000 + rng.int(500_000);
      s.forward = { partitions: [{ start, end: start + 1_000_000 + rng.int(8_000_000) }] };
      break;
    }
    case "longPartition": {
      // Longer than the 10 s peer timeout: the session is lost, then re-established and resumed.
      const start = 50_000 + rng.int(300_000);
      const both = [{ start, end: start + 30_000_000 }];
      s.forward = { partitions: both };
      s.reverse = { partitions: both };
      break;
    }
    case "everything":
      s.lossPct = rng.uniform(0, 10);
      s.reverseLossPct = rng.uniform(0, 5);
      s.forward = {
        reorderProb: 0.02,
        reorderDelay: 3000,
        duplicateProb: 0.02,
        corruptProb: 0.01,
        jitter: 2000,
      };
      s.reverse = { duplicateProb: 0.02, corruptProb: 0.01 };
      break;
  }
  return { kind, s };
}

function runSeeds(encrypted: boolean): void {
  const failures: string[] = [];
  const seen = new Set<string>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const { kind, s } = scenario(seed);
    const enc = encrypted ? encryption(seed) : undefined;
    if (enc) s.encryption = enc;
    const r = runSimTransfer(s);
    seen.add(kind);
    const cipher = enc
      ? `${enc.cipher}, ${enc.pinned ? "IK" : "IX"}${enc.keyRotationPackets ? `, rotation ${enc.keyRotationPackets}` : ""}`
      : "none";
    const label = `seed ${seed} (${kind}, ${cipher}, ${s.method}, ${s.files.length} files, ${s.rateMbit} Mbit/s, ${s.rttMs} ms)`;
    const expectFiles = s.files.filter((f) => !f.directory).length;
    if (r.outcome !== "complete") failures.push(`${label}: ${r.outcome} ${JSON.stringify(r.senderError)}`);
    else if (r.receiverOutcome !== "complete") failures.push(`${label}: receiver ${r.receiverOutcome}`);
    else if (r.filesVerified !== expectFiles || r.filesMismatched !== 0) {
      failures.push(`${label}: verified ${r.filesVerified}/${expectFiles}, mismatched ${r.filesMismatched}`);
    } else if (r.overwrittenBytes !== 0) failures.push(`${label}: ${r.overwrittenBytes} bytes written twice`);
    if (enc && r.outcome === "complete" && senderStats(r.sender.endpoint).cipher !== enc.cipher) {
      failures.push(`${label}: ran with ${senderStats(r.sender.endpoint).cipher}`);
    }
    const partitionStart = s.forward?.partitions?.[0]?.start ?? Infinity;
    if (kind === "longPartition" && r.outcome === "complete" && r.duration > partitionStart + 10_000_000) {
      const lost = r.sender.events.some((e) => e.type === "disconnected" && e.code === "TIMEOUT");
      if (!lost) failures.push(`${label}: a 30 s partition did not surface as a TIMEOUT`);
    }
    if (kind === "corrupt" && r.forward.corrupted > 0) {
      const invalid = r.receiver.endpoint.totalInvalid() + r.sender.endpoint.totals().packetsInvalid;
      if (invalid === 0) failures.push(`${label}: corrupted datagrams were not counted as invalid`);
    }
  }
  assert.equal(seen.size, KINDS.length);
  assert.deepEqual(failures, []);
}

test(`${SEEDS} simulated transfers over hostile paths arrive byte-identical`, () => runSeeds(false));

test(`${SEEDS} encrypted simulated transfers over hostile paths arrive byte-identical`, () => runSeeds(true));
