// A tiny packet-level model of one bottleneck link, driving rate controllers the way the
// connection does (delivery-rate samples, RTT estimates, loss detection). Not a test file itself.
import type { RateController } from "../../src/core/congestion/controller.js";
import { DeliveryRateEstimator, type PacketDeliveryState } from "../../src/core/congestion/delivery-rate.js";
import type { Micros } from "../../src/core/time.js";
import { MICROS_PER_SECOND } from "../../src/core/time.js";
import { seededRandom } from "../../src/core/util/random.js";

export const MBIT = 1_000_000 / 8; // bytes per second
export const MS = 1000; // microseconds

interface Packet {
  flow: ModelFlow;
  size: number;
  sentTime: Micros;
  state: PacketDeliveryState;
  ackTime: Micros;
  dropped: boolean;
}

export class ModelFlow {
  readonly estimator = new DeliveryRateEstimator();
  bytesInFlight = 0;
  nextSendTime: Micros;
  smoothedRtt: Micros = 0;
  minRtt: Micros = Infinity;
  lostBytes = 0;
  sentBytes = 0;
  /** RTT extremes since the last `resetRttStats()` */
  maxRttSeen: Micros = 0;
  minRttSeen: Micros = Infinity;
  /** the application produces data at this rate (bytes per second); Infinity = always has data */
  appRate = Infinity;
  /** whether to tell the estimator when the sender runs out of data (the connection does) */
  markAppLimited = true;
  private appBudget = 0;
  private appBudgetTime: Micros = 0;
  /** pending drops not yet detected, in send order */
  readonly drops: Packet[] = [];

  constructor(
    readonly controller: RateController,
    readonly mss: number,
    readonly start: Micros = 0,
    public stop: Micros = Infinity,
  ) {
    this.nextSendTime = start;
  }

  get delivered(): number {
    return this.estimator.delivered;
  }

  resetRttStats(): void {
    this.maxRttSeen = 0;
    this.minRttSeen = Infinity;
  }

  canSendWindow(): boolean {
    return this.bytesInFlight + this.mss <= this.controller.congestionWindow();
  }

  /**
   * Bytes the application has ready at `now` (capped, so an idle application cannot bank an
   * unlimited burst).
   */
  appAvailable(now: Micros): number {
    if (!Number.isFinite(this.appRate)) return Infinity;
    const elapsed = Math.max(0, now - this.appBudgetTime);
    this.appBudget = Math.min(this.appBudget + (this.appRate * elapsed) / MICROS_PER_SECOND, 4 * this.mss);
    this.appBudgetTime = now;
    return this.appBudget;
  }

  spendApp(bytes: number): void {
    if (Number.isFinite(this.appRate)) this.appBudget -= bytes;
  }

  /** When the application will have a full datagram ready. */
  appReadyAt(now: Micros): Micros {
    const missing = this.mss - this.appAvailable(now);
    return missing <= 0 ? now : now + (missing * MICROS_PER_SECOND) / this.appRate;
  }

  lossTimeout(): Micros {
    return 2 * Math.max(this.smoothedRtt, Number.isFinite(this.minRtt) ? this.minRtt : 100 * MS);
  }
}

export interface LinkOptions {
  /** bytes per second; may be changed between `run` calls */
  capacity: number;
  /** propagation RTT */
  baseRtt: Micros;
  /** drop-tail buffer in bytes */
  bufferBytes: number;
  /** probability that a packet is lost after the bottleneck (random loss) */
  randomLoss?: number;
  seed?: number;
}

export class LinkModel {
  now: Micros = 0;
  capacity: number;
  /** propagation RTT; may only grow between `run` calls (ACKs must stay in order) */
  baseRtt: Micros;
  randomLoss: number;
  readonly flows: ModelFlow[] = [];
  private linkFreeAt: Micros = 0;
  private readonly inFlight: Packet[] = [];
  private head = 0;
  private readonly random: () => number;

  constructor(readonly options: LinkOptions) {
    this.capacity = options.capacity;
    this.baseRtt = options.baseRtt;
    this.randomLoss = options.randomLoss ?? 0;
    this.random = seededRandom(options.seed ?? 1);
  }

  addFlow(controller: RateController, mss: number, start: Micros = 0): ModelFlow {
    const flow = new ModelFlow(controller, mss, start);
    this.flows.push(flow);
    return flow;
  }

  /** Queueing delay at the bottleneck right now. */
  queueDelay(): Micros {
    return Math.max(0, this.linkFreeAt - this.now);
  }

  run(until: Micros): void {
    for (;;) {
      const ack = this.head < this.inFlight.length ? this.inFlight[this.head] : undefined;
      let next = ack ? ack.ackTime : Infinity;
      let sender: ModelFlow | null = null;
      let timer: ModelFlow | null = null;
      for (const f of this.flows) {
        if (f.canSendWindow() && f.nextSendTime < f.stop && f.nextSendTime < next) {
          next = f.nextSendTime;
          sender = f;
        }
      }
      for (const f of this.flows) {
        const d = f.drops[0];
        if (d && d.sentTime + f.lossTimeout() < next) {
          next = d.sentTime + f.lossTimeout();
          timer = f;
          sender = null;
        }
      }
      if (next > until) break;
      this.now = Math.max(this.now, next);
      if (timer) this.detectLoss(timer, this.now - timer.lossTimeout());
      else if (sender) this.send(sender);
      else if (ack) this.deliverAck(ack);
    }
    this.now = until;
    this.compact();
  }

  private send(flow: ModelFlow): void {
    const now = this.now;
    const size = flow.mss;
    if (flow.appAvailable(now) < size - 1e-6) {
      // Allowed to send but nothing to send: the connection marks the samples app-limited.
      if (flow.markAppLimited) flow.estimator.markAppLimited(flow.bytesInFlight);
      flow.nextSendTime = flow.appReadyAt(now);
      return;
    }
    flow.spendApp(size);
    const state = flow.estimator.onPacketSent(now, size, flow.bytesInFlight);
    flow.bytesInFlight += size;
    flow.sentBytes += size;
    flow.controller.onPacketSent(now, size, flow.bytesInFlight);
    flow.nextSendTime = now + (size * MICROS_PER_SECOND) / flow.controller.pacingRate();

    const packet: Packet = { flow, size, sentTime: now, state, ackTime: 0, dropped: false };
    const queuedBytes = (Math.max(0, this.linkFreeAt - now) * this.capacity) / MICROS_PER_SECOND;
    if (queuedBytes + size > this.options.bufferBytes) {
      packet.dropped = true;
      flow.drops.push(packet);
      return;
    }
    this.linkFreeAt = Math.max(now, this.linkFreeAt) + (size * MICROS_PER_SECOND) / this.capacity;
    if (this.random() < this.randomLoss) {
      packet.dropped = true;
      flow.drops.push(packet);
      return;
    }
    packet.ackTime = this.linkFreeAt + this.baseRtt;
    this.inFlight.push(packet);
  }

  private deliverAck(packet: Packet): void {
    this.head++;
    const flow = packet.flow;
    const now = this.now;
    const rtt = now - packet.sentTime;
    flow.smoothedRtt = flow.smoothedRtt === 0 ? rtt : (7 * flow.smoothedRtt + rtt) / 8;
    flow.minRtt = Math.min(flow.minRtt, rtt);
    flow.maxRttSeen = Math.max(flow.maxRttSeen, rtt);
    flow.minRttSeen = Math.min(flow.minRttSeen, rtt);
    flow.bytesInFlight -= packet.size;
    flow.estimator.onPacketAcked(now, packet.state);
    this.detectLoss(flow, packet.sentTime);
    flow.controller.onAck({
      now,
      ackedBytes: packet.size,
      largestAckedSentTime: packet.sentTime,
      latestRtt: rtt,
      smoothedRtt: flow.smoothedRtt,
      minRtt: flow.minRtt,
      bytesInFlight: flow.bytesInFlight,
      totalDelivered: flow.estimator.delivered,
      rateSample: flow.estimator.generateSample(now, flow.minRtt),
    });
  }

  /** Declares lost every pending drop of `flow` sent before `sentBefore`. */
  private detectLoss(flow: ModelFlow, sentBefore: Micros): void {
    let lostBytes = 0;
    let lostPackets = 0;
    let largestLostSentTime = 0;
    while (flow.drops.length > 0 && flow.drops[0]!.sentTime <= sentBefore) {
      const p = flow.drops.shift()!;
      lostBytes += p.size;
      lostPackets++;
      largestLostSentTime = p.sentTime;
    }
    if (lostPackets === 0) return;
    flow.bytesInFlight -= lostBytes;
    flow.lostBytes += lostBytes;
    flow.controller.onLoss({
      now: this.now,
      lostBytes,
      lostPackets,
      largestLostSentTime,
      bytesInFlight: flow.bytesInFlight,
      persistentCongestion: false,
    });
  }

  private compact(): void {
    if (this.head > 4096) {
      this.inFlight.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** Average rate in bytes per second of `bytes` over `duration`. */
export function rate(bytes: number, duration: Micros): number {
  return (bytes * MICROS_PER_SECOND) / duration;
}
