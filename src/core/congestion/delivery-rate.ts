import type { Micros } from "../time.js";
import { MICROS_PER_SECOND } from "../time.js";
import type { RateSample } from "./controller.js";

/**
 * Per-packet snapshot taken when a packet is sent (draft-cheng-iccrg-delivery-rate-estimation §3.2).
 * The connection stores it with the sent packet and hands it back to `onPacketAcked`.
 */
export interface PacketDeliveryState {
  sentTime: Micros;
  /** bytes that count towards bytes in flight */
  size: number;
  /** connection `delivered` when the packet was sent */
  delivered: number;
  /** connection `deliveredTime` when the packet was sent */
  deliveredTime: Micros;
  /** send time of the first packet of the flight this one belongs to */
  firstSentTime: Micros;
  isAppLimited: boolean;
  /** the pacing rate (bytes/s) the packet was sent at; Infinity for an unpaced sender */
  pacingRate: number;
}

/**
 * Delivery-rate sampling per draft-cheng-iccrg-delivery-rate-estimation. Usage per ACK frame:
 * `onPacketAcked` for every newly acknowledged packet, then `generateSample` once.
 * Lost packets are simply never passed to `onPacketAcked`.
 */
export class DeliveryRateEstimator {
  private deliveredBytes = 0;
  private deliveredTime: Micros = 0;
  private firstSentTime: Micros = 0;
  /** 0 = not app-limited; else the `delivered` value after which samples are no longer app-limited */
  private appLimitedUntil = 0;

  // the newest-sent packet acknowledged since the last generateSample()
  private hasNewAck = false;
  private priorDelivered = 0;
  private priorSentTime: Micros = 0;
  private sampleAppLimited = false;
  private sendElapsed: Micros = 0;
  private ackElapsed: Micros = 0;
  private sampleRtt: Micros = 0;
  private samplePacingRate = Infinity;

  /** Bytes delivered (acknowledged) over the connection's life. */
  get delivered(): number {
    return this.deliveredBytes;
  }

  /** True while samples will still be flagged app-limited. */
  get isAppLimited(): boolean {
    return this.appLimitedUntil !== 0;
  }

  /**
   * Call when sending a packet; `bytesInFlight` excludes the packet being sent. Returns the
   * snapshot to keep with the packet.
   */
  onPacketSent(now: Micros, size: number, bytesInFlight: number, pacingRate = Infinity): PacketDeliveryState {
    if (bytesInFlight <= 0) {
      // Start of a new flight: time the first packet's ACK from now, not from the last idle ACK.
      this.firstSentTime = now;
      this.deliveredTime = now;
    }
    return {
      sentTime: now,
      size,
      delivered: this.deliveredBytes,
      deliveredTime: this.deliveredTime,
      firstSentTime: this.firstSentTime,
      isAppLimited: this.appLimitedUntil !== 0,
      pacingRate,
    };
  }

  /** Call for each packet newly acknowledged by an ACK frame (never twice for one packet). */
  onPacketAcked(now: Micros, pkt: PacketDeliveryState): void {
    this.deliveredBytes += pkt.size;
    this.deliveredTime = now;
    if (!this.hasNewAck || this.isNewer(pkt)) {
      this.hasNewAck = true;
      this.priorDelivered = pkt.delivered;
      this.priorSentTime = pkt.sentTime;
      this.sampleAppLimited = pkt.isAppLimited;
      this.sendElapsed = pkt.sentTime - pkt.firstSentTime;
      this.ackElapsed = now - pkt.deliveredTime;
      this.sampleRtt = now - pkt.sentTime;
      this.samplePacingRate = pkt.pacingRate;
      // The next packets' send interval starts at this packet's send time.
      this.firstSentTime = pkt.sentTime;
    }
  }

  /**
   * Call once per ACK frame after all `onPacketAcked` calls. Returns null when the frame
   * acknowledged nothing new. A sample whose interval is shorter than `minRtt` (ACK compression)
   * is returned with `deliveryRate` 0: it still carries `priorDelivered` for round counting. A
   * sample is at most the pacing rate of its newest packet.
   */
  generateSample(_now: Micros, minRtt: Micros): RateSample | null {
    if (this.appLimitedUntil !== 0 && this.deliveredBytes > this.appLimitedUntil) {
      this.appLimitedUntil = 0;
    }
    if (!this.hasNewAck) return null;
    this.hasNewAck = false;

    const interval = Math.max(this.sendElapsed, this.ackElapsed);
    const delivered = this.deliveredBytes - this.priorDelivered;
    const valid = interval > 0 && interval >= minRtt;
    // A paced sender cannot deliver faster than it sent. Above the pacing rate the interval is
    // compressed (a batch sent in one syscall, ACKs that arrive together), not the path faster.
    const rate = Math.min((delivered * MICROS_PER_SECOND) / interval, this.samplePacingRate);
    return {
      deliveryRate: valid ? rate : 0,
      isAppLimited: this.sampleAppLimited,
      interval: valid ? interval : 0,
      delivered,
      priorDelivered: this.priorDelivered,
      rtt: this.sampleRtt,
    };
  }

  /**
   * The sender had permission to send (pacing and window allowed it) but nothing to send, or the
   * receiver's flow-control window blocked it: samples until the bytes now in flight are
   * delivered reflect the application, not the network.
   */
  markAppLimited(bytesInFlight: number): void {
    this.appLimitedUntil = Math.max(this.deliveredBytes + bytesInFlight, 1);
  }

  private isNewer(pkt: PacketDeliveryState): boolean {
    if (pkt.sentTime !== this.priorSentTime) return pkt.sentTime > this.priorSentTime;
    return pkt.delivered > this.priorDelivered;
  }
}
