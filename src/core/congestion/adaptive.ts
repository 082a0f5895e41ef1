import type { Micros } from "../time.js";
import {
  AckAggregation,
  type QueueDrainCheck,
  RoundRtt,
  type StandingQueue,
  StandingQueueDetector,
  UpwardProbe,
} from "./adaptive-signals.js";
import { type AdaptiveTuning, DEFAULT_ADAPTIVE_TUNING } from "./adaptive-tuning.js";
import { bytesOver, INITIAL_RTT, RateBounds } from "./common.js";
import type { AckEvent, ControllerConfig, LossEvent, RateController, RateSample } from "./controller.js";
import { WindowedFilter } from "./windowed-filter.js";

export { type AdaptiveTuning, DEFAULT_ADAPTIVE_TUNING } from "./adaptive-tuning.js";

type AdaptiveState = "startup" | "drain" | "probe_bw" | "probe_rtt";

/**
 * `adaptive`: model-based rate control after BBR (draft-cardwell-iccrg-bbr-congestion-control),
 * pacing at the estimated bottleneck bandwidth and bounding in-flight data to 2 × BDP. Random
 * loss is ignored. A heavy loss round (BBRv2 idea, simplified) or a standing queue cuts the
 * bandwidth estimate to what was actually delivered. Startup ends when the queue starts rising,
 * when the estimate stops growing, or on heavy loss that the next round confirms (no growth);
 * probe_bw goes back to startup when a probe finds room. All constants are in `AdaptiveTuning`.
 */
export class AdaptiveRateController implements RateController {
  readonly method = "adaptive";
  readonly active = true;
  private readonly bounds: RateBounds;
  private readonly tuning: AdaptiveTuning;
  private state: AdaptiveState = "startup";

  private readonly bandwidth: WindowedFilter;
  private minRtt: Micros = Infinity;
  private minRttStamp: Micros = 0;
  private readonly aggregation: AckAggregation;
  private readonly queue: StandingQueueDetector;
  /** a queue building (ends startup) or standing (vetoes a return to startup) */
  private readonly roundRtt: RoundRtt;

  private roundCount = 0;
  private nextRoundDelivered = 0;
  private roundStart = false;
  private roundLostBytes = 0;
  private roundLostPackets = 0;
  private roundAckedBytes = 0;
  private roundMaxDeliveryRate = 0;
  private roundsSinceQueueReaction = 0;
  private lastQueueRound = -Infinity;

  private filledPipe = false;
  /** stays true after the first startup: the start-rate floor only applies before it */
  private everFilledPipe = false;
  private fullBandwidth = 0;
  private fullBandwidthCount = 0;
  /** a heavy loss in startup, judged by the next round: no growth in it ends startup */
  private startupLossPending = false;
  /** a heavy loss was judged not to be the bottleneck: further ones are random loss, ignored */
  private startupLossTolerated = false;

  private drainPacingGain: number;
  private drainWindowGain: number;
  private drainStartRound = 0;
  private queueDrain: QueueDrainCheck | null = null;
  private cyclePhase = 0;
  private cycleStamp: Micros = 0;
  private readonly probe: UpwardProbe;
  private probeRttDoneStamp: Micros | null = null;
  private probeRttRoundDone = false;

  private readonly rttFloor: Micros;

  constructor(config: ControllerConfig, tuning: Partial<AdaptiveTuning> = {}) {
    this.rttFloor = config.rttFloor ?? 0;
    this.bounds = new RateBounds(config);
    const t = (this.tuning = { ...DEFAULT_ADAPTIVE_TUNING, ...tuning });
    this.bandwidth = WindowedFilter.max(t.bandwidthWindowRounds);
    this.aggregation = new AckAggregation(t.bandwidthWindowRounds);
    this.queue = new StandingQueueDetector(t.queueDelayThreshold, t.queueDelayFloor);
    this.roundRtt = new RoundRtt(t.startupQueueThreshold, t.startupQueueFloor, t.startupQueueMinSamples);
    this.probe = new UpwardProbe(t.probeStartupGrowth);
    this.drainPacingGain = 1 / t.startupGain;
    this.drainWindowGain = t.startupGain;
  }

  /** Bottleneck bandwidth estimate in bytes per second (0 before the first sample). */
  bottleneckEstimate(): number | null {
    return this.bandwidth.hasValue ? this.bandwidthEstimate() : null;
  }

  bandwidthEstimate(): number {
    return this.bandwidth.best();
  }

  /** Windowed min RTT (Infinity before the first sample). */
  minRttEstimate(): Micros {
    return this.minRtt;
  }

  pacingRate(): number {
    if (!this.bandwidth.hasValue) return this.bounds.startRate;
    let rate = this.pacingGain() * this.bandwidthEstimate();
    if (this.state === "startup" && !this.everFilledPipe) rate = Math.max(rate, this.bounds.startRate);
    return this.bounds.clamp(rate);
  }

  congestionWindow(): number {
    const rtt = Math.max(Number.isFinite(this.minRtt) ? this.minRtt : INITIAL_RTT, this.rttFloor);
    const mss = this.bounds.maxDatagramSize;
    if (this.state === "probe_rtt") {
      return this.bounds.window(this.tuning.probeRttWindowDatagrams * mss, rtt);
    }
    let rate = this.bounds.clamp(this.bandwidthEstimate());
    if (this.state === "startup" && !this.everFilledPipe) rate = Math.max(rate, this.bounds.startRate);
    const aggregation = this.filledPipe ? this.aggregation.allowance : 0;
    const window =
      this.windowGain() * bytesOver(rate, rtt) + aggregation + this.tuning.windowExtraDatagrams * mss;
    return this.bounds.window(window, rtt);
  }

  onPacketSent(): void {}

  onAck(ev: AckEvent): void {
    const rs = ev.rateSample;
    const rtt = ev.latestRtt ?? rs?.rtt ?? null;
    this.roundAckedBytes += ev.ackedBytes;
    this.updateRound(rs, ev.totalDelivered);
    this.updateBandwidth(rs);
    if (this.roundStart) this.endRound(ev);
    this.aggregation.update(
      ev.now,
      ev.ackedBytes,
      this.bandwidthEstimate(),
      this.roundCount,
      this.tuning.ackAggregationMax,
    );
    if (rtt !== null && rtt > 0) this.onRttSample(ev, rtt);
    this.checkFullPipe(rs);
    this.updateStateOnAck(ev);
    this.updateMinRtt(ev.now, rtt);
    this.updateProbeRtt(ev);
  }

  onLoss(ev: LossEvent): void {
    this.roundLostBytes += ev.lostBytes;
    this.roundLostPackets += ev.lostPackets;
    if (ev.persistentCongestion && this.bandwidth.hasValue) {
      // The path went dark for several PTOs: restart the search from a lower estimate.
      const bw = this.bandwidthEstimate() * this.tuning.persistentCongestionFactor;
      this.bandwidth.reset(this.roundCount, bw);
      this.enterStartup();
    }
  }

  setRates(sendRate: number, minRate: number, maxRate: number): void {
    const oldMax = this.bounds.maxRate;
    this.bounds.set(sendRate, minRate, maxRate);
    // If the old maximum was what held us back, the model knows nothing above it: search again.
    if (maxRate > oldMax && this.bandwidthEstimate() >= 0.9 * oldMax && this.state !== "probe_rtt") {
      this.enterStartup();
    }
  }

  stateName(): string {
    return this.state;
  }

  private pacingGain(): number {
    switch (this.state) {
      case "startup":
        // while a loss is judged, hold the rate: if it was the bottleneck, it does not get worse
        return this.startupLossPending ? 1 : this.tuning.startupGain;
      case "drain":
        return this.drainPacingGain;
      case "probe_bw":
        return this.tuning.probeBwGains[this.cyclePhase] ?? 1;
      case "probe_rtt":
        return 1;
    }
  }

  private windowGain(): number {
    if (this.state === "startup") return this.tuning.startupWindowGain;
    return this.state === "drain" ? this.drainWindowGain : this.tuning.windowGain;
  }

  private bdp(): number {
    return bytesOver(this.bandwidthEstimate(), this.minRtt);
  }

  private updateRound(rs: RateSample | null, totalDelivered: number): void {
    this.roundStart = false;
    if (rs !== null && rs.priorDelivered >= this.nextRoundDelivered) {
      this.nextRoundDelivered = totalDelivered;
      this.roundCount++;
      this.roundStart = true;
    }
  }

  private updateBandwidth(rs: RateSample | null): void {
    if (rs === null || rs.deliveryRate <= 0) return;
    this.roundMaxDeliveryRate = Math.max(this.roundMaxDeliveryRate, rs.deliveryRate);
    // An app-limited sample says nothing about the path unless it shows more than we knew.
    if (!rs.isAppLimited || rs.deliveryRate >= this.bandwidthEstimate()) {
      this.bandwidth.update(this.roundCount, rs.deliveryRate);
    }
  }

  /** Loss reactions, once per round; then starts the next round's counters. */
  private endRound(ev: AckEvent): void {
    const t = this.tuning;
    const lost = this.roundLostBytes;
    const lossFraction = lost > 0 ? lost / (lost + this.roundAckedBytes) : 0;
    const bw = this.bandwidthEstimate();
    if (this.state === "startup") {
      this.checkStartupLoss(lossFraction, bw);
    } else if (lossFraction > t.heavyLossFraction && bw > 0) {
      // The buffer overflowed: believe what was delivered (within reason) and drain the queue.
      const cut = Math.min(bw, Math.max(this.roundMaxDeliveryRate, bw * t.heavyLossBandwidthFactor));
      this.bandwidth.reset(this.roundCount, cut);
      this.queueDrain = null;
      if (this.state === "probe_bw") this.enterDrain(ev.now, t.queueDrainPacingGain, 1);
    }
    this.roundsSinceQueueReaction++;
    this.roundLostBytes = 0;
    this.roundLostPackets = 0;
    this.roundAckedBytes = 0;
    this.roundMaxDeliveryRate = 0;
    this.checkRoundRtt();
  }

  /** Judged on whole rounds: the lowest of many RTT samples ignores jitter and one-off spikes. */
  private checkRoundRtt(): void {
    if (this.state === "startup" && this.roundRtt.rising) this.filledPipe = true;
    if (this.roundRtt.above(this.minRtt)) this.probe.noteQueue();
    this.roundRtt.newRound();
  }

  private onRttSample(ev: AckEvent, rtt: Micros): void {
    if (!Number.isFinite(this.minRtt)) return;
    const check = this.queueDrain;
    if (check !== null) {
      if (ev.largestAckedSentTime >= check.reactedAt) {
        check.firstRtt ??= rtt;
        check.lowestRtt = Math.min(check.lowestRtt, rtt);
      }
      if (check.drainEndedAt !== null && ev.largestAckedSentTime >= check.drainEndedAt) {
        this.finishQueueDrain(ev.now, check);
      }
    }
    this.roundRtt.add(rtt);
    const standing = this.queue.update(ev.now, rtt, this.minRtt, ev.totalDelivered);
    const ready = this.roundsSinceQueueReaction >= this.tuning.queueDelayCooldownRounds;
    if (standing !== null && ready && this.queueDrain === null && this.state === "probe_bw") {
      this.reactToStandingQueue(ev.now, standing);
    }
  }

  /**
   * The estimate is too high (capacity fell, or others took a share): take what was delivered
   * while the queue stood, and drain it. `finishQueueDrain` later checks that this helped.
   */
  private reactToStandingQueue(now: Micros, standing: StandingQueue): void {
    const bw = this.bandwidthEstimate();
    this.queueDrain = {
      bandwidthBefore: bw,
      standingRtt: standing.rtt,
      reactedAt: now,
      firstRtt: null,
      lowestRtt: Infinity,
      drainEndedAt: null,
    };
    const t = this.tuning;
    const isolated = this.roundCount - this.lastQueueRound >= t.ownQueueQuietRounds;
    this.lastQueueRound = this.roundCount;
    if (isolated && standing.deliveredRate >= bw * t.ownQueueDeliveredFraction) {
      this.enterDrain(now, t.ownQueueDrainPacingGain, 1);
    } else {
      // a reaction to a queue lowers the estimate, never raises it (bursty samples can exceed it)
      if (standing.deliveredRate > 0 && standing.deliveredRate < bw) {
        this.bandwidth.reset(this.roundCount, standing.deliveredRate);
      }
      this.enterDrain(now, t.queueDrainPacingGain, 1);
    }
    this.roundsSinceQueueReaction = 0;
  }

  private finishQueueDrain(now: Micros, check: QueueDrainCheck): void {
    this.queueDrain = null;
    if (check.firstRtt === null) return;
    const before = Math.max(check.standingRtt, check.firstRtt);
    const queueing = before - this.minRtt;
    if (check.lowestRtt <= before - this.tuning.queueDrainMinShrink * queueing) return;
    // Sending less did not shorten the RTT: the path got longer, or others keep the queue full.
    // Cutting further would only starve us; take the RTT as the new floor.
    this.bandwidth.reset(this.roundCount, Math.max(check.bandwidthBefore, this.bandwidthEstimate()));
    this.minRtt = check.lowestRtt;
    this.minRttStamp = now;
  }

  private checkStartupLoss(lossFraction: number, bw: number): void {
    const t = this.tuning;
    if (this.startupLossPending) {
      // This round measured what was sent when the loss happened. (checkFullPipe has not seen
      // it yet: fullBandwidth is the level at the previous round's start.)
      this.startupLossPending = false;
      if (bw < this.fullBandwidth * t.fullBandwidthGrowth) this.filledPipe = true;
      else this.startupLossTolerated = true;
    }
    if (lossFraction <= t.startupLossFraction || this.roundLostPackets < t.startupLossMinPackets) return;
    // With a queue standing the buffer overflowed. Without one, judge by the next round: the
    // delivery rate lags the sending rate by a round, and early on it still shows the start rate.
    if (this.roundRtt.above(this.minRtt)) this.filledPipe = true;
    else if (!this.startupLossTolerated) this.startupLossPending = true;
  }

  private checkFullPipe(rs: RateSample | null): void {
    if (this.filledPipe || !this.roundStart || rs === null || rs.isAppLimited) return;
    const bw = this.bandwidthEstimate();
    if (bw >= this.fullBandwidth * this.tuning.fullBandwidthGrowth) {
      this.fullBandwidth = bw;
      this.fullBandwidthCount = 0;
      return;
    }
    if (++this.fullBandwidthCount >= this.tuning.fullBandwidthRounds) this.filledPipe = true;
  }

  private updateStateOnAck(ev: AckEvent): void {
    if (this.state === "startup" && this.filledPipe) {
      this.everFilledPipe = true;
      this.enterDrain(ev.now, 1 / this.tuning.startupGain, this.tuning.startupGain);
    }
    if (this.state === "drain") {
      const rounds = this.roundCount - this.drainStartRound;
      // A standing-queue drain lasts until packets it sent come back, so its effect shows.
      const check = this.queueDrain;
      const seen = check === null || ev.largestAckedSentTime >= check.reactedAt;
      const drained = ev.bytesInFlight <= this.bdp() && seen;
      if (drained || rounds >= this.tuning.drainMaxRounds) {
        if (this.queueDrain !== null) this.queueDrain.drainEndedAt = ev.now;
        this.enterProbeBw(ev.now);
      }
    }
    if (this.state === "probe_bw" && this.shouldAdvancePhase(ev)) this.advancePhase(ev.now);
  }

  private advancePhase(now: Micros): void {
    const gains = this.tuning.probeBwGains;
    this.cyclePhase = (this.cyclePhase + 1) % gains.length;
    this.cycleStamp = now;
    if ((gains[this.cyclePhase] ?? 1) > 1) this.probe.start(this.bandwidthEstimate());
    // More room than +25 % per cycle would find in a reasonable time: search as startup does.
    else if (this.probe.phaseEnded(this.bandwidthEstimate())) this.enterStartup();
  }

  private shouldAdvancePhase(ev: AckEvent): boolean {
    const fullLength = ev.now - this.cycleStamp > this.minRtt;
    const gain = this.tuning.probeBwGains[this.cyclePhase] ?? 1;
    // A draining phase may end early once the queue it aimed at is gone.
    if (gain < 1) return fullLength || ev.bytesInFlight <= this.bdp();
    return fullLength;
  }

  private updateMinRtt(now: Micros, rtt: Micros | null): void {
    const expired = Number.isFinite(this.minRtt) && now - this.minRttStamp > this.tuning.minRttWindow;
    if (rtt !== null && rtt > 0) {
      if (rtt <= this.minRtt || expired) {
        this.minRtt = rtt;
        this.minRttStamp = now;
      } else if (rtt <= this.minRtt * (1 + this.tuning.minRttRefreshTolerance)) {
        this.minRttStamp = now; // the queue is empty right now: the estimate is still current
      }
    }
    if (expired && this.state !== "probe_rtt") {
      this.state = "probe_rtt";
      this.queueDrain = null;
      this.probeRttDoneStamp = null;
      this.probeRttRoundDone = false;
    }
  }

  private updateProbeRtt(ev: AckEvent): void {
    if (this.state !== "probe_rtt") return;
    const window = this.tuning.probeRttWindowDatagrams * this.bounds.maxDatagramSize;
    if (this.probeRttDoneStamp === null) {
      if (ev.bytesInFlight <= window) {
        this.probeRttDoneStamp = ev.now + this.tuning.probeRttDuration;
        this.probeRttRoundDone = false;
        this.nextRoundDelivered = ev.totalDelivered;
      }
      return;
    }
    if (this.roundStart) this.probeRttRoundDone = true;
    if (this.probeRttRoundDone && ev.now >= this.probeRttDoneStamp) {
      this.minRttStamp = ev.now;
      if (this.filledPipe) this.enterProbeBw(ev.now);
      else this.enterStartup();
    }
  }

  private enterStartup(): void {
    this.state = "startup";
    this.queueDrain = null;
    this.roundRtt.reset();
    this.filledPipe = false;
    this.fullBandwidth = 0;
    this.fullBandwidthCount = 0;
    this.startupLossPending = false;
    this.startupLossTolerated = false;
  }

  private enterDrain(now: Micros, pacingGain: number, windowGain: number): void {
    this.state = "drain";
    this.drainPacingGain = pacingGain;
    this.drainWindowGain = windowGain;
    this.drainStartRound = this.roundCount;
    this.cycleStamp = now;
  }

  private enterProbeBw(now: Micros): void {
    this.state = "probe_bw";
    this.cyclePhase = this.tuning.probeBwStartPhase % this.tuning.probeBwGains.length;
    this.cycleStamp = now;
    this.probe.cancel();
    this.roundsSinceQueueReaction = 0;
  }
}
