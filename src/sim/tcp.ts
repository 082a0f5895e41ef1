import type { Micros } from "../core/time.js";
import { Deque } from "./deque.js";
import { SimTimer } from "./event-loop.js";
import type { Network, SimNode } from "./network.js";
import {
  createCongestionControl,
  type TcpCongestionAlgorithm,
  type TcpCongestionControl,
} from "./tcp-congestion.js";

/**
 * A model of a bulk TCP flow for competing-traffic experiments: MSS-sized segments over the shared
 * network, one ACK per segment carrying the cumulative ACK, the segment that triggered it (a
 * one-block SACK) and an echoed send timestamp. Loss detection is FACK-style (a hole with ≥ 3 SACKed
 * segments above it is lost), recovery is SACK-based with pipe accounting (RFC 6675 flavour), plus an
 * RFC 6298 retransmission timer. Sequence numbers count segments, not bytes.
 */
export interface TcpFlowOptions {
  /** sender address, e.g. "10.0.1.1:40000" */
  from: string;
  /** receiver address, e.g. "10.0.2.1:80" */
  to: string;
  algorithm?: TcpCongestionAlgorithm;
  /** payload bytes per segment (default 1460) */
  mss?: number;
  /** bytes to transfer (default Infinity: a bulk flow that never ends) */
  bytes?: number;
  /** initial window in segments (default 10) */
  initialWindow?: number;
  /** minimum retransmission timeout (default 200 ms, as Linux) */
  minRto?: Micros;
}

export interface TcpSenderStats {
  segmentsSent: number;
  retransmits: number;
  fastRecoveries: number;
  timeouts: number;
}

/** TCP/IP header bytes on the wire in addition to the payload */
export const TCP_HEADER_BYTES = 40;
const ACK_BYTES = 60;
const DATA = 1;
const ACK = 2;
const DUPTHRESH = 3;
const SACKED = 1;
const LOST = 2;
const RETRANSMITTED = 4;
const MAX_RTO: Micros = 60_000_000;

export class TcpFlow {
  readonly sender: TcpSender;
  readonly receiver: TcpReceiver;
  readonly mss: number;
  readonly bytes: number;

  constructor(network: Network, options: TcpFlowOptions) {
    this.mss = options.mss ?? 1460;
    this.bytes = options.bytes ?? Infinity;
    this.receiver = new TcpReceiver(network, options.to);
    this.sender = new TcpSender(network, options, this.mss, Math.ceil(this.bytes / this.mss));
    network.attach(this.sender);
    network.attach(this.receiver);
  }

  start(at?: Micros): void {
    this.sender.start(at);
  }

  /** stop sending new data (outstanding data is still recovered) */
  stop(): void {
    this.sender.stop();
  }

  /** payload bytes the receiver has got in order */
  get deliveredBytes(): number {
    return Math.min(this.receiver.inOrderSegments * this.mss, this.bytes);
  }

  get done(): boolean {
    return this.deliveredBytes >= this.bytes;
  }

  get cwndBytes(): number {
    return this.sender.cwnd * this.mss;
  }
}

export class TcpSender implements SimNode {
  readonly address: string;
  readonly stats: TcpSenderStats = { segmentsSent: 0, retransmits: 0, fastRecoveries: 0, timeouts: 0 };
  smoothedRtt: Micros = 0;
  private rttVariance: Micros = 0;
  private rto: Micros = 1_000_000;
  private readonly cc: TcpCongestionControl;
  private readonly timer: SimTimer;
  private readonly to: string;
  private readonly minRto: Micros;
  /** oldest unacknowledged segment */
  private una = 0;
  /** next new segment */
  private nxt = 0;
  private limit: number;
  private flags = new Uint8Array(1024);
  private sackedCount = 0;
  private lostCount = 0;
  private retransmittedInFlight = 0;
  private highestSacked = -1;
  private lossScan = 0;
  private readonly retransmitQueue = new Deque<number>();
  private readonly slab = new DatagramSlab();
  private state: "open" | "recovery" | "loss" = "open";
  private recoveryPoint = 0;

  constructor(
    private readonly network: Network,
    options: TcpFlowOptions,
    private readonly mss: number,
    segments: number,
  ) {
    this.address = options.from;
    this.to = options.to;
    this.limit = segments;
    this.minRto = options.minRto ?? 200_000;
    this.cc = createCongestionControl(options.algorithm ?? "cubic", options.initialWindow ?? 10);
    this.timer = new SimTimer(network.loop, this.onTimeout);
  }

  get cwnd(): number {
    return this.cc.cwnd;
  }

  get ssthresh(): number {
    return this.cc.ssthresh;
  }

  /** segments the sender believes are in the network */
  get pipe(): number {
    return this.nxt - this.una - this.sackedCount - this.lostCount + this.retransmittedInFlight;
  }

  start(at: Micros = this.network.now): void {
    this.network.loop.schedule(at, () => this.trySend());
  }

  stop(): void {
    this.limit = this.nxt;
  }

  receive(now: Micros, datagram: Uint8Array): void {
    if (datagram.byteLength < 19 || datagram[0] !== ACK || !checksumOk(datagram, 17)) return;
    const cumulative = Math.min(readU32(datagram, 1), this.nxt);
    const sacked = readU32(datagram, 5) - 1;
    this.updateRtt(now - readF64(datagram, 9));
    let delivered = 0;
    if (cumulative > this.una) {
      for (let s = this.una; s < cumulative; s++) {
        const f = this.flags[s & (this.flags.length - 1)]!;
        if (f & SACKED) {
          this.sackedCount--;
        } else {
          this.forget(f);
          delivered++;
        }
        this.flags[s & (this.flags.length - 1)] = 0;
      }
      this.una = cumulative;
      if (this.una < this.nxt) this.timer.arm(now + this.rto);
      else this.timer.disarm();
    }
    if (sacked >= this.una && sacked < this.nxt) {
      const i = sacked & (this.flags.length - 1);
      const f = this.flags[i]!;
      if (!(f & SACKED)) {
        this.forget(f);
        delivered++;
        this.flags[i] = f | SACKED;
        this.sackedCount++;
        if (sacked > this.highestSacked) this.highestSacked = sacked;
      }
    }
    this.detectLosses();
    if (this.state !== "open" && this.una >= this.recoveryPoint) this.state = "open";
    if (this.state === "open" && this.lostCount > 0) {
      this.state = "recovery";
      this.recoveryPoint = this.nxt;
      this.cc.onCongestion(now);
      this.stats.fastRecoveries++;
    }
    if (delivered > 0 && this.state !== "recovery") this.cc.onAck(delivered, now, this.smoothedRtt);
    this.trySend();
  }

  /** a segment leaves the pipe (acked or SACKed): undo its lost/retransmitted accounting */
  private forget(flags: number): void {
    if (flags & LOST) this.lostCount--;
    if (flags & RETRANSMITTED) this.retransmittedInFlight--;
  }

  private detectLosses(): void {
    if (this.lossScan < this.una) this.lossScan = this.una;
    const mask = this.flags.length - 1;
    for (; this.lossScan <= this.highestSacked - DUPTHRESH; this.lossScan++) {
      const f = this.flags[this.lossScan & mask]!;
      if (f & (SACKED | LOST)) continue;
      this.flags[this.lossScan & mask] = f | LOST;
      this.lostCount++;
      this.retransmitQueue.push(this.lossScan);
    }
  }

  private trySend(): void {
    const cwnd = Math.max(this.cc.cwnd, 1);
    while (this.pipe + 1 <= cwnd) {
      const lost = this.nextRetransmission();
      if (lost >= 0) {
        this.flags[lost & (this.flags.length - 1)]! |= RETRANSMITTED;
        this.retransmittedInFlight++;
        this.stats.retransmits++;
        this.transmit(lost);
      } else if (this.nxt < this.limit) {
        if (this.nxt - this.una >= this.flags.length) this.growFlags();
        this.flags[this.nxt & (this.flags.length - 1)] = 0;
        this.transmit(this.nxt++);
      } else {
        break;
      }
    }
    if (this.una < this.nxt && this.timer.armedAt === Infinity) this.timer.arm(this.network.now + this.rto);
  }

  private nextRetransmission(): number {
    const mask = this.flags.length - 1;
    while (this.retransmitQueue.length > 0) {
      const s = this.retransmitQueue.shift()!;
      if (s >= this.una && (this.flags[s & mask]! & (SACKED | LOST | RETRANSMITTED)) === LOST) return s;
    }
    return -1;
  }

  private transmit(segment: number): void {
    const datagram = this.slab.take(this.mss + TCP_HEADER_BYTES);
    datagram[0] = DATA;
    writeU32(datagram, 1, segment);
    writeF64(datagram, 5, this.network.now);
    writeChecksum(datagram, 13);
    this.stats.segmentsSent++;
    this.network.send(this.address, this.to, datagram);
  }

  private readonly onTimeout = (): void => {
    if (this.una >= this.nxt) return;
    this.stats.timeouts++;
    // like Linux, a timeout during the recovery from the previous one does not cut ssthresh again
    this.cc.onTimeout(this.network.now, this.state === "loss");
    this.rto = Math.min(this.rto * 2, MAX_RTO);
    this.state = "loss";
    this.recoveryPoint = this.nxt;
    this.retransmitQueue.clear();
    const mask = this.flags.length - 1;
    for (let s = this.una; s < this.nxt; s++) {
      let f = this.flags[s & mask]!;
      if (f & SACKED) continue;
      if (f & RETRANSMITTED) {
        f &= ~RETRANSMITTED;
        this.retransmittedInFlight--;
      }
      if (!(f & LOST)) {
        f |= LOST;
        this.lostCount++;
      }
      this.flags[s & mask] = f;
      this.retransmitQueue.push(s);
    }
    this.trySend();
  };

  private updateRtt(sample: Micros): void {
    if (!(sample >= 0)) return;
    if (this.smoothedRtt === 0) {
      this.smoothedRtt = sample;
      this.rttVariance = sample / 2;
    } else {
      this.rttVariance = 0.75 * this.rttVariance + 0.25 * Math.abs(this.smoothedRtt - sample);
      this.smoothedRtt = 0.875 * this.smoothedRtt + 0.125 * sample;
    }
    this.rto = Math.min(Math.max(this.minRto, this.smoothedRtt + 4 * this.rttVariance), MAX_RTO);
  }

  private growFlags(): void {
    const bigger = new Uint8Array(this.flags.length * 2);
    for (let s = this.una; s < this.nxt; s++) {
      bigger[s & (bigger.length - 1)] = this.flags[s & (this.flags.length - 1)]!;
    }
    this.flags = bigger;
  }
}

export class TcpReceiver implements SimNode {
  /** segments received in order (the cumulative ACK) */
  inOrderSegments = 0;
  private readonly outOfOrder = new Set<number>();

  constructor(
    private readonly network: Network,
    readonly address: string,
  ) {}

  receive(_now: Micros, datagram: Uint8Array, from: string): void {
    if (datagram.byteLength < 15 || datagram[0] !== DATA || !checksumOk(datagram, 13)) return;
    const segment = readU32(datagram, 1);
    if (segment === this.inOrderSegments) {
      this.inOrderSegments++;
      while (this.outOfOrder.delete(this.inOrderSegments)) this.inOrderSegments++;
    } else if (segment > this.inOrderSegments) {
      this.outOfOrder.add(segment);
    }
    const ack = new Uint8Array(ACK_BYTES);
    ack[0] = ACK;
    writeU32(ack, 1, this.inOrderSegments);
    writeU32(ack, 5, segment + 1);
    ack.set(datagram.subarray(5, 13), 9);
    writeChecksum(ack, 17);
    this.network.send(this.address, from, ack);
  }
}

// The header is followed by a 16-bit sum of its bytes, so a corrupted header is discarded like a
// bad TCP checksum (payload corruption is harmless: the model carries no data).
function writeChecksum(bytes: Uint8Array, headerLength: number): void {
  const sum = headerSum(bytes, headerLength);
  bytes[headerLength] = sum >> 8;
  bytes[headerLength + 1] = sum & 0xff;
}

function checksumOk(bytes: Uint8Array, headerLength: number): boolean {
  return headerSum(bytes, headerLength) === ((bytes[headerLength]! << 8) | bytes[headerLength + 1]!);
}

function headerSum(bytes: Uint8Array, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += bytes[i]! << (i & 1 ? 0 : 8);
  return sum & 0xffff;
}

function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>>
    0
  );
}

const scratchF64 = new Float64Array(1);
const scratchBytes = new Uint8Array(scratchF64.buffer);

function writeF64(bytes: Uint8Array, offset: number, value: number): void {
  scratchF64[0] = value;
  bytes.set(scratchBytes, offset);
}

function readF64(bytes: Uint8Array, offset: number): number {
  for (let i = 0; i < 8; i++) scratchBytes[i] = bytes[offset + i]!;
  return scratchF64[0]!;
}

/**
 * Hands out data datagrams as views into large zeroed slabs: one ArrayBuffer per ~700 segments
 * instead of one each, which is most of the cost of a model segment. A slab is freed by the garbage
 * collector once all its datagrams are.
 */
class DatagramSlab {
  private slab = new Uint8Array(0);
  private offset = 0;

  take(size: number): Uint8Array {
    if (this.offset + size > this.slab.byteLength) {
      this.slab = new Uint8Array(Math.max(size, 1 << 20));
      this.offset = 0;
    }
    const datagram = this.slab.subarray(this.offset, this.offset + size);
    this.offset += size;
    return datagram;
  }
}
