import type { Micros } from "../time.js";
import { MICROS_PER_MS, MICROS_PER_SECOND } from "../time.js";
import { bytesOver, INITIAL_RTT, rateOf, RateBounds } from "./common.js";
import type { AckEvent, ControllerConfig, LossEvent, RateController } from "./controller.js";

/** RFC 9438 constants (windows in datagrams, time in seconds) */
export const CUBIC_C = 0.4;
export const CUBIC_BETA = 0.7;
const RENO_FRIENDLY_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
const FAST_CONVERGENCE = true;
/** window before the first RTT sample, and its floor afterwards (RFC 9002 §7.2) */
const INITIAL_WINDOW_DATAGRAMS = 10;
export const SLOW_START_PACING_GAIN = 2;
export const AVOIDANCE_PACING_GAIN = 1.2;
/**
 * Growth only while the window is in use (RFC 9002 §7.8): bytes in flight plus the bytes just
 * acknowledged must reach this fraction of the window.
 */
const WINDOW_IN_USE_FRACTION = 0.5;
/** HyStart++ (RFC 9406) delay-based exit from slow start, without its conservative phase */
const HYSTART_MIN_SAMPLES = 8;
const HYSTART_MIN_DELAY_INCREASE: Micros = 4 * MICROS_PER_MS;
const HYSTART_MAX_DELAY_INCREASE: Micros = 16 * MICROS_PER_MS;
const HYSTART_DELAY_DIVISOR = 8;

type FairState = "slow_start" | "recovery" | "avoidance";

/**
 * `fair`: CUBIC (RFC 9438) with the Reno-friendly region, so that it shares a bottleneck with TCP.
 * Slow start begins at `sendRate` (window = sendRate × first RTT) and ends at the first loss
 * episode or, per HyStart++, when a round's RTT rises clearly above the previous round's.
 */
export class FairRateController implements RateController {
  readonly method = "fair";
  readonly active = true;
  private readonly bounds: RateBounds;
  private readonly mss: number;

  private cwnd: number;
  private ssthresh = Infinity;
  private smoothedRtt: Micros = 0;
  private hasRtt = false;
  private reduced = false;
  private recoveryStart: Micros = -Infinity;
  private inRecovery = false;

  // CUBIC epoch, in datagrams and seconds
  private epochStart: Micros | null = null;
  private wMax = 0;
  private k = 0;
  private wEst = 0;
  private cwndPrior = 0;

  // HyStart++ round tracking
  private roundStartTime: Micros = -Infinity;
  private lastRoundMinRtt: Micros = Infinity;
  private roundMinRtt: Micros = Infinity;
  private roundSamples = 0;

  constructor(config: ControllerConfig) {
    this.bounds = new RateBounds(config);
    this.mss = config.maxDatagramSize;
    this.cwnd = Math.max(this.initialWindow, bytesOver(this.bounds.startRate, INITIAL_RTT));
  }

  pacingRate(): number {
    if (!this.hasRtt) return this.bounds.startRate;
    const gain = this.cwnd < this.ssthresh ? SLOW_START_PACING_GAIN : AVOIDANCE_PACING_GAIN;
    return this.bounds.clamp(gain * rateOf(this.cwnd, this.smoothedRtt));
  }

  congestionWindow(): number {
    return this.bounds.window(this.cwnd, this.hasRtt ? this.smoothedRtt : INITIAL_RTT);
  }

  onPacketSent(): void {}

  onAck(ev: AckEvent): void {
    if (ev.smoothedRtt > 0) this.smoothedRtt = ev.smoothedRtt;
    if (!this.hasRtt && ev.latestRtt !== null && ev.latestRtt > 0) {
      this.hasRtt = true;
      if (this.smoothedRtt <= 0) this.smoothedRtt = ev.latestRtt;
      // Start as if slow start had already reached sendRate on this path.
      if (!this.reduced)
        this.cwnd = Math.max(this.initialWindow, bytesOver(this.bounds.startRate, ev.latestRtt));
    }
    if (this.inRecovery) {
      // RFC 9002 §7.3.2: recovery ends when a packet sent after it began is acknowledged.
      if (ev.largestAckedSentTime <= this.recoveryStart) return;
      this.inRecovery = false;
    }
    if (this.cwnd < this.ssthresh) this.checkSlowStartDelay(ev);
    if (ev.bytesInFlight + ev.ackedBytes < WINDOW_IN_USE_FRACTION * this.cwnd) return;
    if (this.cwnd < this.ssthresh) {
      this.cwnd = Math.min(this.cwnd + ev.ackedBytes, Math.max(this.ssthresh, this.cwnd));
    } else {
      this.congestionAvoidance(ev.now, ev.ackedBytes);
    }
  }

  onLoss(ev: LossEvent): void {
    // One reduction per episode: losses of packets sent before the last reduction are old news.
    if (ev.largestLostSentTime > this.recoveryStart) {
      const w = this.cwnd / this.mss;
      this.wMax = FAST_CONVERGENCE && w < this.wMax ? (w * (1 + CUBIC_BETA)) / 2 : w;
      this.cwndPrior = w;
      this.ssthresh = Math.max(this.cwnd * CUBIC_BETA, this.bounds.minWindow);
      this.cwnd = this.ssthresh;
      this.startRecovery(ev.now);
    }
    if (ev.persistentCongestion) {
      this.cwnd = this.bounds.minWindow;
      this.startRecovery(ev.now);
    }
  }

  setRates(sendRate: number, minRate: number, maxRate: number): void {
    this.bounds.set(sendRate, minRate, maxRate);
  }

  stateName(): string {
    return this.state;
  }

  private get state(): FairState {
    if (this.inRecovery) return "recovery";
    return this.cwnd < this.ssthresh ? "slow_start" : "avoidance";
  }

  private get initialWindow(): number {
    return INITIAL_WINDOW_DATAGRAMS * this.mss;
  }

  private startRecovery(now: Micros): void {
    this.reduced = true;
    this.recoveryStart = now;
    this.inRecovery = true;
    this.epochStart = null;
  }

  private congestionAvoidance(now: Micros, ackedBytes: number): void {
    const w = this.cwnd / this.mss;
    if (this.epochStart === null) {
      this.epochStart = now;
      if (this.wMax <= w) {
        this.wMax = w;
        this.k = 0;
      } else {
        this.k = Math.cbrt((this.wMax - w) / CUBIC_C);
      }
      this.wEst = w;
    }
    const t = (now - this.epochStart) / MICROS_PER_SECOND;
    const rtt = this.smoothedRtt / MICROS_PER_SECOND;
    const acked = ackedBytes / this.mss;
    // RFC 9438 §4.3: α_cubic until W_est reaches the window before the last reduction, then 1.
    const alpha = this.wEst >= this.cwndPrior ? 1 : RENO_FRIENDLY_ALPHA;
    this.wEst += (alpha * acked) / w;
    let next: number;
    if (this.wCubic(t) < this.wEst) {
      next = this.wEst;
    } else {
      const target = Math.min(Math.max(this.wCubic(t + rtt), w), 1.5 * w);
      next = w + ((target - w) / w) * acked;
    }
    this.cwnd = Math.max(next * this.mss, this.bounds.minWindow);
  }

  private wCubic(t: number): number {
    return CUBIC_C * (t - this.k) ** 3 + this.wMax;
  }

  private checkSlowStartDelay(ev: AckEvent): void {
    if (ev.largestAckedSentTime >= this.roundStartTime) {
      this.lastRoundMinRtt = this.roundMinRtt;
      this.roundMinRtt = Infinity;
      this.roundSamples = 0;
      this.roundStartTime = ev.now;
    }
    if (ev.latestRtt === null || ev.latestRtt <= 0) return;
    this.roundMinRtt = Math.min(this.roundMinRtt, ev.latestRtt);
    this.roundSamples++;
    if (this.roundSamples < HYSTART_MIN_SAMPLES || !Number.isFinite(this.lastRoundMinRtt)) return;
    const threshold = Math.min(
      Math.max(this.lastRoundMinRtt / HYSTART_DELAY_DIVISOR, HYSTART_MIN_DELAY_INCREASE),
      HYSTART_MAX_DELAY_INCREASE,
    );
    if (this.roundMinRtt >= this.lastRoundMinRtt + threshold) this.ssthresh = this.cwnd;
  }
}
