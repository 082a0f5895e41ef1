// Builders for synthetic controller events (not a test file).
import type { AckEvent, LossEvent, RateController } from "../../src/core/congestion/controller.js";

export function ackEvent(ev: Partial<AckEvent>): AckEvent {
  return {
    now: 0,
    ackedBytes: 1400,
    largestAckedSentTime: 0,
    latestRtt: 50_000,
    smoothedRtt: 50_000,
    minRtt: 50_000,
    bytesInFlight: 0,
    totalDelivered: 0,
    rateSample: null,
    ...ev,
  };
}

export function lossEvent(ev: Partial<LossEvent>): LossEvent {
  return {
    now: 0,
    lostBytes: 1400,
    lostPackets: 1,
    largestLostSentTime: 0,
    bytesInFlight: 0,
    persistentCongestion: false,
    ...ev,
  };
}

/**
 * Synthetic sender that keeps the window full: one ACK per datagram, evenly spread over each
 * round trip, every ACK for a packet sent one RTT earlier.
 */
export class Driver {
  now = 0;
  constructor(
    readonly c: RateController,
    readonly mss: number,
    public rtt = 100_000,
  ) {}

  round(opts: { rttNow?: number; inFlightFraction?: number } = {}): void {
    const rtt = opts.rttNow ?? this.rtt;
    const packets = Math.max(1, Math.floor(this.c.congestionWindow() / this.mss));
    for (let i = 0; i < packets; i++) {
      this.now += rtt / packets;
      const window = this.c.congestionWindow();
      this.c.onAck(
        ackEvent({
          now: this.now,
          ackedBytes: this.mss,
          largestAckedSentTime: this.now - rtt,
          latestRtt: rtt,
          smoothedRtt: rtt,
          bytesInFlight: (opts.inFlightFraction ?? 1) * window - this.mss,
        }),
      );
    }
  }

  loss(sentAgo: number): void {
    this.c.onLoss(lossEvent({ now: this.now, lostBytes: this.mss, largestLostSentTime: this.now - sentAgo }));
  }
}
