/**
 * `npm run bench -- crypto [--packets N] [--runs 5] [--size 1400] [--json]`: the per-packet cost of
 * the packet protection, through the same AeadProtection/ChecksumProtection the connection uses:
 * seal (sender) and open (receiver) of full-size datagrams, median of --runs. One core, one thread;
 * "Gbit/s" counts whole datagrams, and a side (sender or receiver) pays only its own half.
 * Each AEAD runs on every backend that has it (node:crypto; sodium-native and the project's native
 * addon, openssl-native, when installed and built); `none` uses the addon's CRC-32C when built. And
 * "empty seal" is the cost of sealing a packet with no payload: the fixed per-packet part.
 * Times are the process's CPU time (user + system), so other load on the machine counts little.
 */
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { AeadProtection } from "../src/core/crypto/aead-protection.js";
import {
  nodeCryptoBackend,
  opensslNativeBackend,
  sodiumNativeBackend,
  type AeadBackend,
} from "../src/core/crypto/aead-backends.js";
import { NoiseInitiator, NoiseResponder } from "../src/core/crypto/noise-handshake.js";
import { generateKeyPair } from "../src/core/crypto/keys.js";
import { isFailure } from "../src/core/transport/handshake.js";
import { ChecksumProtection, type PacketProtection } from "../src/core/wire/protection.js";
import { HEADER_SIZE, PacketType, writeHeader } from "../src/core/wire/packet.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Figures {
  usPerPacket: number;
  packetsPerSecond: number;
  gbitPerSecond: number;
}

function cpuNanosSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) * 1000;
}

function figures(ns: number, packets: number, size: number): Figures {
  const us = ns / 1000 / packets;
  return { usPerPacket: us, packetsPerSecond: 1e6 / us, gbitPerSecond: (size * 8) / us / 1000 };
}

function measure(
  make: () => [PacketProtection, PacketProtection],
  packets: number,
  size: number,
): { seal: number; open: number } {
  const [sender, receiver] = make();
  const payload = randomBytes(size);
  const bufs: Buffer[] = [];
  for (let pn = 0; pn < packets; pn++) {
    const buf = Buffer.allocUnsafe(size);
    payload.copy(buf, HEADER_SIZE, HEADER_SIZE, size - sender.overhead);
    writeHeader(buf, {
      version: 1,
      type: PacketType.Established,
      sessionId: "0123456789abcdef",
      packetNumber: pn,
    });
    bufs.push(buf);
  }
  const sealed: Uint8Array[] = new Array<Uint8Array>(packets);
  let t = process.cpuUsage();
  for (let pn = 0; pn < packets; pn++) {
    sealed[pn] = bufs[pn]!.subarray(0, sender.seal(bufs[pn]!, HEADER_SIZE, size - sender.overhead, pn));
  }
  const seal = cpuNanosSince(t);
  t = process.cpuUsage();
  for (let pn = 0; pn < packets; pn++) {
    if (receiver.open(sealed[pn]!, HEADER_SIZE, pn) === null) throw new Error(`packet ${pn} did not open`);
  }
  return { seal, open: cpuNanosSince(t) };
}

function handshakesPerSecond(count: number): number {
  const client = generateKeyPair();
  const server = generateKeyPair();
  const local = { serverId: null, serverUid: null };
  const t = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const init = new NoiseInitiator(
      { keyPair: client, peerPublicKey: server.publicKey },
      local,
      1400,
      "0011223344556677",
    );
    const r = new NoiseResponder({ keyPair: server }, local, 1400, "0011223344556677").onHello(init.hello());
    if (isFailure(r) || isFailure(init.onReply(r.reply))) throw new Error("handshake failed");
  }
  return count / (Number(process.hrtime.bigint() - t) / 1e9);
}

export function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      packets: { type: "string", default: "50000" },
      runs: { type: "string", default: "5" },
      size: { type: "string", default: "1400" },
      json: { type: "boolean", default: false },
    },
  });
  const packets = Number(values.packets);
  const runs = Math.max(1, Number(values.runs));
  const size = Number(values.size);
  const secrets = [randomBytes(32), randomBytes(32)] as const;
  type Pair = () => [PacketProtection, PacketProtection];
  const backends = [nodeCryptoBackend, sodiumNativeBackend, opensslNativeBackend].filter(
    (b): b is AeadBackend => b !== null,
  );
  const cases: Array<[string, Pair]> = [
    ["none (CRC-32C)", () => [new ChecksumProtection(), new ChecksumProtection()]],
  ];
  for (const c of ["aes-256-gcm", "chacha20-poly1305"] as const) {
    for (const b of backends.filter((x) => x.supports(c))) {
      cases.push([
        `${c} (${b.name})`,
        () => [
          new AeadProtection(c, secrets[0], secrets[1], undefined, undefined, b),
          new AeadProtection(c, secrets[1], secrets[0], undefined, undefined, b),
        ],
      ]);
    }
  }
  const results: Record<string, { seal: Figures; open: Figures; both: Figures; emptySealUs: number }> = {};
  const emptySize = HEADER_SIZE + 16;
  for (const [name, make] of cases) {
    measure(make, Math.min(packets, 5000), size); // warm-up
    const samples = Array.from({ length: runs }, () => measure(make, packets, size));
    const seal = median(samples.map((s) => s.seal));
    const open = median(samples.map((s) => s.open));
    const both = median(samples.map((s) => s.seal + s.open));
    const empty = median(Array.from({ length: runs }, () => measure(make, packets, emptySize).seal));
    results[name] = {
      seal: figures(seal, packets, size),
      open: figures(open, packets, size),
      both: figures(both, packets, size),
      emptySealUs: empty / 1000 / packets,
    };
  }
  const handshakes = handshakesPerSecond(200);
  if (values.json) {
    console.log(
      JSON.stringify({ scenario: { packets, runs, size }, results, handshakesPerSecond: handshakes }),
    );
    return;
  }
  console.log(
    `crypto: ${size}-byte datagrams, ${packets} packets per run, median of ${runs}, one core (node ${process.version})`,
  );
  const f = (x: Figures) =>
    `${x.usPerPacket.toFixed(2).padStart(6)} µs  ${(x.packetsPerSecond / 1000).toFixed(0).padStart(5)} k/s  ${x.gbitPerSecond.toFixed(2).padStart(5)} Gbit/s`;
  for (const [name, r] of Object.entries(results)) {
    console.log(`  ${name}`);
    console.log(`    seal       ${f(r.seal)}`);
    console.log(`    open       ${f(r.open)}`);
    console.log(`    seal+open  ${f(r.both)}`);
    console.log(`    empty seal ${r.emptySealUs.toFixed(2).padStart(6)} µs`);
  }
  console.log(`  IK handshakes (both ends, one core): ${handshakes.toFixed(0)} /s`);
}
