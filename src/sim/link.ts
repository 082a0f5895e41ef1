import type { Micros } from "../core/time.js";
import { Deque } from "./deque.js";
import type { EventId, EventLoop } from "./event-loop.js";
import { LossProcess, noLoss, type LossModel } from "./loss.js";
import type { Random } from "../core/util/random.js";

/** A window [start, end) of virtual time during which the link drops everything. */
export interface Partition {
  start: Micros;
  end: Micros;
}

export type JitterDistribution = "uniform" | "normal";

/** One direction of a path: a drop-tail bottleneck queue, a serializer, then propagation. */
export interface LinkConfig {
  /** serialization rate in bits per second; Infinity means no serialization delay and no queue */
  rateBps: number;
  /** one-way propagation delay */
  delay: Micros;
  /** uniform: delay ± jitter; normal: standard deviation. Never reorders packets by itself. */
  jitter?: Micros;
  jitterDistribution?: JitterDistribution;
  /** drop-tail limit on bytes waiting behind the packet being serialized (default unlimited) */
  queueBytes?: number;
  /** random loss on entry (before the queue, like netem) */
  loss?: LossModel;
  /** probability that a packet is held back an extra `reorderDelay`, letting later packets pass it */
  reorderProb?: number;
  reorderDelay?: Micros;
  /** probability that a delivered datagram is delivered twice (the second is a copy) */
  duplicateProb?: number;
  /** probability that a delivered datagram is replaced by a copy with one random bit flipped */
  corruptProb?: number;
  partitions?: Partition[];
}

export interface LinkCounters {
  sent: number;
  delivered: number;
  bytesSent: number;
  bytesDelivered: number;
  droppedQueue: number;
  droppedLoss: number;
  droppedPartition: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  peakQueueBytes: number;
  /** longest time a packet waited in the queue before its serialization started */
  peakQueueDelay: Micros;
}

export type DropReason = "queue" | "loss" | "partition";

/** A datagram travelling over a link. The link never copies `data` except to corrupt or duplicate. */
export class LinkPacket {
  txStart: Micros = 0;
  txEnd: Micros = 0;
  baseArrival: Micros = 0;
  arrival: Micros = 0;
  reorderDelay: Micros = 0;
  /** the lane the packet waits in, or null when it has its own event (`eventId`) */
  lane: Lane | null = null;
  eventId: EventId = -1;

  constructor(
    public data: Uint8Array,
    public readonly from: string,
    public readonly to: string,
    /** extra delay after the link (e.g. a flow's access delay); does not affect other flows */
    public readonly extraDelay: Micros = 0,
  ) {}
}

/** bandwidth-delay product in bytes */
export function bdpBytes(rateBps: number, rtt: Micros): number {
  return Math.ceil((rateBps * rtt) / 8e6);
}

/**
 * Packets on the wire with the same extra delay arrive in the order they were sent, so they wait in
 * a FIFO lane and only the lane's head has an event in the loop: the event heap stays small however
 * many packets are in flight. Packets held back for reordering get an event each.
 */
class Lane {
  readonly packets = new Deque<LinkPacket>();
  eventId: EventId = -1;
  constructor(readonly extraDelay: Micros) {}
}

/**
 * Packet timing is computed when a packet enters, so no event is needed for serialization: the
 * queue is the list of packets whose serialization start lies in the future. Changing rate, delay or
 * jitter re-times the packets still waiting; packets already on the wire keep their timing.
 */
export class Link {
  readonly counters: LinkCounters = {
    sent: 0,
    delivered: 0,
    bytesSent: 0,
    bytesDelivered: 0,
    droppedQueue: 0,
    droppedLoss: 0,
    droppedPartition: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    peakQueueBytes: 0,
    peakQueueDelay: 0,
  };
  onDeliver: (packet: LinkPacket) => void = () => {};
  onDrop: ((packet: LinkPacket, reason: DropReason) => void) | null = null;

  private config: Required<LinkConfig>;
  private readonly loss: LossProcess;
  private readonly jitterRng: Random;
  private readonly reorderRng: Random;
  private readonly duplicateRng: Random;
  private readonly corruptRng: Random;
  private readonly waiting = new Deque<LinkPacket>();
  private waitingBytes = 0;
  /** end of serialization of the newest packet given a transmit slot */
  private busyUntil: Micros = 0;
  /** arrival (before extraDelay) of the newest packet given a transmit slot: jitter never goes below */
  private lastBaseArrival: Micros = 0;
  private startedTxEnd: Micros = 0;
  private startedBaseArrival: Micros = 0;
  private readonly lanes: Lane[] = [];

  constructor(
    private readonly loop: EventLoop,
    rng: Random,
    config: LinkConfig,
    readonly name = "link",
  ) {
    this.config = {
      jitter: 0,
      jitterDistribution: "uniform",
      queueBytes: Infinity,
      loss: noLoss,
      reorderProb: 0,
      reorderDelay: 0,
      duplicateProb: 0,
      corruptProb: 0,
      partitions: [],
      ...config,
    };
    validate(this.config);
    this.config.partitions = [...this.config.partitions];
    this.loss = new LossProcess(this.config.loss, rng.fork("loss"));
    this.jitterRng = rng.fork("jitter");
    this.reorderRng = rng.fork("reorder");
    this.duplicateRng = rng.fork("duplicate");
    this.corruptRng = rng.fork("corrupt");
  }

  /** a snapshot of the current configuration */
  get settings(): Readonly<Required<LinkConfig>> {
    return { ...this.config, partitions: [...this.config.partitions] };
  }

  /** change any part of the configuration at the current virtual time */
  configure(change: Partial<LinkConfig>): void {
    const next = { ...this.config, ...change };
    validate(next);
    if (change.partitions) next.partitions = [...change.partitions];
    this.config = next;
    if (change.loss) this.loss.set(change.loss);
    if (change.rateBps !== undefined || change.delay !== undefined || change.jitter !== undefined) {
      this.retimeWaiting();
    }
  }

  setRate(rateBps: number): void {
    this.configure({ rateBps });
  }

  setDelay(delay: Micros): void {
    this.configure({ delay });
  }

  setLoss(loss: LossModel): void {
    this.configure({ loss });
  }

  setQueueBytes(queueBytes: number): void {
    this.configure({ queueBytes });
  }

  addPartition(start: Micros, end: Micros): void {
    this.configure({ partitions: [...this.config.partitions, { start, end }] });
  }

  /** bytes waiting in the queue now (not counting the packet being serialized) */
  queuedBytes(): number {
    this.releaseStarted(this.loop.now);
    return this.waitingBytes;
  }

  /** how long a packet entering now would wait before its serialization starts */
  queueDelay(): Micros {
    return Math.max(0, this.busyUntil - this.loop.now);
  }

  /** hand a packet to the link; it is delivered through `onDeliver` or dropped */
  send(packet: LinkPacket): void {
    const now = this.loop.now;
    const size = packet.data.byteLength;
    const counters = this.counters;
    counters.sent++;
    counters.bytesSent += size;
    if (this.config.partitions.length > 0 && this.inPartition(now)) return this.drop(packet, "partition");
    if (this.loss.shouldDrop()) return this.drop(packet, "loss");
    this.releaseStarted(now);
    const txStart = this.busyUntil > now ? this.busyUntil : now;
    if (txStart > now) {
      if (this.waitingBytes + size > this.config.queueBytes) return this.drop(packet, "queue");
      this.waiting.push(packet);
      this.waitingBytes += size;
      if (this.waitingBytes > counters.peakQueueBytes) counters.peakQueueBytes = this.waitingBytes;
      if (txStart - now > counters.peakQueueDelay) counters.peakQueueDelay = txStart - now;
    }
    packet.reorderDelay = 0;
    if (this.config.reorderProb > 0 && this.reorderRng.chance(this.config.reorderProb)) {
      packet.reorderDelay = this.config.reorderDelay;
      counters.reordered++;
    }
    this.transmit(packet, txStart);
    if (txStart === now) this.markStarted(packet);
  }

  private transmit(packet: LinkPacket, txStart: Micros): void {
    const config = this.config;
    const serialization =
      config.rateBps === Infinity ? 0 : (packet.data.byteLength * 8_000_000) / config.rateBps;
    packet.txStart = txStart;
    packet.txEnd = txStart + serialization;
    this.busyUntil = packet.txEnd;
    let base = packet.txEnd + config.delay;
    if (config.jitter > 0) {
      base +=
        config.jitterDistribution === "normal"
          ? this.jitterRng.normal(0, config.jitter)
          : this.jitterRng.uniform(-config.jitter, config.jitter);
      if (base < packet.txEnd) base = packet.txEnd;
    }
    if (base < this.lastBaseArrival) base = this.lastBaseArrival;
    this.lastBaseArrival = base;
    packet.baseArrival = base;
    packet.arrival = base + packet.extraDelay + packet.reorderDelay;
    if (packet.reorderDelay > 0) {
      packet.lane = null;
      packet.eventId = this.loop.scheduleWith(packet.arrival, this.arrive, packet);
      return;
    }
    const lane = this.laneFor(packet.extraDelay);
    packet.lane = lane;
    lane.packets.push(packet);
    if (lane.packets.length === 1)
      lane.eventId = this.loop.scheduleWith(packet.arrival, this.laneArrive, lane);
  }

  private laneFor(extraDelay: Micros): Lane {
    for (const lane of this.lanes) if (lane.extraDelay === extraDelay) return lane;
    const lane = new Lane(extraDelay);
    this.lanes.push(lane);
    return lane;
  }

  private readonly laneArrive = (lane: Lane): void => {
    const packet = lane.packets.shift()!;
    // schedule the next head first: delivering may send more packets into this lane
    const next = lane.packets.peek();
    lane.eventId = next === undefined ? -1 : this.loop.scheduleWith(next.arrival, this.laneArrive, lane);
    this.arrive(packet);
  };

  /** take a packet that has not started serializing off the wire schedule */
  private unschedule(packet: LinkPacket): void {
    const lane = packet.lane;
    if (lane === null) {
      this.loop.cancel(packet.eventId);
      return;
    }
    // waiting packets are the newest of their lane, so they are removed from its back
    if (lane.packets.pop() !== packet) throw new Error("link lane out of order");
    if (lane.packets.length === 0) {
      this.loop.cancel(lane.eventId);
      lane.eventId = -1;
    }
  }

  private readonly arrive = (packet: LinkPacket): void => {
    const config = this.config;
    if (config.partitions.length > 0 && this.inPartition(this.loop.now)) {
      return this.drop(packet, "partition");
    }
    const counters = this.counters;
    if (config.corruptProb > 0 && packet.data.byteLength > 0 && this.corruptRng.chance(config.corruptProb)) {
      packet.data = flipRandomBit(packet.data, this.corruptRng);
      counters.corrupted++;
    }
    let duplicate: LinkPacket | null = null;
    if (config.duplicateProb > 0 && this.duplicateRng.chance(config.duplicateProb)) {
      duplicate = new LinkPacket(packet.data.slice(), packet.from, packet.to, packet.extraDelay);
      counters.duplicated++;
    }
    counters.delivered++;
    counters.bytesDelivered += packet.data.byteLength;
    this.onDeliver(packet);
    if (duplicate !== null) {
      counters.delivered++;
      counters.bytesDelivered += duplicate.data.byteLength;
      this.onDeliver(duplicate);
    }
  };

  private drop(packet: LinkPacket, reason: DropReason): void {
    const counters = this.counters;
    if (reason === "queue") counters.droppedQueue++;
    else if (reason === "loss") counters.droppedLoss++;
    else counters.droppedPartition++;
    if (this.onDrop !== null) this.onDrop(packet, reason);
  }

  private inPartition(t: Micros): boolean {
    for (const p of this.config.partitions) if (t >= p.start && t < p.end) return true;
    return false;
  }

  /** forget queued packets whose serialization has started by `now` */
  private releaseStarted(now: Micros): void {
    const waiting = this.waiting;
    while (waiting.length > 0 && waiting.peek()!.txStart <= now) {
      const packet = waiting.shift()!;
      this.waitingBytes -= packet.data.byteLength;
      this.markStarted(packet);
    }
  }

  private markStarted(packet: LinkPacket): void {
    this.startedTxEnd = packet.txEnd;
    this.startedBaseArrival = packet.baseArrival;
  }

  private retimeWaiting(): void {
    const now = this.loop.now;
    this.releaseStarted(now);
    this.busyUntil = this.startedTxEnd;
    this.lastBaseArrival = this.startedBaseArrival;
    for (let i = this.waiting.length - 1; i >= 0; i--) this.unschedule(this.waiting.at(i)!);
    for (let i = 0; i < this.waiting.length; i++) {
      this.transmit(this.waiting.at(i)!, this.busyUntil > now ? this.busyUntil : now);
    }
    // packets re-timed to start now are no longer waiting
    this.releaseStarted(now);
  }
}

function flipRandomBit(data: Uint8Array, rng: Random): Uint8Array {
  const copy = data.slice();
  const bit = rng.int(copy.byteLength * 8);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

function validate(config: Required<LinkConfig>): void {
  if (!(config.rateBps > 0)) throw new RangeError(`rateBps must be > 0, got ${config.rateBps}`);
  for (const key of ["delay", "jitter", "queueBytes", "reorderDelay"] as const) {
    if (!(config[key] >= 0)) throw new RangeError(`${key} must be >= 0, got ${config[key]}`);
  }
  for (const key of ["reorderProb", "duplicateProb", "corruptProb"] as const) {
    if (!(config[key] >= 0 && config[key] <= 1)) throw new RangeError(`${key} must be in [0, 1]`);
  }
  for (const p of config.partitions) {
    if (!(p.end >= p.start)) throw new RangeError(`partition end must be >= start`);
  }
}
