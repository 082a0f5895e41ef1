import type { Micros } from "../time.js";

/** `rateControlMethod` of a destination (spec api.md §6.3). */
export type RateControlMethod = "fixed" | "adaptive" | "fair" | "background";
export const RATE_CONTROL_METHODS: readonly RateControlMethod[] = ["fixed", "adaptive", "fair", "background"];

/**
 * One delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation), produced by
 * DeliveryRateEstimator when an ACK newly acknowledges packets.
 */
export interface RateSample {
  /** bytes per second delivered over `interval`; 0 when the sample is invalid */
  deliveryRate: number;
  /** true when the sender was application- or receiver-limited while the packet was in flight */
  isAppLimited: boolean;
  /** microseconds over which `delivered` bytes were delivered */
  interval: Micros;
  /** bytes delivered in `interval` */
  delivered: number;
  /** connection `delivered` counter when the newest acked packet was sent (round counting) */
  priorDelivered: number;
  /** RTT of the newest acked packet */
  rtt: Micros;
}

/** What an ACK changed, handed to the controller once per ACK frame processed. */
export interface AckEvent {
  now: Micros;
  /** in-flight bytes newly acknowledged by this ACK */
  ackedBytes: number;
  /** the send time of the newest acknowledged packet */
  largestAckedSentTime: Micros;
  /** latest RTT sample (null if the ACK produced none) */
  latestRtt: Micros | null;
  smoothedRtt: Micros;
  minRtt: Micros;
  /** bytes in flight after removing acknowledged and lost packets */
  bytesInFlight: number;
  /** connection-wide delivered byte counter after this ACK */
  totalDelivered: number;
  rateSample: RateSample | null;
}

/** Packets declared lost by loss detection in one pass. */
export interface LossEvent {
  now: Micros;
  lostBytes: number;
  lostPackets: number;
  /** send time of the newest lost packet: a controller reacts once per loss episode */
  largestLostSentTime: Micros;
  bytesInFlight: number;
  /** RFC 9002 §7.6: every packet over a long period was lost */
  persistentCongestion: boolean;
}

export interface ControllerConfig {
  /** wire bytes of a full data datagram (what the pacer spends per packet) */
  maxDatagramSize: number;
  /** bytes per second: the configured `sendRate` (start rate for fixed/fair, target for fixed) */
  sendRate: number;
  /** bytes per second: `sendRateMin` */
  minRate: number;
  /** bytes per second: `sendRateMax` */
  maxRate: number;
  /**
   * the shortest round trip the driver can turn around: window sizes use at least this RTT. On
   * real sockets an ACK waits for the event loop, so a loopback or LAN path whose minimum RTT is
   * tens of microseconds works at milliseconds; a window sized from the minimum would starve it.
   * 0 in the simulator.
   */
  rttFloor?: Micros;
}

/**
 * A rate controller decides how fast (pacing rate) and how much (congestion window) the sender may
 * send. It is a pure state machine: the connection feeds it sends, ACKs and losses with their times.
 * Implementations must keep `pacingRate()` within [minRate, maxRate] of their current bounds.
 */
export interface RateController {
  readonly method: RateControlMethod;
  /** `rateControllerActive` of the Connection structure: false only for `fixed` */
  readonly active: boolean;
  /** bytes per second the pacer releases datagrams at */
  pacingRate(): number;
  /** the most bytes that may be in flight */
  congestionWindow(): number;
  onPacketSent(now: Micros, bytes: number, bytesInFlight: number): void;
  onAck(ev: AckEvent): void;
  onLoss(ev: LossEvent): void;
  /**
   * New bounds in bytes per second (sendRateMin/sendRateMax changed, or a bandwidth share / the
   * receiver's advertised cap lowered the maximum). `sendRate` is the configured rate.
   */
  setRates(sendRate: number, minRate: number, maxRate: number): void;
  /** bytes per second: the estimated bottleneck rate, for model-based controllers; null otherwise */
  bottleneckEstimate?(): number | null;
  /** short name of the internal state (e.g. "startup", "probe_bw"), for statistics and logs */
  stateName(): string;
}
