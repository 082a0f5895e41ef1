import type { Micros } from "../time.js";
import { MICROS_PER_MS, MICROS_PER_SECOND } from "../time.js";

/** Every knob of the adaptive (BBR-style) controller, for tuning against the simulator. */
export interface AdaptiveTuning {
  /** pacing gain in startup: 2/ln2 would double the delivery rate every round */
  startupGain: number;
  /**
   * window gain in startup. It bounds growth per round, and so what the round in which the
   * pacing passes the bottleneck rate sends into its queue before the ACKs show it: about
   * (startupWindowGain − 1) BDPs
   */
  startupWindowGain: number;
  /** startup ends when the bandwidth grew less than this factor... */
  fullBandwidthGrowth: number;
  /** ...over this many consecutive rounds */
  fullBandwidthRounds: number;
  /**
   * a round that lost more than this fraction of its bytes and at least `startupLossMinPackets`
   * packets (BBRv2 uses 2 % and 8 losses) ends startup if the queue is rising, else if the next
   * round shows no growth (meanwhile the pacing gain is 1). The delivery rate lags the sending
   * rate by a round: early loss while it still grows, or while it still shows the start rate, is
   * not the bottleneck (a sender's socket buffer overflowing, a lossy path). Once a loss was
   * judged so, later ones in the same startup are taken as random loss.
   */
  startupLossFraction: number;
  startupLossMinPackets: number;
  /**
   * startup ends when the lowest RTT of a round (over at least `startupQueueMinSamples` samples)
   * exceeds the previous round's lowest by max(startupQueueThreshold × it, startupQueueFloor): the
   * bottleneck queue is building. (With the window gain of 2 that queue stays within a BDP, so
   * waiting for whole rounds, which ignores jitter, costs no loss; the delivery rate alone would
   * take three rounds more.)
   */
  startupQueueThreshold: number;
  startupQueueFloor: Micros;
  startupQueueMinSamples: number;
  /**
   * probe_bw goes back to startup when a probe (the gain > 1 phase) raised the estimate by this
   * factor, judged two phases later, and no round's lowest RTT exceeded the min RTT by startup's
   * queue threshold meanwhile: startup ended too early, or capacity was freed. +25 % per
   * eight-round cycle would take tens of seconds to climb a decade.
   */
  probeStartupGrowth: number;
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
   * minRtt + max(queueDelayThreshold × minRtt, queueDelayFloor). The floor covers ACK delay
   * (≤ `maxAckDelay`, 2 ms) and timer jitter. It must stay below the queue a short path can hold:
   * at 10 ms a one-BDP buffer holds 10 ms, and a floor of 10 ms never saw the queue that an
   * estimate inflated by ACK jitter kept full (WAN 10 ms / 1 %: 5 % retransmitted; simulator
   * with 1 ms ACK-path jitter: 0.5 % of packets dropped at the queue, none with 3 ms). A
   * threshold of 1 (a queue of one BDP) is what the 2 × BDP window already almost prevents:
   * with competing traffic we would sit just below it.
   */
  queueDelayThreshold: number;
  queueDelayFloor: Micros;
  /** against a standing queue: pace at this gain with window gain 1 until in-flight ≤ BDP */
  queueDrainPacingGain: number;
  /**
   * A standing queue while at least this fraction of the estimate was delivered is our own backlog
   * (a burst after the sender or the path paused, with nothing to drain it since we pace at the
   * bottleneck rate), not capacity taken by others...
   */
  ownQueueDeliveredFraction: number;
  ownQueueDrainPacingGain: number;
  /**
   * ...if no standing queue was seen for this many rounds (one that keeps coming back is not a
   * one-off). The estimate then stays, and the queue is drained at `ownQueueDrainPacingGain`, which
   * costs no throughput (the queue keeps the bottleneck busy meanwhile).
   */
  ownQueueQuietRounds: number;
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
  // 2 (as BBRv3) rather than the pacing gain: the round in which the pacing passes the bottleneck
  // rate can then queue at most about one BDP, so a one-BDP buffer does not overflow in startup
  // (2.89 lost 800 packets at 100 Mbit/s, 100 ms; 2 lost none). It slows startup a little.
  startupWindowGain: 2,
  fullBandwidthGrowth: 1.25,
  fullBandwidthRounds: 3,
  startupLossFraction: 0.05,
  startupLossMinPackets: 8,
  startupQueueThreshold: 0.25,
  startupQueueFloor: 10 * MICROS_PER_MS,
  startupQueueMinSamples: 8,
  probeStartupGrowth: 1.15,
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
  queueDelayFloor: 3 * MICROS_PER_MS,
  queueDrainPacingGain: 0.5,
  ownQueueDeliveredFraction: 0.9,
  ownQueueDrainPacingGain: 0.75,
  ownQueueQuietRounds: 16,
  queueDrainMinShrink: 0.25,
  queueDelayCooldownRounds: 3,
  drainMaxRounds: 4,
  persistentCongestionFactor: 0.5,
};
