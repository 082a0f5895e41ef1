/**
 * One session between a sender and a receiver: handshake, packet numbers, ACKs, loss detection,
 * RTT, pacing, rate control, the control stream, keepalive and idle timeout. Sans-IO: the driver
 * hands in datagrams and the time, and polls for datagrams to send and the next deadline.
 * What the bytes mean (transfers, files, blocks) belongs to the ConnectionHandler above it.
 */
import type { Micros } from "../time.js";
import { createController, DeliveryRateEstimator } from "../congestion/index.js";
import type { RateControlMethod, RateController } from "../congestion/controller.js";
import {
  decodeFrames,
  encodeCloseFrame,
  encodeHandshakeFrame,
  FrameType,
  isAckEliciting,
  MAX_CONTROL_FRAME_OVERHEAD,
  MAX_DATA_FRAME_OVERHEAD,
  writeAckFrame,
  ackFrameSize,
  writeControlFrame,
  type DataFrame,
  type Frame,
} from "../wire/frames.js";
import {
  HEADER_SIZE,
  MAX_PACKET_NUMBER,
  PacketType,
  PROTOCOL_VERSION,
  sessionIdBytes,
  writeHeader,
} from "../wire/packet.js";
import { DecodeError } from "../wire/varint.js";
import { ChecksumProtection, MAX_PROTECTION_OVERHEAD, type PacketProtection } from "../wire/protection.js";
import { AckTracker } from "./ack-tracker.js";
import { ControlRecvStream, ControlSendStream, ProtocolViolation } from "./control-stream.js";
import { isFailure, type HandshakeInitiator, type HandshakeOutcome, type PeerInfo } from "./handshake.js";
import { Pacer } from "./pacer.js";
import { RttEstimator } from "./rtt.js";
import { SentPackets, type SentPacket } from "./sent-packets.js";
import { ConnectionCounters } from "./counters.js";

export interface ConnectionConfig {
  datagramSize: number;
  rateControlMethod: RateControlMethod;
  /** bytes per second */
  sendRate: number;
  minRate: number;
  maxRate: number;
  keepaliveInterval: Micros;
  peerTimeout: Micros;
  maxAckDelay: Micros;
  ackEveryPackets: number;
  /** how late a driver may be before the pacer stops letting it catch up */
  pacerMaxBurst: Micros;
  /** window sizes assume at least this RTT (the driver's turnaround; see ControllerConfig.rttFloor) */
  windowRttFloor: Micros;
}

export const DEFAULT_CONNECTION_CONFIG: ConnectionConfig = {
  datagramSize: 1400,
  rateControlMethod: "adaptive",
  sendRate: 10_000_000 / 8,
  minRate: 100_000 / 8,
  maxRate: 10_000_000_000 / 8,
  keepaliveInterval: 5_000_000,
  peerTimeout: 15_000_000,
  maxAckDelay: 2_000,
  ackEveryPackets: 8,
  pacerMaxBurst: 2_000,
  windowRttFloor: 5_000,
};

/** What the layer above the transport supplies and learns. */
export interface ConnectionHandler {
  onEstablished(peer: PeerInfo): void;
  onControlMessage(message: Uint8Array): void;
  onClosed(code: string, reason: string, byPeer: boolean): void;
  /** true when a DATA frame could be written now */
  hasData(): boolean;
  /**
   * Writes one DATA frame at `pos` within `room` bytes, noting what it carries on `packet`; -1 if
   * none. `probe`: the packet is a probe-timeout probe, which may repeat data already in flight.
   */
  writeData(buf: Uint8Array, pos: number, room: number, packet: SentPacket, probe: boolean): number;
  onDataAcked(packet: SentPacket): void;
  onDataLost(packet: SentPacket): void;
  /** A DATA frame arrived; false means it cannot be taken now (the packet is then not acknowledged). */
  onData(frame: DataFrame): boolean;
  /** bytes the local receiver can still buffer (advertised in ACKs) */
  receiveWindow(): number;
  /** bytes per second this receiver allows the peer; 0 = no cap */
  rateCap(): number;
}

export type ConnectionState = "handshaking" | "established" | "closed";
export type Role = "initiator" | "responder";

const INITIAL_PEER_WINDOW = 64 * 1024 * 1024;
const MAX_PTO_INTERVAL: Micros = 2_000_000;
/**
 * A control message written with `repeat` that is still unacknowledged this many packets after it
 * first went out is sent once more. A peer cannot use (nor acknowledge) the data of a transfer
 * whose announcement it lacks, so a lost announcement would otherwise show only at the probe
 * timeout; a copy some packets on, outside a short loss burst, costs a few hundred bytes.
 */
const CONTROL_REPEAT_AFTER_PACKETS = 16;
const HANDSHAKE_RETRY_INITIAL: Micros = 1_000_000;

export class Connection {
  state: ConnectionState = "handshaking";
  readonly counters = new ConnectionCounters();
  readonly rtt = new RttEstimator();
  peer: PeerInfo | null = null;
  closeCode: string | null = null;
  closeReason: string | null = null;
  connectTime: Micros | null = null;
  /** bytes per second of the latest valid delivery-rate sample */
  deliveryRate = 0;

  private controller: RateController;
  private readonly delivery = new DeliveryRateEstimator();
  private readonly sent = new SentPackets();
  private readonly acks: AckTracker;
  private readonly pacer: Pacer;
  private readonly controlOut = new ControlSendStream();
  /**
   * Control data sent for the first time, as (packet number it is due again at, offset, length):
   * see CONTROL_REPEAT_AFTER_PACKETS.
   */
  private readonly controlRepeats: number[] = [];
  private readonly controlIn = new ControlRecvStream();
  private protection: PacketProtection = new ChecksumProtection();
  private nextPn = 0;
  private ptoCount = 0;
  private probesDue = 0;
  private peerWindow = INITIAL_PEER_WINDOW;
  private peerRateCap = 0;
  private externalCap = Infinity;
  private lastRecv: Micros;
  private lastAckElicitingSend: Micros;
  private pendingClose: { code: string; reason: string } | null = null;
  private handshakeRetryAt: Micros;
  /** when each Initial of the handshake was sent */
  private readonly initialsSent: Micros[] = [];
  private handshakeInterval = HANDSHAKE_RETRY_INITIAL;
  private handshakeReply: Uint8Array | null = null;
  private handshakeReplyDue = false;
  private datagramSize: number;
  private readonly idBytes: Uint8Array;
  private readonly checksum = new ChecksumProtection();

  constructor(
    readonly role: Role,
    readonly sessionId: string,
    private config: ConnectionConfig,
    private readonly handler: ConnectionHandler,
    now: Micros,
    private readonly handshake: { initiator?: HandshakeInitiator },
  ) {
    this.datagramSize = config.datagramSize;
    this.idBytes = sessionIdBytes(sessionId);
    this.controller = this.makeController(config.rateControlMethod);
    this.acks = new AckTracker(config.ackEveryPackets, config.maxAckDelay);
    this.pacer = new Pacer(config.pacerMaxBurst);
    this.lastRecv = now;
    this.lastAckElicitingSend = now;
    this.handshakeRetryAt = now;
  }

  /** Bytes of file data one DATA packet carries, the same for every cipher. */
  static blockSizeFor(datagramSize: number): number {
    return datagramSize - HEADER_SIZE - MAX_PROTECTION_OVERHEAD - MAX_DATA_FRAME_OVERHEAD;
  }

  get blockSize(): number {
    return Connection.blockSizeFor(this.datagramSize);
  }

  /** the current seal/open of Established packets (its statistics, for an AEAD) */
  get packetProtection(): PacketProtection {
    return this.protection;
  }

  get rateController(): RateController {
    return this.controller;
  }

  get bytesInFlight(): number {
    return this.sent.bytesInFlight;
  }

  /** Pacing rate after every bound, in bytes per second. */
  pacingRate(): number {
    return Math.min(this.controller.pacingRate(), this.effectiveMax());
  }

  receiverRateCap(): number | null {
    return this.peerRateCap > 0 ? this.peerRateCap : null;
  }

  private effectiveMax(): number {
    let max = this.config.maxRate;
    if (this.peerRateCap > 0) max = Math.min(max, this.peerRateCap);
    return Math.min(max, this.externalCap);
  }

  private makeController(method: RateControlMethod): RateController {
    const max = this.effectiveMax();
    return createController(method, {
      maxDatagramSize: this.datagramSize,
      sendRate: this.config.sendRate,
      minRate: Math.min(this.config.minRate, max),
      maxRate: max,
      rttFloor: this.config.windowRttFloor,
    });
  }

  private applyRates(): void {
    const max = this.effectiveMax();
    this.controller.setRates(this.config.sendRate, Math.min(this.config.minRate, max), max);
  }

  /** Changes rates and/or method while running (setSendRate, updateDestination). */
  reconfigure(
    patch: Partial<Pick<ConnectionConfig, "rateControlMethod" | "sendRate" | "minRate" | "maxRate">>,
  ): void {
    const methodChanged =
      patch.rateControlMethod !== undefined && patch.rateControlMethod !== this.config.rateControlMethod;
    this.config = { ...this.config, ...patch };
    if (methodChanged) this.controller = this.makeController(this.config.rateControlMethod);
    else this.applyRates();
  }

  /** A server-wide bandwidth share (bytes per second; Infinity = none). */
  setExternalCap(bytesPerSecond: number): void {
    if (bytesPerSecond === this.externalCap) return;
    this.externalCap = bytesPerSecond;
    this.applyRates();
  }

  /**
   * Queues a control message for reliable, ordered delivery. `repeat`: sent once more if still
   * unacknowledged CONTROL_REPEAT_AFTER_PACKETS later (for messages that gate the data after them).
   */
  sendControl(message: Uint8Array, repeat = false): void {
    this.controlOut.write(message, repeat);
  }

  close(code: string, reason: string): void {
    if (this.state === "closed" || this.pendingClose) return;
    this.pendingClose = { code, reason };
  }

  /** Responder side: the endpoint ran the handshake on the Initial packet and hands over the result. */
  acceptHandshake(now: Micros, pn: number, reply: Uint8Array, outcome: HandshakeOutcome): void {
    this.handshakeReply = reply;
    this.handshakeReplyDue = true;
    this.acks.onPacket(now, pn, true, true);
    this.establish(now, outcome);
  }

  /** Responder side: a retransmitted Initial means our reply was lost. */
  onRepeatedInitial(): void {
    if (this.handshakeReply) this.handshakeReplyDue = true;
  }

  private establish(now: Micros, outcome: HandshakeOutcome): void {
    this.peer = outcome.peer;
    this.datagramSize = outcome.datagramSize;
    this.protection = outcome.protection;
    this.state = "established";
    this.connectTime = now;
    this.lastRecv = now;
    this.handler.onEstablished(outcome.peer);
  }

  private finish(code: string, reason: string, byPeer: boolean): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.closeCode = code;
    this.closeReason = reason;
    for (const p of this.sent.drainAll()) if (p.dataTransfer >= 0) this.handler.onDataLost(p);
    this.handler.onClosed(code, reason, byPeer);
  }

  /** A packet for this session whose header the endpoint parsed. */
  handlePacket(now: Micros, type: PacketType, pn: number, datagram: Uint8Array): void {
    if (this.state === "closed") return;
    const protection = type === PacketType.Established ? this.protection : this.checksum;
    const payload = protection.open(datagram, HEADER_SIZE, pn);
    if (payload === null) {
      this.counters.packetsInvalid++;
      return;
    }
    if (this.acks.isDuplicate(pn)) {
      this.counters.packetsDuplicate++;
      this.acks.onPacket(now, pn, true, true);
      return;
    }
    let frames: Frame[];
    try {
      frames = decodeFrames(payload);
    } catch (e) {
      if (e instanceof DecodeError) {
        this.counters.packetsInvalid++;
        return;
      }
      throw e;
    }
    if (type === PacketType.Handshake) {
      this.onHandshakePacket(now, frames);
      if (this.state !== "established") return;
    } else if (type === PacketType.Initial) {
      this.onRepeatedInitial();
      return;
    } else if (this.state !== "established") {
      this.counters.packetsInvalid++;
      return;
    }
    this.counters.packetsRecv++;
    this.counters.bytesRecv += datagram.length;
    this.counters.lastRecvTime = now;
    this.lastRecv = now;
    let eliciting = false;
    let immediate = false;
    for (const f of frames) {
      if (isAckEliciting(f)) eliciting = true;
      switch (f.type) {
        case FrameType.Ack:
          this.onAckFrame(now, f.ranges, f.ackDelay, f.receiveWindow, f.rateCap);
          break;
        case FrameType.Data:
          if (!this.handler.onData(f)) return; // not taken: leave the packet unacknowledged
          this.counters.dataPacketsRecv++;
          break;
        case FrameType.Control:
          immediate = true;
          if (!this.onControlChunk(f.offset, f.data)) return;
          break;
        case FrameType.Ping:
          immediate = true;
          break;
        case FrameType.Close:
          this.finish(f.code, f.reason, true);
          return;
        default:
          break;
      }
      if (this.isClosed()) return;
    }
    this.acks.onPacket(now, pn, eliciting, immediate);
  }

  private onHandshakePacket(now: Micros, frames: Frame[]): void {
    if (this.role !== "initiator" || this.state !== "handshaking") return;
    for (const f of frames) {
      if (f.type === FrameType.Close) {
        this.finish(f.code, f.reason, true);
        return;
      }
      if (f.type !== FrameType.Handshake || !this.handshake.initiator) continue;
      const result = this.handshake.initiator.onReply(f.data);
      if (isFailure(result)) {
        this.counters.packetsInvalid++;
        if (result.drop) continue;
        this.finish(result.error, result.message, false);
        return;
      }
      // The handshake round trip is the first RTT sample, unless a retransmitted Initial makes
      // it ambiguous which one was answered (Karn).
      if (this.initialsSent.length === 1) this.rtt.update(now, now - this.initialsSent[0]!, 0);
      this.establish(now, result);
      return;
    }
  }

  private onControlChunk(offset: number, data: Uint8Array): boolean {
    let messages: Uint8Array[];
    try {
      messages = this.controlIn.onChunk(offset, data);
    } catch (e) {
      if (e instanceof ProtocolViolation) {
        this.close("PROTOCOL", e.message);
        return false;
      }
      throw e;
    }
    for (const m of messages) {
      this.handler.onControlMessage(m);
      if (this.isClosed()) return false;
    }
    return true;
  }

  private onAckFrame(
    now: Micros,
    ranges: Array<[number, number]>,
    ackDelay: Micros,
    window: number,
    rateCap: number,
  ): void {
    const result = this.sent.onAck(now, ranges, this.rtt.smoothed, this.rtt.latest);
    if (result === null) {
      this.counters.acksInvalid++;
      return;
    }
    this.peerWindow = window;
    if (rateCap !== this.peerRateCap) {
      this.peerRateCap = rateCap;
      this.applyRates();
    }
    let latestRtt: Micros | null = null;
    if (result.largestNewlyAcked?.ackEliciting) {
      latestRtt = now - result.largestNewlyAcked.sentTime;
      this.rtt.update(now, latestRtt, Math.min(ackDelay, this.config.maxAckDelay * 4));
    }
    if (result.newlyAcked.length > 0) this.ptoCount = 0;
    let ackedBytes = 0;
    let largestAckedSentTime = 0;
    for (const p of result.newlyAcked) {
      if (p.delivery) this.delivery.onPacketAcked(now, p.delivery);
      if (p.inFlight) ackedBytes += p.size;
      largestAckedSentTime = Math.max(largestAckedSentTime, p.sentTime);
      if (p.controlLength > 0) this.controlOut.onAcked(p.controlOffset, p.controlLength);
      if (p.dataTransfer >= 0) this.handler.onDataAcked(p);
    }
    this.onLost(now, result.lost);
    if (ackedBytes > 0) {
      const rateSample = this.delivery.generateSample(now, this.rtt.min);
      if (rateSample && rateSample.deliveryRate > 0) this.deliveryRate = rateSample.deliveryRate;
      this.controller.onAck({
        now,
        ackedBytes,
        largestAckedSentTime,
        latestRtt,
        smoothedRtt: this.rtt.smoothed,
        minRtt: this.rtt.min,
        bytesInFlight: this.sent.bytesInFlight,
        totalDelivered: this.delivery.delivered,
        rateSample,
      });
    }
  }

  private onLost(now: Micros, lost: SentPacket[]): void {
    if (lost.length === 0) return;
    let lostBytes = 0;
    let largestLostSentTime = 0;
    let earliest = Infinity;
    for (const p of lost) {
      if (p.inFlight) lostBytes += p.size;
      largestLostSentTime = Math.max(largestLostSentTime, p.sentTime);
      earliest = Math.min(earliest, p.sentTime);
      if (p.controlLength > 0) this.controlOut.onLost(p.controlOffset, p.controlLength);
      if (p.dataTransfer >= 0) {
        this.counters.dataPacketsLost++;
        this.handler.onDataLost(p);
      }
    }
    if (lostBytes === 0) return;
    const span = largestLostSentTime - earliest;
    this.controller.onLoss({
      now,
      lostBytes,
      lostPackets: lost.length,
      largestLostSentTime,
      bytesInFlight: this.sent.bytesInFlight,
      persistentCongestion: this.rtt.hasSample && span > 3 * this.rtt.pto(this.config.maxAckDelay),
    });
  }

  private ptoDeadline(): Micros | null {
    if (this.sent.ackElicitingInFlight === 0) return null;
    const interval = Math.min(this.rtt.pto(this.config.maxAckDelay) * 2 ** this.ptoCount, MAX_PTO_INTERVAL);
    return this.sent.lastAckElicitingSent + interval;
  }

  /** The next time handleTimeout should run; null when nothing is pending. */
  pollTimeout(): Micros | null {
    if (this.state === "closed") return null;
    if (this.pendingClose || this.handshakeReplyDue) return 0;
    let t = this.lastRecv + this.config.peerTimeout;
    if (this.state === "handshaking") return Math.min(t, this.handshakeRetryAt);
    const ack = this.acks.ackDeadline();
    if (ack !== null) t = Math.min(t, ack);
    if (this.sent.lossTime !== null) t = Math.min(t, this.sent.lossTime);
    else {
      const pto = this.ptoDeadline();
      if (pto !== null) t = Math.min(t, pto);
    }
    if (this.probesDue > 0) return 0;
    if (this.keepaliveDue() !== null) t = Math.min(t, this.keepaliveDue()!);
    if (this.wantsToSend()) t = Math.min(t, this.pacer.nextSendTime());
    return t;
  }

  /** The initiator pings an idle session (nothing in flight) to keep NAT state and RTT fresh. */
  private keepaliveDue(): Micros | null {
    if (this.role !== "initiator" || this.sent.ackElicitingInFlight > 0) return null;
    return this.lastAckElicitingSend + this.config.keepaliveInterval;
  }

  private wantsToSend(): boolean {
    if (this.sent.bytesInFlight + this.datagramSize > this.controller.congestionWindow()) return false;
    if (this.controlOut.hasPending()) return true;
    return this.sent.bytesInFlight + this.datagramSize <= this.peerWindow && this.handler.hasData();
  }

  handleTimeout(now: Micros): void {
    if (this.state === "closed") return;
    if (now >= this.lastRecv + this.config.peerTimeout) {
      const what = this.state === "handshaking" ? "no handshake reply" : "no reply from the receiver";
      this.finish("TIMEOUT", `${what} for ${Math.round(this.config.peerTimeout / 1e6)} s`, false);
      return;
    }
    if (this.state !== "established") return;
    if (this.sent.lossTime !== null && now >= this.sent.lossTime) {
      this.onLost(now, this.sent.detectLost(now, this.rtt.smoothed, this.rtt.latest));
    } else {
      const pto = this.ptoDeadline();
      if (pto !== null && now >= pto) {
        this.ptoCount++;
        this.probesDue = 2;
        this.counters.ptoCount++;
        // the probes carry unacknowledged control data first: without it (a lost transfer
        // announcement) the peer may acknowledge nothing else, and no loss would ever be detected
        this.controlOut.resendUnacked();
      }
    }
  }

  /** The next datagram to send now, or null. Call repeatedly until null. */
  pollTransmit(now: Micros): Uint8Array | null {
    if (this.state === "closed") return null;
    if (this.pendingClose) return this.buildClose(now);
    if (this.state === "handshaking") {
      if (this.role !== "initiator" || !this.handshake.initiator || now < this.handshakeRetryAt) return null;
      this.handshakeRetryAt = now + this.handshakeInterval;
      this.handshakeInterval = Math.min(this.handshakeInterval * 2, MAX_PTO_INTERVAL * 2);
      this.initialsSent.push(now);
      return this.buildSimple(
        now,
        PacketType.Initial,
        encodeHandshakeFrame(this.handshake.initiator.hello()),
        true,
      );
    }
    if (this.handshakeReplyDue && this.handshakeReply) {
      this.handshakeReplyDue = false;
      return this.buildSimple(now, PacketType.Handshake, encodeHandshakeFrame(this.handshakeReply), false);
    }
    if (this.acks.needsAck(now)) return this.buildAckOnly(now);
    const keepalive = this.keepaliveDue();
    if (keepalive !== null && now >= keepalive && !this.wantsToSend()) return this.buildPing(now);
    const probe = this.probesDue > 0;
    if (!probe) {
      if (!this.pacer.canSend(now)) return null;
      if (this.sent.bytesInFlight + this.datagramSize > this.controller.congestionWindow()) return null;
    }
    const packet = this.buildEliciting(now, probe);
    if (packet) {
      if (probe) this.probesDue--;
      return packet;
    }
    if (!probe) this.delivery.markAppLimited(this.sent.bytesInFlight);
    return null;
  }

  private newPacket(now: Micros, size: number, eliciting: boolean): SentPacket {
    return {
      pn: this.nextPn,
      sentTime: now,
      size,
      ackEliciting: eliciting,
      inFlight: eliciting,
      delivery: null,
      dataTransfer: -1,
      dataFile: -1,
      dataBlock: -1,
      controlOffset: 0,
      controlLength: 0,
      acked: false,
      lost: false,
    };
  }

  private allocate(type: PacketType): { buf: Uint8Array; pn: number } {
    if (this.nextPn > MAX_PACKET_NUMBER) throw new Error("packet numbers exhausted");
    // allocUnsafe draws from Node's shared slab: no zero-fill, few allocations. Every byte sent is written.
    const buf = Buffer.allocUnsafe(this.datagramSize);
    const pn = this.nextPn;
    writeHeader(
      buf,
      { version: PROTOCOL_VERSION, type, sessionId: this.sessionId, packetNumber: pn },
      this.idBytes,
    );
    return { buf, pn };
  }

  private seal(buf: Uint8Array, end: number, pn: number, type: PacketType): Uint8Array {
    const protection = type === PacketType.Established ? this.protection : this.checksum;
    return buf.subarray(0, protection.seal(buf, HEADER_SIZE, end, pn));
  }

  private record(now: Micros, p: SentPacket, datagram: Uint8Array): Uint8Array {
    p.size = datagram.length;
    const pacingRate = p.ackEliciting ? this.pacingRate() : 0;
    if (p.ackEliciting) {
      p.delivery = this.delivery.onPacketSent(now, p.size, this.sent.bytesInFlight, pacingRate);
      this.lastAckElicitingSend = now;
    }
    this.sent.onSent(p);
    this.nextPn++;
    this.counters.packetsSent++;
    this.counters.bytesSent += datagram.length;
    this.counters.lastSendTime = now;
    if (p.ackEliciting) {
      this.controller.onPacketSent(now, p.size, this.sent.bytesInFlight);
      this.pacer.onSend(now, p.size, pacingRate);
    }
    return datagram;
  }

  private buildSimple(now: Micros, type: PacketType, frame: Uint8Array, eliciting: boolean): Uint8Array {
    const { buf, pn } = this.allocate(type);
    buf.set(frame, HEADER_SIZE);
    const datagram = this.seal(buf, HEADER_SIZE + frame.length, pn, type);
    // Handshake flights are retried by their own timer, not by loss detection.
    const p = this.newPacket(now, datagram.length, false);
    this.lastAckElicitingSend = eliciting ? now : this.lastAckElicitingSend;
    return this.record(now, p, datagram);
  }

  private buildClose(now: Micros): Uint8Array {
    const { code, reason } = this.pendingClose!;
    this.pendingClose = null;
    const type = this.state === "established" ? PacketType.Established : PacketType.Handshake;
    const datagram = this.buildSimple(now, type, encodeCloseFrame(code, reason), false);
    this.finish(code, reason, false);
    return datagram;
  }

  private ackFrameInto(now: Micros, buf: Uint8Array, pos: number, room: number): number {
    const ack = this.acks.buildAck(
      now,
      Math.max(0, Math.floor(this.handler.receiveWindow())),
      this.handler.rateCap(),
    );
    while (ack.ranges.length > 1 && ackFrameSize(ack) > room) ack.ranges.pop();
    if (ackFrameSize(ack) > room) return pos;
    this.acks.onAckSent();
    return writeAckFrame(buf, pos, ack);
  }

  private buildAckOnly(now: Micros): Uint8Array {
    const { buf, pn } = this.allocate(PacketType.Established);
    const end = this.ackFrameInto(
      now,
      buf,
      HEADER_SIZE,
      this.datagramSize - HEADER_SIZE - this.protection.overhead,
    );
    this.counters.acksSent++;
    return this.record(now, this.newPacket(now, 0, false), this.seal(buf, end, pn, PacketType.Established));
  }

  private buildPing(now: Micros): Uint8Array {
    const { buf, pn } = this.allocate(PacketType.Established);
    buf[HEADER_SIZE] = FrameType.Ping;
    this.counters.pingsSent++;
    const datagram = this.seal(buf, HEADER_SIZE + 1, pn, PacketType.Established);
    return this.record(now, this.newPacket(now, 0, true), datagram);
  }

  /** A packet with control or data (or, for a probe, at least a PING). */
  private buildEliciting(now: Micros, probe: boolean): Uint8Array | null {
    const room = this.datagramSize - HEADER_SIZE - this.protection.overhead;
    const { buf, pn } = this.allocate(PacketType.Established);
    const p = this.newPacket(now, 0, true);
    let pos = HEADER_SIZE;
    const left = room;
    const repeats = this.controlRepeats;
    while (repeats.length > 0 && repeats[0]! <= pn) {
      this.controlOut.repeat(repeats[1]!, repeats[2]!);
      repeats.splice(0, 3);
    }
    if (this.controlOut.hasPending() && left > MAX_CONTROL_FRAME_OVERHEAD) {
      const chunk = this.controlOut.next(left - MAX_CONTROL_FRAME_OVERHEAD);
      if (chunk) {
        p.controlOffset = chunk[0];
        p.controlLength = chunk[1].length;
        pos = writeControlFrame(buf, pos, chunk[0], chunk[1]);
        if (chunk[2]) repeats.push(pn + CONTROL_REPEAT_AFTER_PACKETS, chunk[0], chunk[1].length);
      }
    } else if (probe || this.sent.bytesInFlight + this.datagramSize <= this.peerWindow) {
      const end = this.handler.writeData(buf, pos, room - (pos - HEADER_SIZE), p, probe);
      if (end >= 0) {
        pos = end;
        this.counters.dataPacketsSent++;
      }
    }
    if (p.controlLength === 0 && p.dataTransfer < 0) {
      if (!probe) return null;
      buf[pos++] = FrameType.Ping;
    }
    return this.record(now, p, this.seal(buf, pos, pn, PacketType.Established));
  }

  isClosed(): boolean {
    return this.state === "closed";
  }
}
