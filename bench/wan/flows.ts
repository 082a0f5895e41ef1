/**
 * Runs one system's transfer of the test file across the built path (receiver in B, sender in A)
 * and turns what both sides report into a FlowMeasurement; also the fairness run (two flows at once).
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { nowMs } from "./clock.js";
import { ADDR_A, ADDR_B, NS_A, NS_B, inNs } from "./netpath.js";
import type { PeerOptions, PeerResult, PeerRole, SlipstreamTraceSample } from "./peer.js";
import { startPeer, type PeerProcess, type Progress } from "./processes.js";
import type { FlowMeasurement, SystemName } from "./report.js";
import type { SlipstreamVariant } from "./slipstream-options.js";
import type { ConnectionConfig } from "../../src/core/transport/connection.js";

export interface TestFile {
  path: string;
  size: number;
  sha256: string;
}

/** The random test file, generated once per size and kept in `dir` (with its SHA-256 beside it). */
export async function testFile(dir: string, sizeMiB: number): Promise<TestFile> {
  const path = join(dir, `payload-${sizeMiB}MiB.bin`);
  const size = sizeMiB * 1024 * 1024;
  if (existsSync(path) && existsSync(`${path}.sha256`)) {
    return { path, size, sha256: readFileSync(`${path}.sha256`, "utf8").trim() };
  }
  const handle = await open(path, "w");
  const hash = createHash("sha256");
  try {
    for (let done = 0; done < size; done += 8 << 20) {
      const block = randomBytes(Math.min(8 << 20, size - done));
      hash.update(block);
      await handle.write(block);
    }
  } finally {
    await handle.close();
  }
  const sha256 = hash.digest("hex");
  writeFileSync(`${path}.sha256`, sha256);
  return { path, size, sha256 };
}

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export interface FlowContext {
  file: TestFile;
  capSeconds: number;
  /** scratch directory for Slipstream's receiver */
  scratch: string;
}

interface SystemPlan {
  recv: PeerRole;
  send: PeerRole;
  port: number;
  tcpCongestion?: "cubic" | "bbr";
  method?: ConnectionConfig["rateControlMethod"];
  variant?: SlipstreamVariant;
}

export function planFor(
  system: SystemName,
  method: ConnectionConfig["rateControlMethod"] = "adaptive",
): SystemPlan {
  switch (system) {
    case "tcp-cubic":
      return { recv: "tcp-recv", send: "tcp-send", port: 6201, tcpCongestion: "cubic" };
    case "tcp-bbr":
      return { recv: "tcp-recv", send: "tcp-send", port: 6202, tcpCongestion: "bbr" };
    case "udx":
      return { recv: "udx-recv", send: "udx-send", port: 6301 };
    case "slipstream":
      return { recv: "slip-recv", send: "slip-send", port: 6401, method, variant: "plain" };
    case "slipstream-enc":
      return { recv: "slip-recv", send: "slip-send", port: 6402, method, variant: "encrypted" };
  }
}

/** One protocol's counters in a namespace's /proc/net/snmp (they are per namespace). */
function snmp(ns: string, protocol: "Tcp" | "Udp"): (name: string) => number {
  const lines = inNs(ns, "cat", ["/proc/net/snmp"])
    .split("\n")
    .filter((l) => l.startsWith(`${protocol}:`));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return (name) => Number(values[names.indexOf(name)]);
}

interface Counters {
  tcpOut: number;
  tcpRetrans: number;
  /** UDP datagrams the kernel dropped: sender's socket receive buffer full (ACKs), send buffer full, receiver's buffer full */
  senderRcvbufErrors: number;
  senderSndbufErrors: number;
  receiverRcvbufErrors: number;
}

function counters(): Counters {
  const tcp = snmp(NS_A, "Tcp");
  const udpA = snmp(NS_A, "Udp");
  const udpB = snmp(NS_B, "Udp");
  return {
    tcpOut: tcp("OutSegs"),
    tcpRetrans: tcp("RetransSegs"),
    senderRcvbufErrors: udpA("RcvbufErrors"),
    senderSndbufErrors: udpA("SndbufErrors"),
    receiverRcvbufErrors: udpB("RcvbufErrors"),
  };
}

function countersSince(before: Counters): Counters {
  const now = counters();
  return {
    tcpOut: now.tcpOut - before.tcpOut,
    tcpRetrans: now.tcpRetrans - before.tcpRetrans,
    senderRcvbufErrors: now.senderRcvbufErrors - before.senderRcvbufErrors,
    senderSndbufErrors: now.senderSndbufErrors - before.senderSndbufErrors,
    receiverRcvbufErrors: now.receiverRcvbufErrors - before.receiverRcvbufErrors,
  };
}

interface StartedFlow {
  system: SystemName;
  plan: SystemPlan;
  receiver: PeerProcess;
  sender: PeerProcess;
}

async function startFlow(
  system: SystemName,
  plan: SystemPlan,
  ctx: FlowContext,
  tag: string,
): Promise<StartedFlow> {
  const deadline = nowMs() + ctx.capSeconds * 1000;
  const common: Omit<PeerOptions, "local" | "remote" | "deadlineMs"> = {
    port: plan.port,
    file: ctx.file.path,
    size: ctx.file.size,
    sha256: ctx.file.sha256,
    root: join(ctx.scratch, `${system}-${tag}`),
    ...(plan.method ? { method: plan.method } : {}),
    ...(plan.variant ? { variant: plan.variant } : {}),
  };
  // the receiver outlives the sender's cap a little so bytes in flight at the cap still count
  const receiver = startPeer(NS_B, plan.recv, {
    ...common,
    local: ADDR_B,
    remote: ADDR_A,
    deadlineMs: deadline + 4000,
  });
  await receiver.ready;
  const sender = startPeer(NS_A, plan.send, {
    ...common,
    local: ADDR_A,
    remote: ADDR_B,
    deadlineMs: nowMs() + ctx.capSeconds * 1000,
  });
  return { system, plan, receiver, sender };
}

/** Bytes counted by the receiver at monotonic time `t`, interpolated between progress samples. */
export function bytesAt(progress: readonly Progress[], t: number): number {
  let before: Progress = { t: -Infinity, bytes: 0 };
  for (const p of progress) {
    if (p.t <= t) before = p;
    else {
      if (before.t === -Infinity) return 0;
      return before.bytes + ((p.bytes - before.bytes) * (t - before.t)) / (p.t - before.t);
    }
  }
  return before.bytes;
}

function measurement(
  flow: StartedFlow,
  sent: PeerResult,
  received: PeerResult,
  capSeconds: number,
  kernel: Counters,
): FlowMeasurement {
  const start = sent.startMs ?? NaN;
  const isTcp = flow.plan.recv === "tcp-recv";
  // TCP is a byte stream: every byte delivered in order counts; the others must pass the SHA-256
  const done = received.doneMs !== undefined && (isTcp ? received.complete : received.verified);
  const capAt = start + capSeconds * 1000;
  const seconds = done ? (received.doneMs! - start) / 1000 : capSeconds;
  const verifiedBytes = done ? received.bytes : Math.floor(bytesAt(flow.receiver.progress, capAt));
  const retransmitRatio = isTcp
    ? kernel.tcpRetrans / Math.max(1, kernel.tcpOut)
    : sent.dataPackets
      ? (sent.retransmittedPackets ?? 0) / sent.dataPackets
      : null;
  const receiverWall = ((done ? received.doneMs! : capAt) - start) / 1000;
  const error = sent.error ?? received.error;
  return {
    system: flow.system,
    verifiedBytes,
    seconds,
    goodputMbit: (verifiedBytes * 8) / seconds / 1e6,
    capped: !done,
    retransmitRatio,
    cpuSender: sent.cpuSeconds / Math.max(1e-3, sent.wallSeconds),
    cpuReceiver: received.cpuSeconds / Math.max(1e-3, receiverWall),
    payloadPerPacket: sent.payloadPerPacket ?? (isTcp ? 1448 : 1),
    wirePerPacket: sent.wirePerPacket ?? (isTcp ? 1500 + 14 : 1),
    ...(isTcp
      ? {}
      : {
          udpDrops: {
            senderReceiveBuffer: kernel.senderRcvbufErrors,
            senderSendBuffer: kernel.senderSndbufErrors,
            receiverReceiveBuffer: kernel.receiverRcvbufErrors,
          },
        }),
    ...(sent.trace ? { trace: sent.trace } : {}),
    delivered: flow.receiver.progress.map((p) => ({ t: Math.round(p.t - start), bytes: p.bytes })),
    ...(error && error !== "deadline" ? { error } : {}),
  };
}

function setTcpCongestion(algorithm: "cubic" | "bbr"): void {
  inNs(NS_A, "sysctl", ["-qw", `net.ipv4.tcp_congestion_control=${algorithm}`]);
  inNs(NS_B, "sysctl", ["-qw", `net.ipv4.tcp_congestion_control=${algorithm}`]);
}

export async function runFlow(system: SystemName, ctx: FlowContext, tag: string): Promise<FlowMeasurement> {
  const plan = planFor(system);
  if (plan.tcpCongestion) setTcpCongestion(plan.tcpCongestion);
  const before = counters();
  const flow = await startFlow(system, plan, ctx, tag);
  const [sent, received] = await Promise.all([flow.sender.result, flow.receiver.result]);
  return measurement(flow, sent, received, ctx.capSeconds, countersSince(before));
}

export interface FairnessResult {
  method: string;
  /** the window both flows were running in, from the later start + warm-up to the earlier end */
  windowSeconds: number;
  slipstreamMbit: number;
  cubicMbit: number;
  slipstreamShare: number;
  utilization: number;
  /** the Slipstream sender's view every 250 ms (kept in --out files) */
  trace?: SlipstreamTraceSample[];
}

/** Slipstream (`method`) and one TCP CUBIC flow started together on the same path. */
export async function runFairness(
  method: ConnectionConfig["rateControlMethod"],
  ctx: FlowContext,
  rateMbit: number,
  warmupSeconds: number,
  tag: string,
): Promise<FairnessResult> {
  setTcpCongestion("cubic");
  const cubic = await startFlow("tcp-cubic", planFor("tcp-cubic"), ctx, tag);
  const slip = await startFlow("slipstream", planFor("slipstream", method), ctx, tag);
  const [cubicSent, cubicRecv, slipSent, slipRecv] = await Promise.all([
    cubic.sender.result,
    cubic.receiver.result,
    slip.sender.result,
    slip.receiver.result,
  ]);
  const end = (sent: PeerResult, recv: PeerResult): number =>
    recv.doneMs ?? (sent.startMs ?? 0) + ctx.capSeconds * 1000;
  const from = Math.max(cubicSent.startMs ?? 0, slipSent.startMs ?? 0) + warmupSeconds * 1000;
  const to = Math.min(end(cubicSent, cubicRecv), end(slipSent, slipRecv));
  const seconds = (to - from) / 1000;
  const rate = (f: StartedFlow): number =>
    ((bytesAt(f.receiver.progress, to) - bytesAt(f.receiver.progress, from)) * 8) /
    Math.max(1e-3, seconds) /
    1e6;
  const slipstreamMbit = rate(slip);
  const cubicMbit = rate(cubic);
  return {
    method,
    windowSeconds: seconds,
    slipstreamMbit,
    cubicMbit,
    slipstreamShare: slipstreamMbit / Math.max(1e-9, slipstreamMbit + cubicMbit),
    // goodput over the link rate, headers not counted, so a full link reads about 0.93–0.96
    utilization: (slipstreamMbit + cubicMbit) / rateMbit,
    ...(slipSent.trace ? { trace: slipSent.trace } : {}),
  };
}
