import type { Micros } from "../time.js";
import { MICROS_PER_MS, MICROS_PER_SECOND } from "../time.js";
import { bytesOver, INITIAL_RTT, rateOf, RateBounds } from "./common.js";
import type { AckEvent, ControllerConfig, LossEvent, RateController } from "./controller.js";

/**
 * Target queueing delay: RFC 6817's 25 ms, but at most a quarter of the base RTT, and never below
 * 5 ms. On a short path 25 ms of queue would be several RTTs, more than a drop-tail buffer sized
 * to the path's BDP can hold, so a competing loss-based flow would never push the delay above the
 * target and we would compete by loss instead of yielding. The floor stays above the receiver's
 * ACK delay (2 ms by default) and scheduling jitter, which would otherwise read as a queue. Buffers
 * holding less than the target remain a blind spot: there we only back off on loss.
 */
export const LEDBAT_TARGET_MAX: Micros = 25 * MICROS_PER_MS;
export const LEDBAT_TARGET_MIN: Micros = 5 * MICROS_PER_MS;
const TARGET_BASE_FRACTION = 0.25;
/** base delay = min RTT over this many buckets of this length (RFC 6817 BASE_HISTORY) */
const BASE_HISTORY_BUCKETS = 10;
const BASE_BUCKET_LENGTH: Micros = 60 * MICROS_PER_SECOND;
/** current delay = min of the latest this many RTT samples (RFC 6817 CURRENT_FILTER) */
const CURRENT_FILTER_SAMPLES = 4;
/** LEDBAT++: gain = 1 / min(MAX_GAIN_DIVISOR, ceil(2 × target / base)), ≤ 1 */
const MAX_GAIN_DIVISOR = 16;
/**
 * Above target the window shrinks by DECREASE_CONSTANT × W × (delay/target − 1) per RTT, at most
 * by half (LEDBAT++): RFC 6817's additive decrease is far too slow to yield on a large window.
 */
const DECREASE_CONSTANT = 1;
const MAX_DECREASE_PER_RTT = 0.5;
const LOSS_DECREASE_FACTOR = 0.5;
/** slow start ends when the queueing delay passes this fraction of the target (LEDBAT++) */
const SLOW_START_EXIT_FRACTION = 0.75;
/**
 * Leaving slow start, the window is set to the delivery rate × (base delay + this × target): the
 * delay signal lags one RTT behind a window that doubles every RTT, so the window at exit is up to
 * twice too large and would overflow the buffer.
 */
const SLOW_START_EXIT_QUEUE_FRACTION = 0.5;
/**
 * After this many rounds with queueing delay below target/4 (the link has spare capacity, e.g. a
 * competing flow left) the window grows by this fraction per RTT instead of RFC 6817's one
 * datagram, until a queue shows up again. Slower than slow start, so the delay signal, one RTT
 * late, still arrives before the buffer overflows.
 */
const QUIET_ROUNDS_FOR_FAST_GROWTH = 3;
const FAST_GROWTH_PER_RTT = 1 / 8;
const SLOW_START_PACING_GAIN = 2;
const AVOIDANCE_PACING_GAIN = 1.2;
const INITIAL_WINDOW_DATAGRAMS = 10;
/** growth only while bytes in flight + bytes just acknowledged reach this fraction of the window */
const WINDOW_IN_USE_FRACTION = 0.5;

/**
 * `background`: a LEDBAT-style scavenger (RFC 6817, with the LEDBAT++ decrease and gain) driven by
 * RTT instead of one-way delay. It grows while the path shows no queue and shrinks towards the
 * minimum window as soon as a queue above the target appears, leaving the link to other traffic.
 */
export class BackgroundRateController implements RateController {
  readonly method = "background";
  readonly active = true;
  private readonly bounds: RateBounds;
  private readonly mss: number;

  private cwnd: number;
  private slowStart = true;
  private smoothedRtt: Micros = 0;
  private hasRtt = false;
  private lastReduction: Micros = -Infinity;

  private readonly baseBuckets: number[] = [];
  private bucketStart: Micros = -Infinity;
  private readonly recentRtts: Micros[] = [];

  private roundStartTime: Micros = -Infinity;
  private roundMaxQueueDelay = 0;
  /** max delivery rate in this round and the previous one (together they cover a full round) */
  private roundMaxDeliveryRate = 0;
  private lastRoundMaxDeliveryRate = 0;
  private quietRounds = 0;

  constructor(config: ControllerConfig) {
    this.bounds = new RateBounds(config);
    this.mss = config.maxDatagramSize;
    this.cwnd = Math.max(INITIAL_WINDOW_DATAGRAMS * this.mss, bytesOver(this.bounds.startRate, INITIAL_RTT));
  }

  pacingRate(): number {
    if (!this.hasRtt) return this.bounds.startRate;
    const gain = this.slowStart ? SLOW_START_PACING_GAIN : AVOIDANCE_PACING_GAIN;
    return this.bounds.clamp(gain * rateOf(this.cwnd, this.smoothedRtt));
  }

  congestionWindow(): number {
    return this.bounds.window(this.cwnd, this.hasRtt ? this.smoothedRtt : INITIAL_RTT);
  }

  /** Minimum RTT over the base history (Infinity before the first sample). */
  baseDelay(): Micros {
    return this.baseBuckets.length === 0 ? Infinity : Math.min(...this.baseBuckets);
  }

  /** Queueing delay the controller aims at, for the current base delay. */
  targetDelay(): Micros {
    const base = this.baseDelay();
    if (!Number.isFinite(base)) return LEDBAT_TARGET_MAX;
    return Math.min(Math.max(base * TARGET_BASE_FRACTION, LEDBAT_TARGET_MIN), LEDBAT_TARGET_MAX);
  }

  onPacketSent(): void {}

  onAck(ev: AckEvent): void {
    if (ev.smoothedRtt > 0) this.smoothedRtt = ev.smoothedRtt;
    const rtt = ev.latestRtt;
    if (rtt === null || rtt <= 0) return;
    if (!this.hasRtt) {
      this.hasRtt = true;
      if (this.smoothedRtt <= 0) this.smoothedRtt = rtt;
      this.cwnd = Math.max(INITIAL_WINDOW_DATAGRAMS * this.mss, bytesOver(this.bounds.startRate, rtt));
    }
    this.addRttSample(ev.now, rtt);
    const sampleRate = ev.rateSample?.deliveryRate ?? 0;
    this.roundMaxDeliveryRate = Math.max(this.roundMaxDeliveryRate, sampleRate);
    const queueDelay = Math.min(...this.recentRtts) - this.baseDelay();
    const target = this.targetDelay();
    this.trackRounds(ev, queueDelay, target);

    const inUse = ev.bytesInFlight + ev.ackedBytes >= WINDOW_IN_USE_FRACTION * this.cwnd;
    if (this.slowStart && queueDelay > SLOW_START_EXIT_FRACTION * target) this.exitSlowStart(ev.now, target);
    if (this.slowStart) {
      if (inUse) this.cwnd += ev.ackedBytes;
      return;
    }
    const w = this.cwnd / this.mss;
    const acked = ev.ackedBytes / this.mss;
    let deltaPerRtt: number;
    if (queueDelay < target) {
      if (!inUse) return;
      deltaPerRtt = this.gain(target) * (1 - queueDelay / target); // RFC 6817 off_target
      if (this.quietRounds >= QUIET_ROUNDS_FOR_FAST_GROWTH) {
        deltaPerRtt = Math.max(deltaPerRtt, w * FAST_GROWTH_PER_RTT);
      }
    } else {
      // Packets sent before the last reduction show the queue that reduction already answered.
      if (ev.largestAckedSentTime <= this.lastReduction) return;
      deltaPerRtt = Math.max(-DECREASE_CONSTANT * w * (queueDelay / target - 1), -MAX_DECREASE_PER_RTT * w);
    }
    this.cwnd = Math.max((w + (deltaPerRtt * acked) / w) * this.mss, this.bounds.minWindow);
  }

  onLoss(ev: LossEvent): void {
    if (ev.largestLostSentTime > this.lastReduction) {
      this.cwnd = Math.max(this.cwnd * LOSS_DECREASE_FACTOR, this.bounds.minWindow);
      this.slowStart = false;
      this.quietRounds = 0;
      this.lastReduction = ev.now;
    }
    if (ev.persistentCongestion) {
      this.cwnd = this.bounds.minWindow;
      this.lastReduction = ev.now;
    }
  }

  setRates(sendRate: number, minRate: number, maxRate: number): void {
    this.bounds.set(sendRate, minRate, maxRate);
  }

  stateName(): string {
    return this.slowStart ? "slow_start" : "avoidance";
  }

  private exitSlowStart(now: Micros, target: Micros): void {
    this.slowStart = false;
    // Losses and delay of the packets already sent belong to this same reduction.
    this.lastReduction = now;
    const rate = Math.max(this.roundMaxDeliveryRate, this.lastRoundMaxDeliveryRate);
    if (rate <= 0) return;
    const window = bytesOver(rate, this.baseDelay() + SLOW_START_EXIT_QUEUE_FRACTION * target);
    this.cwnd = Math.max(Math.min(this.cwnd, window), this.bounds.minWindow);
  }

  private gain(target: Micros): number {
    const base = this.baseDelay();
    return 1 / Math.min(MAX_GAIN_DIVISOR, Math.max(1, Math.ceil((2 * target) / base)));
  }

  private addRttSample(now: Micros, rtt: Micros): void {
    if (now - this.bucketStart >= BASE_BUCKET_LENGTH) {
      this.baseBuckets.push(rtt);
      if (this.baseBuckets.length > BASE_HISTORY_BUCKETS) this.baseBuckets.shift();
      this.bucketStart = now;
    } else {
      const last = this.baseBuckets.length - 1;
      this.baseBuckets[last] = Math.min(this.baseBuckets[last] ?? rtt, rtt);
    }
    this.recentRtts.push(rtt);
    if (this.recentRtts.length > CURRENT_FILTER_SAMPLES) this.recentRtts.shift();
  }

  /** Counts rounds without queue (spare capacity to take). */
  private trackRounds(ev: AckEvent, queueDelay: Micros, target: Micros): void {
    this.roundMaxQueueDelay = Math.max(this.roundMaxQueueDelay, queueDelay);
    if (ev.largestAckedSentTime < this.roundStartTime) return;
    const quiet = this.roundMaxQueueDelay < target / 4 && ev.largestAckedSentTime > this.lastReduction;
    this.quietRounds = quiet ? this.quietRounds + 1 : 0;
    this.roundStartTime = ev.now;
    this.roundMaxQueueDelay = 0;
    this.lastRoundMaxDeliveryRate = this.roundMaxDeliveryRate;
    this.roundMaxDeliveryRate = 0;
  }
}
