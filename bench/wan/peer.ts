/**
 * One side of one WAN-bench flow, run inside a namespace as its own process:
 *
 *   ip netns exec NS node dist/bench/wan/peer.js ROLE 'JSON options'
 *
 * Talks to the parent by JSON lines on stdout: `ready` (receivers, once listening), `progress`
 * (receivers, every 500 ms: bytes counted so far) and one `result`. Every side stops by itself at
 * its `deadline` (process.hrtime, which is CLOCK_MONOTONIC and so comparable across processes).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, connect, type Socket } from "node:net";
import UDX from "udx-native";
import { UdpReceiver } from "../../src/io/drivers/udp-receiver.js";
import { UdpSender } from "../../src/io/drivers/udp-sender.js";
import { Connection, type ConnectionConfig } from "../../src/core/transport/connection.js";
import { nowMs } from "./clock.js";
import {
  slipstreamReceiverSecurity,
  slipstreamSenderSecurity,
  type SlipstreamVariant,
} from "./slipstream-options.js";

export type PeerRole =
  "tcp-recv" | "tcp-send" | "udx-recv" | "udx-send" | "slip-recv" | "slip-send" | "echo" | "ping";

export interface PeerOptions {
  /** address this side binds */
  local: string;
  /** the other side's address */
  remote: string;
  port: number;
  file: string;
  size: number;
  sha256: string;
  /** monotonic ms at which this side gives up and reports what it has */
  deadlineMs: number;
  method?: ConnectionConfig["rateControlMethod"];
  variant?: SlipstreamVariant;
  /** scratch directory of a Slipstream receiver */
  root?: string;
  pings?: number;
}

/** Everything a side reports; fields a role does not know stay absent. */
export interface PeerResult {
  type: "result";
  /** monotonic ms: sender's start (before connecting) / receiver's last verified byte */
  startMs?: number;
  doneMs?: number;
  complete: boolean;
  verified: boolean;
  bytes: number;
  cpuSeconds: number;
  wallSeconds: number;
  dataPackets?: number;
  retransmittedPackets?: number;
  payloadPerPacket?: number;
  wirePerPacket?: number;
  rttsMs?: number[];
  trace?: SlipstreamTraceSample[];
  error?: string;
}

/** The Slipstream sender's state every 250 ms (t in ms from its start; packet counts cumulative). */
export interface SlipstreamTraceSample {
  t: number;
  pacingMbit: number;
  rttMs: number | null;
  rttMinMs: number | null;
  sent: number;
  retransmitted: number;
  lost: number;
  sendDrops: number;
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

const emit = (m: object): void => void process.stdout.write(JSON.stringify(m) + "\n");

/** CPU and wall time of this process from construction to `result()`. */
class Meter {
  private readonly cpu0 = process.cpuUsage();
  private readonly wall0 = nowMs();
  result(fields: Omit<PeerResult, "type" | "cpuSeconds" | "wallSeconds">): PeerResult {
    const cpu = process.cpuUsage(this.cpu0);
    return {
      type: "result",
      ...fields,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      wallSeconds: (nowMs() - this.wall0) / 1000,
    };
  }
}

function untilDeadline(o: PeerOptions): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, o.deadlineMs - nowMs())).unref());
}

function progressEvery500ms(count: () => number): NodeJS.Timeout {
  return setInterval(() => emit({ type: "progress", t: nowMs(), bytes: count() }), 500);
}

let finishing = false;
async function finish(result: PeerResult): Promise<void> {
  if (finishing) return;
  finishing = true;
  await new Promise<void>((resolve) => process.stdout.write(JSON.stringify(result) + "\n", () => resolve()));
  process.exit(0);
}

/** Counts and hashes an in-order byte stream; verified when all bytes arrived and the hash matches. */
class StreamCheck {
  readonly meter = new Meter();
  private readonly hash = createHash("sha256");
  bytes = 0;
  doneMs: number | undefined;
  constructor(private readonly o: PeerOptions) {}
  add(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    if (this.bytes >= this.o.size && this.doneMs === undefined) this.doneMs = nowMs();
  }
  private digestHex: string | undefined;
  private digest(): string {
    this.digestHex ??= this.hash.digest("hex");
    return this.digestHex;
  }
  result(extra: Partial<PeerResult> = {}): PeerResult {
    const complete = this.bytes === this.o.size;
    return this.meter.result({
      complete,
      verified: complete && this.digest() === this.o.sha256,
      bytes: this.bytes,
      ...(this.doneMs !== undefined ? { doneMs: this.doneMs } : {}),
      ...extra,
    });
  }
}

async function tcpRecv(o: PeerOptions): Promise<void> {
  const check = new StreamCheck(o);
  const server = createServer((socket) => {
    socket.on("data", (chunk: Buffer) => check.add(chunk));
    socket.on("end", () => void finish(check.result()));
    socket.on("error", () => void finish(check.result()));
  });
  server.listen(o.port, o.local, () => emit({ type: "ready" }));
  progressEvery500ms(() => check.bytes);
  await untilDeadline(o);
  await finish(check.result());
}

async function tcpSend(o: PeerOptions): Promise<void> {
  const meter = new Meter();
  const startMs = nowMs();
  const socket: Socket = connect({ host: o.remote, port: o.port, localAddress: o.local });
  socket.setNoDelay(true);
  const done = new Promise<string | null>((resolve) => {
    socket.on("error", (e) => resolve(e.message));
    socket.on("connect", () => {
      createReadStream(o.file, { highWaterMark: 1 << 20 })
        .pipe(socket)
        .on("finish", () => resolve(null));
    });
  });
  const error = await Promise.race([done, untilDeadline(o).then(() => "deadline")]);
  const result = meter.result({
    startMs,
    complete: error === null,
    verified: false,
    bytes: socket.bytesWritten,
  });
  await finish(error && error !== "deadline" ? { ...result, error } : result);
}

async function udxRecv(o: PeerOptions): Promise<void> {
  const check = new StreamCheck(o);
  const udx = new UDX();
  const socket = udx.createSocket();
  socket.bind(o.port, o.local);
  socket.setRecvBufferSize(16 << 20);
  const stream = udx.createStream(1);
  stream.connect(socket, 2, o.port + 1, o.remote);
  stream.on("data", (chunk: Uint8Array) => check.add(chunk));
  stream.on("end", () => {
    const result = check.result();
    // close our half and stay a moment, so the sender's end is acknowledged and it finishes too
    stream.end();
    setTimeout(() => void finish(result), 3000);
  });
  stream.on("error", (e: Error) => void finish(check.result({ error: e.message })));
  emit({ type: "ready" });
  progressEvery500ms(() => check.bytes);
  await untilDeadline(o);
  await finish(check.result());
}

async function udxSend(o: PeerOptions): Promise<void> {
  const meter = new Meter();
  const startMs = nowMs();
  const udx = new UDX();
  const socket = udx.createSocket();
  socket.bind(o.port + 1, o.local);
  socket.setSendBufferSize(16 << 20);
  const stream = udx.createStream(2);
  stream.connect(socket, 1, o.port, o.remote);
  const report = (complete: boolean, error?: string): PeerResult =>
    meter.result({
      startMs,
      complete,
      verified: false,
      bytes: stream.bytesTransmitted,
      dataPackets: stream.packetsTransmitted,
      retransmittedPackets: stream.retransmits,
      // libudx's mtu is the IP packet: IPv4 + UDP + its 20-byte header (UDX_IPV4_HEADER_SIZE 48)
      payloadPerPacket: stream.mtu - 48,
      wirePerPacket: stream.mtu + 14, // + the Ethernet header HTB counts
      ...(error ? { error } : {}),
    });
  const sent = new Promise<string | null>((resolve) => {
    stream.on("error", (e: Error) => resolve(e.message));
    stream.on("finish", () => resolve(null));
    stream.on("close", () => resolve(null));
    const file = createReadStream(o.file, { highWaterMark: 1 << 20 });
    file.on("data", (chunk) => {
      if (!stream.write(chunk)) {
        file.pause();
        stream.once("drain", () => file.resume());
      }
    });
    file.on("end", () => stream.end());
  });
  const error = await Promise.race([sent, untilDeadline(o).then(() => "deadline")]);
  // the receiver closes its end once it has everything; give that a moment so ACK counters settle
  await finish(report(error === null, error && error !== "deadline" ? error : undefined));
}

async function slipRecv(o: PeerOptions): Promise<void> {
  const meter = new Meter();
  await rm(o.root!, { recursive: true, force: true });
  await mkdir(o.root!, { recursive: true });
  const receiver = await UdpReceiver.open({
    host: o.local,
    port: o.port,
    root: o.root!,
    recvBufferSize: 16 * 1024 * 1024,
    ...slipstreamReceiverSecurity(o.variant ?? "plain"),
  });
  let doneMs: number | undefined;
  receiver.onTransferEnded = (end) => {
    doneMs = nowMs();
    const result = meter.result({ doneMs, complete: end.outcome === "complete", verified: false, bytes: 0 });
    // our own check of the landed file, after the clock stopped: same size and SHA-256 as the source
    void hashFile(join(o.root!, "wan", "payload.bin")).then(
      (digest) => {
        const verified = end.outcome === "complete" && digest === o.sha256;
        return finish({ ...result, verified, bytes: verified ? o.size : receiver.stats().bytesWritten });
      },
      (e: Error) => finish({ ...result, bytes: receiver.stats().bytesWritten, error: e.message }),
    );
  };
  emit({ type: "ready" });
  progressEvery500ms(() => receiver.stats().bytesWritten);
  await untilDeadline(o);
  if (doneMs === undefined) {
    await finish(meter.result({ complete: false, verified: false, bytes: receiver.stats().bytesWritten }));
  }
}

async function slipSend(o: PeerOptions): Promise<void> {
  const meter = new Meter();
  const startMs = nowMs();
  const sender = await UdpSender.open({
    host: o.remote,
    port: o.port,
    local: { host: o.local },
    config: { rateControlMethod: o.method ?? "adaptive" },
    ...slipstreamSenderSecurity(o.variant ?? "plain"),
  });
  const blockSize = Connection.blockSizeFor(1400);
  // what the controller did over time: the evidence for the tuning notes in docs/benchmarks-wan.md
  const trace: SlipstreamTraceSample[] = [];
  const sampler = setInterval(() => {
    const s = sender.stats();
    trace.push({
      t: Math.round(nowMs() - startMs),
      pacingMbit: round((s.pacingRate * 8) / 1e6, 2),
      rttMs: s.rttSmoothed === null ? null : round(s.rttSmoothed / 1000, 2),
      rttMinMs: s.rttMin === null ? null : round(s.rttMin / 1000, 2),
      sent: s.dataPacketsSent,
      retransmitted: s.dataPacketsRetransmitted,
      lost: s.dataPacketsLost,
      sendDrops: s.socketSendDrops,
    });
  }, 250);
  const result = await Promise.race([
    sender.send({ destinationPath: "wan", files: [{ source: o.file, path: "payload.bin" }] }),
    untilDeadline(o).then(() => null),
  ]);
  clearInterval(sampler);
  const stats = sender.stats();
  await finish(
    meter.result({
      startMs,
      trace,
      complete: result?.ok === true,
      verified: false,
      bytes: stats.bytesSent,
      dataPackets: stats.dataPacketsSent,
      retransmittedPackets: stats.dataPacketsRetransmitted,
      payloadPerPacket: blockSize,
      wirePerPacket: 1400 + 28 + 14,
      rttsMs: stats.rttMin !== null ? [stats.rttMin / 1000] : [],
      ...(result && !result.ok ? { error: `${result.code}: ${result.message}` } : {}),
    }),
  );
}

/** UDP echo for the application-level RTT check. */
async function echo(o: PeerOptions): Promise<void> {
  const { createSocket } = await import("node:dgram");
  const socket = createSocket("udp4");
  socket.on("message", (msg, from) => socket.send(msg, from.port, from.address));
  socket.bind(o.port, o.local, () => emit({ type: "ready" }));
  await untilDeadline(o);
  await finish(new Meter().result({ complete: true, verified: true, bytes: 0 }));
}

/** Sends `pings` probes 20 ms apart (one outstanding at a time) and reports each RTT. */
async function ping(o: PeerOptions): Promise<void> {
  const { createSocket } = await import("node:dgram");
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, o.local, resolve));
  const rttsMs: number[] = [];
  for (let i = 0; i < (o.pings ?? 20) && nowMs() < o.deadlineMs; i++) {
    const sentAt = nowMs();
    const back = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      socket.once("message", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    socket.send(Buffer.alloc(64), o.port, o.remote);
    if (await back) rttsMs.push(nowMs() - sentAt);
    await new Promise((r) => setTimeout(r, 20));
  }
  await finish(new Meter().result({ complete: true, verified: true, bytes: 0, rttsMs }));
}

const roles: Record<PeerRole, (o: PeerOptions) => Promise<void>> = {
  "tcp-recv": tcpRecv,
  "tcp-send": tcpSend,
  "udx-recv": udxRecv,
  "udx-send": udxSend,
  "slip-recv": slipRecv,
  "slip-send": slipSend,
  echo,
  ping,
};

const [role, json] = process.argv.slice(2);
if (process.argv[1] === fileURLToPath(import.meta.url) && role && json) {
  roles[role as PeerRole](JSON.parse(json) as PeerOptions).catch((e: unknown) =>
    finish({
      type: "result",
      complete: false,
      verified: false,
      bytes: 0,
      cpuSeconds: 0,
      wallSeconds: 0,
      error: e instanceof Error ? e.message : String(e),
    }),
  );
}
