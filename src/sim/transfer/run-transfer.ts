/**
 * One simulated transfer from a sender to a receiver over a configurable path, in virtual time,
 * with the real sans-IO endpoints. Used by the simulator tests and `npm run bench -- sim`.
 */
import { performance } from "node:perf_hooks";
import type { Micros } from "../../core/time.js";
import type { RateControlMethod } from "../../core/congestion/controller.js";
import {
  DEFAULT_CONNECTION_CONFIG,
  Connection,
  type ConnectionConfig,
} from "../../core/transport/connection.js";
import { SenderEndpoint } from "../../core/endpoint/sender.js";
import { ReceiverEndpoint } from "../../core/endpoint/receiver.js";
import type { TransferFileSpec } from "../../core/transfer/send-transfer.js";
import { EventLoop } from "../event-loop.js";
import { Random } from "../../core/util/random.js";
import { Network } from "../network.js";
import { Dumbbell } from "../network.js";
import { bdpBytes, type LinkConfig, type LinkCounters } from "../link.js";
import { bernoulli, noLoss, type LossModel } from "../loss.js";
import { SimReceiverNode, SimSenderNode } from "./nodes.js";
import { SyntheticFile } from "./synthetic-files.js";
import { generateKeyPair } from "../../core/crypto/keys.js";
import type { CipherName } from "../../core/crypto/ciphers.js";

export interface SimFile {
  size: number;
  path?: string;
  directory?: boolean;
}

export interface SimScenario {
  seed: number | string;
  rateMbit: number;
  rttMs: number;
  /** random loss on the data direction, percent */
  lossPct?: number;
  /** overrides lossPct on the data direction */
  loss?: LossModel;
  /** loss on the ACK direction, percent */
  reverseLossPct?: number;
  queueBdp?: number;
  /** extra settings of the data-direction link (jitter, reordering, duplication, corruption, partitions) */
  forward?: Partial<LinkConfig>;
  reverse?: Partial<LinkConfig>;
  files: SimFile[];
  method?: RateControlMethod;
  sendRateMbit?: number;
  minRateMbit?: number;
  maxRateMbit?: number;
  datagramSize?: number;
  peerTimeoutMs?: number;
  /** simulated disk write throughput on the receiver, Mbit/s */
  diskWriteMbit?: number;
  /** how long the receiver takes to accept a transfer, virtual ms (default 0) */
  decisionDelayMs?: number;
  /** the receiver's write buffer (its receive window), MiB */
  receiveBufferMiB?: number;
  /** keep and compare every byte (small transfers) */
  keepContent?: boolean;
  /** also hash the synthetic source independently and compare (large transfers) */
  verifySource?: boolean;
  timeLimitS?: number;
  readBudget?: number;
  stallTimeoutS?: number;
  /** record a sample of the sender's state this often (virtual ms) */
  sampleEveryMs?: number;
  /** run the authenticated handshake and per-packet AEAD (fresh keys per run; IK unless pinned=false) */
  encryption?: {
    cipher?: CipherName;
    minCipher?: CipherName;
    keyRotationPackets?: number;
    pinned?: boolean;
  };
  /**
   * an attacker on the data direction: sees each datagram the sender sends and returns what goes
   * on the wire instead (nothing, a modified copy, old datagrams replayed, …)
   */
  middlebox?: (datagram: Uint8Array, now: Micros) => Uint8Array[];
  /** the same on the reverse direction (handshake replies, ACKs) */
  reverseMiddlebox?: (datagram: Uint8Array, now: Micros) => Uint8Array[];
}

export interface SimSample {
  t: Micros;
  bytesAcked: number;
  pacingRate: number;
  window: number;
  inFlight: number;
  state: string;
  queueDelay: Micros;
  /** file data the sender holds: read ahead, in flight or waiting for retransmission */
  senderBuffered: number;
  /** of that, data read for sending but not sent yet */
  senderAhead: number;
}

export interface SimResult {
  outcome: "complete" | "failed" | "unfinished";
  senderError: { code: string; message: string } | null;
  receiverOutcome: string | null;
  /** virtual microseconds from the first packet to the sender learning the transfer is complete */
  duration: Micros;
  payloadBytes: number;
  goodputBps: number;
  /** C × (1 − p) × payload / wire */
  ceilingBps: number;
  blockSize: number;
  filesVerified: number;
  filesMismatched: number;
  overwrittenBytes: number;
  bytesRetransmitted: number;
  packetsLost: number;
  dataPacketsSent: number;
  forward: LinkCounters;
  reverse: LinkCounters;
  wallMs: number;
  events: number;
  samples: SimSample[];
  sender: SimSenderNode;
  receiver: SimReceiverNode;
}

const TRANSFER_ID = "5eed0000000000000000000000000001";

export function runSimTransfer(s: SimScenario): SimResult {
  const started = performance.now();
  const rng = new Random(s.seed);
  const loop = new EventLoop();
  const network = new Network(loop, rng.fork("network"));
  const rateBps = s.rateMbit * 1e6;
  const rtt = s.rttMs * 1000;
  const lossModel = s.loss ?? (s.lossPct ? bernoulli(s.lossPct / 100) : noLoss);
  const queueBytes = Math.max(64 * 1024, Math.round((s.queueBdp ?? 1) * bdpBytes(rateBps, rtt)));
  const path = new Dumbbell(network, {
    forward: { rateBps, delay: rtt / 2, queueBytes, loss: lossModel, ...s.forward },
    reverse: {
      rateBps,
      delay: rtt / 2,
      queueBytes,
      loss: s.reverseLossPct ? bernoulli(s.reverseLossPct / 100) : noLoss,
      ...s.reverse,
    },
  });
  path.addFlow("10.0.0.1", "10.0.0.2");
  const { middlebox, reverseMiddlebox } = s;
  if (middlebox || reverseMiddlebox) {
    const send = network.send.bind(network);
    network.send = (from, to, datagram) => {
      const box = from === "10.0.0.1:5000" ? middlebox : reverseMiddlebox;
      if (!box) return send(from, to, datagram);
      for (const d of box(datagram, loop.now)) send(from, to, d);
    };
  }

  const config: ConnectionConfig = {
    ...DEFAULT_CONNECTION_CONFIG,
    datagramSize: s.datagramSize ?? DEFAULT_CONNECTION_CONFIG.datagramSize,
    rateControlMethod: s.method ?? "adaptive",
    sendRate: ((s.sendRateMbit ?? 10) * 1e6) / 8,
    minRate: ((s.minRateMbit ?? 0.1) * 1e6) / 8,
    maxRate: ((s.maxRateMbit ?? 10_000) * 1e6) / 8,
    peerTimeout: (s.peerTimeoutMs ?? 15_000) * 1000,
    pacerMaxBurst: 0,
    windowRttFloor: 0,
  };
  const idRng = rng.fork("ids");
  const enc = s.encryption;
  const receiverKeys = enc ? generateKeyPair() : null;
  const sender = new SenderEndpoint({
    config: { ...config },
    local: { serverId: "a".repeat(32), serverUid: "b".repeat(32) },
    randomBytes: (n) => Uint8Array.from({ length: n }, () => idRng.int(256)),
    readBudget: s.readBudget,
    stallTimeout: s.stallTimeoutS !== undefined ? s.stallTimeoutS * 1e6 : undefined,
    security: enc && {
      keyPair: generateKeyPair(),
      peerPublicKey: enc.pinned === false ? null : receiverKeys!.publicKey,
      cipher: enc.cipher,
      minCipher: enc.minCipher,
      keyRotationPackets: enc.keyRotationPackets,
    },
  });
  const receiver = new ReceiverEndpoint({
    config: { ...config },
    local: { serverId: "c".repeat(32), serverUid: "d".repeat(32) },
    maxPendingWriteBytes: s.receiveBufferMiB !== undefined ? s.receiveBufferMiB * 2 ** 20 : undefined,
    security: enc && {
      keyPair: receiverKeys!,
      minCipher: enc.minCipher,
      keyRotationPackets: enc.keyRotationPackets,
    },
  });
  const senderNode = new SimSenderNode("10.0.0.1:5000", "10.0.0.2:8886", loop, network, sender, 50);
  const receiverNode = new SimReceiverNode(
    "10.0.0.2:8886",
    loop,
    network,
    receiver,
    { writeRate: s.diskWriteMbit ? (s.diskWriteMbit * 1e6) / 8 : Infinity },
    s.keepContent ?? false,
  );
  receiverNode.decisionDelay = (s.decisionDelayMs ?? 0) * 1000;
  network.attach(senderNode);
  network.attach(receiverNode);

  const specs: TransferFileSpec[] = s.files.map((f, i) => ({
    path: f.path ?? `file-${i}.bin`,
    size: f.directory ? 0 : f.size,
    mtime: 1_700_000_000_000_000 + i,
    isDirectory: f.directory,
  }));
  const sources = specs.map((f, i) => new SyntheticFile(`${s.seed}:${i}`, f.size));
  senderNode.sources.set(TRANSFER_ID, sources);
  const transfer = sender.addTransfer(0, {
    id: TRANSFER_ID,
    destinationPath: "",
    overwrite: "always",
    files: specs,
  });
  senderNode.pump();

  const samples: SimSample[] = [];
  if (s.sampleEveryMs) {
    const every = s.sampleEveryMs * 1000;
    const sample = () => {
      const c = sender.connection;
      samples.push({
        t: loop.now,
        bytesAcked: transfer.bytesAcked,
        pacingRate: c?.pacingRate() ?? 0,
        window: c?.rateController.congestionWindow() ?? 0,
        inFlight: c?.bytesInFlight ?? 0,
        state: c?.rateController.stateName() ?? "-",
        queueDelay: path.forward.queueDelay(),
        senderBuffered: transfer.bufferedBytes,
        senderAhead: transfer.aheadBytes,
      });
      if (!done()) loop.after(every, sample);
    };
    loop.after(every, sample);
  }
  const done = () =>
    senderNode.events.some((e) => e.type === "transferComplete" || e.type === "transferFailed");
  const run = loop.run({ until: (s.timeLimitS ?? 600) * 1e6, stopWhen: done });
  // Let the receiver see the last acknowledgements of the final verdicts.
  loop.run({ until: loop.now + 4 * rtt + 10_000 });

  const end = senderNode.events.find((e) => e.type === "transferComplete" || e.type === "transferFailed");
  const sinks = receiverNode.sinks.get(TRANSFER_ID) ?? [];
  let verified = 0;
  let mismatched = 0;
  let overwritten = 0;
  sinks.forEach((sink, i) => {
    overwritten += sink.overwrittenBytes;
    const src = sources[i]!;
    if (specs[i]!.isDirectory) return;
    let same: boolean;
    if (sink.content) same = sink.complete && Buffer.compare(sink.content, src.read(0, src.size)) === 0;
    else if (s.verifySource) same = sink.digest() === src.sha256();
    else same = sink.complete;
    if (same) verified++;
    else mismatched++;
  });
  const payloadBytes = specs.reduce((a, f) => a + f.size, 0);
  const duration = end ? end.at : loop.now;
  const blockSize = Connection.blockSizeFor(config.datagramSize);
  const p = lossModel.kind === "bernoulli" ? lossModel.p : 0;
  const counters = sender.totals();
  const failed = end?.type === "transferFailed" ? end : null;
  return {
    outcome: end ? (end.type === "transferComplete" ? "complete" : "failed") : "unfinished",
    senderError:
      failed && failed.type === "transferFailed" ? { code: failed.code, message: failed.message } : null,
    receiverOutcome: receiverNode.outcomes.get(TRANSFER_ID)?.outcome ?? null,
    duration,
    payloadBytes,
    goodputBps: duration > 0 ? (payloadBytes * 8 * 1e6) / duration : 0,
    ceilingBps: rateBps * (1 - p) * (blockSize / config.datagramSize),
    blockSize,
    filesVerified: verified,
    filesMismatched: mismatched,
    overwrittenBytes: overwritten,
    bytesRetransmitted: transfer.bytesRetransmitted,
    packetsLost: counters.dataPacketsLost,
    dataPacketsSent: counters.dataPacketsSent,
    forward: { ...path.forward.counters },
    reverse: { ...path.reverse.counters },
    wallMs: performance.now() - started,
    events: run.events,
    samples,
    sender: senderNode,
    receiver: receiverNode,
  };
}
