import type { Micros } from "../time.js";
import { MICROS_PER_MS, MICROS_PER_SECOND } from "../time.js";

/** Every knob of the adaptive (BBR-style) controller, for tuning against the simulator. */
export interface AdaptiveTuning {
  /** pacing and window gain in startup: 2/ln2 doubles the delivery rate every round */
  startupGain: number;
  /**
   * window gain in startup: the window must not be what limits growth, because the ACKs that
   * raise the estimate come a round trip plus ACK delay after the sends they measure
   */
  startupWindowGain: number;
  /** startup ends when the bandwidth grew less than this factor... */
  fullBandwidthGrowth: number;
  /** ...over this many consecutive rounds */
  fullBandwidthRounds: number;
  /**
   * startup also ends after a round that lost more than this fraction of its bytes and at least
   * `startupLossMinPackets` packets: the buffer overflowed (BBRv2 uses 2 % and 8 losses)
   */
  startupLossFraction: number;
  startupLossMinPackets: number;
  /** probe_bw pacing gains, one phase per min RTT */
  probeBwGains: readonly number[];
  /** phase probe_bw starts in (after drain and probe_rtt) */
  probeBwStartPhase: number;
  /** window = windowGain × BDP + extra datagrams (+ ACK aggregation allowance) */
  windowGain: number;
  windowExtraDatagrams: number;
  /** the ACK aggregation allowance added to the window is at most bandwidth × this */
  ackAggregationMax: Micros;
  /** the bandwidth estimate is the max delivery rate over this many rounds */
  bandwidthWindowRounds: number;
  /** min RTT is re-measured (probe_rtt) when not refreshed for this long */
  minRttWindow: Micros;
  /** an RTT within this fraction above the min RTT counts as a refresh of the min RTT */
  minRttRefreshTolerance: number;
  probeRttDuration: Micros;
  probeRttWindowDatagrams: number;
  /** a round that loses more than this fraction of its bytes is a heavy loss episode... */
  heavyLossFraction: number;
  /** ...and cuts the estimate to the round's delivery rate, but by at most this factor */
  heavyLossBandwidthFactor: number;
  /**
   * A standing queue: every RTT sample for one min RTT exceeds
   * minRtt + max(queueDelayThreshold × minRtt, queueDelayFloor). The floor covers ACK delay and
   * jitter on short paths. A threshold of 1 (a queue of one BDP) is what the 2 × BDP window
   * already almost prevents: with competing traffic we would sit just below it.
   */
  queueDelayThreshold: number;
  queueDelayFloor: Micros;
  /** against a standing queue: pace at this gain with window gain 1 until in-flight ≤ BDP */
  queueDrainPacingGain: number;
  /**
   * if the drain did not shrink the queueing delay by at least this fraction, the delay was not
   * ours (longer path, or a queue others keep full): the cut is undone and the min RTT re-based
   */
  queueDrainMinShrink: number;
  /** rounds between two standing-queue reactions */
  queueDelayCooldownRounds: number;
  /** drain (after startup or a standing-queue reaction) ends after at most this many rounds */
  drainMaxRounds: number;
  /** after persistent congestion the bandwidth estimate is multiplied by this */
  persistentCongestionFactor: number;
}

export const DEFAULT_ADAPTIVE_TUNING: Readonly<AdaptiveTuning> = {
  // 2/ln2 doubles the sending rate every round. A gain of 3.5 gained about one point of goodput
  // on a 1 GiB, 100 ms, 1 % transfer but doubled start-up loss (npm run bench -- sim), so no.
  startupGain: 2 / Math.LN2,
  startupWindowGain: 2 / Math.LN2,
  fullBandwidthGrowth: 1.25,
  fullBandwidthRounds: 3,
  startupLossFraction: 0.05,
  startupLossMinPackets: 8,
  probeBwGains: [1.25, 0.75, 1, 1, 1, 1, 1, 1],
  probeBwStartPhase: 2,
  windowGain: 2,
  windowExtraDatagrams: 4,
  ackAggregationMax: 10 * MICROS_PER_MS,
  bandwidthWindowRounds: 10,
  minRttWindow: 10 * MICROS_PER_SECOND,
  minRttRefreshTolerance: 1 / 16,
  probeRttDuration: 200 * MICROS_PER_MS,
  probeRttWindowDatagrams: 4,
  heavyLossFraction: 0.2,
  heavyLossBandwidthFactor: 0.7,
  queueDelayThreshold: 0.5,
  queueDelayFloor: 10 * MICROS_PER_MS,
  queueDrainPacingGain: 0.5,
  queueDrainMinShrink: 0.25,
  queueDelayCooldownRounds: 3,
  drainMaxRounds: 4,
  persistentCongestionFactor: 0.5,
};
