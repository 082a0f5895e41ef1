import { MICROS_PER_SECOND, type Micros } from "../core/time.js";

export type TcpCongestionAlgorithm = "reno" | "cubic";

/** Window control of the TCP model, in segments. */
export interface TcpCongestionControl {
  readonly cwnd: number;
  readonly ssthresh: number;
  /** `segments` newly delivered (cumulatively acked or SACKed) outside fast recovery */
  onAck(segments: number, now: Micros, smoothedRtt: Micros): void;
  /** a loss episode was detected by SACK / duplicate ACKs (once per window) */
  onCongestion(now: Micros): void;
  /** retransmission timeout; `repeated` when the previous timeout's recovery had not finished */
  onTimeout(now: Micros, repeated: boolean): void;
}

export function createCongestionControl(
  algorithm: TcpCongestionAlgorithm,
  initialWindow: number,
): TcpCongestionControl {
  return algorithm === "reno" ? new Reno(initialWindow) : new Cubic(initialWindow);
}

/** RFC 5681 Reno: slow start, +1 segment per RTT in congestion avoidance, halve on loss. */
export class Reno implements TcpCongestionControl {
  cwnd: number;
  ssthresh = Infinity;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  onAck(segments: number): void {
    if (this.cwnd < this.ssthresh) this.cwnd += segments;
    else this.cwnd += segments / this.cwnd;
  }

  onCongestion(): void {
    this.ssthresh = Math.max(this.cwnd / 2, 2);
    this.cwnd = this.ssthresh;
  }

  onTimeout(_now: Micros, repeated: boolean): void {
    if (!repeated) this.ssthresh = Math.max(this.cwnd / 2, 2);
    this.cwnd = 1;
  }
}

const CUBIC_C = 0.4;
const CUBIC_BETA = 0.7;
/** RFC 9438 §4.3: Reno-friendly additive increase that matches Reno's average rate with β = 0.7 */
const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** RFC 9438 CUBIC with fast convergence and the Reno-friendly region (no HyStart). */
export class Cubic implements TcpCongestionControl {
  cwnd: number;
  ssthresh = Infinity;
  private wMax = 0;
  private k = 0;
  private epochStart: Micros = -1;
  private wEst = 0;

  constructor(initialWindow: number) {
    this.cwnd = initialWindow;
  }

  onAck(segments: number, now: Micros, smoothedRtt: Micros): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += segments;
      return;
    }
    if (this.epochStart < 0) {
      this.epochStart = now;
      this.wEst = this.cwnd;
      if (this.wMax > this.cwnd) {
        this.k = Math.cbrt((this.wMax - this.cwnd) / CUBIC_C);
      } else {
        this.k = 0;
        this.wMax = this.cwnd;
      }
    }
    const t = (now - this.epochStart) / MICROS_PER_SECOND;
    const rtt = smoothedRtt / MICROS_PER_SECOND;
    const target = Math.min(Math.max(this.wCubic(t + rtt), this.cwnd), 1.5 * this.cwnd);
    const alpha = this.wEst >= this.wMax ? 1 : CUBIC_ALPHA;
    this.wEst += (alpha * segments) / this.cwnd;
    if (this.wCubic(t) < this.wEst) this.cwnd = Math.max(this.cwnd, this.wEst);
    else this.cwnd += ((target - this.cwnd) / this.cwnd) * segments;
  }

  onCongestion(): void {
    this.reduce();
    this.cwnd = this.ssthresh;
  }

  onTimeout(_now: Micros, repeated: boolean): void {
    if (!repeated) this.reduce();
    this.cwnd = 1;
  }

  private reduce(): void {
    this.epochStart = -1;
    // fast convergence: a flow whose window is shrinking releases bandwidth to newer flows
    this.wMax = this.cwnd < this.wMax ? (this.cwnd * (1 + CUBIC_BETA)) / 2 : this.cwnd;
    this.ssthresh = Math.max(this.cwnd * CUBIC_BETA, 2);
  }

  private wCubic(t: number): number {
    return CUBIC_C * (t - this.k) ** 3 + this.wMax;
  }
}
