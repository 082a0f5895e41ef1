/**
 * The pure parts of the WAN bench: the ceiling each system can reach, the verdict on a measured
 * path, medians over runs, and the text table. No I/O here, so test/bench covers it without root.
 */

import type { SlipstreamTraceSample } from "./peer.js";

export const SYSTEMS = ["slipstream", "slipstream-enc", "tcp-bbr", "tcp-cubic", "udx"] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** One system's flow in one run. */
export interface FlowMeasurement {
  system: SystemName;
  verifiedBytes: number;
  /** from the sender's start (before connecting) to the receiver's last verified byte, or the cap */
  seconds: number;
  goodputMbit: number;
  /** the run hit the time cap before the whole file was verified */
  capped: boolean;
  /** retransmitted / data packets sent; null when the system does not say */
  retransmitRatio: number | null;
  /** CPU time / wall time of each side's process (1 = one core) */
  cpuSender: number;
  cpuReceiver: number;
  /** file bytes per packet and what that packet costs on the emulated link (IP + Ethernet header) */
  payloadPerPacket: number;
  wirePerPacket: number;
  /** share of packets the delay lines released over 5 ms late during this flow (emulator health) */
  emulatorLate?: number;
  /** UDP systems: datagrams the kernel dropped for a full socket buffer during the flow */
  udpDrops?: { senderReceiveBuffer: number; senderSendBuffer: number; receiverReceiveBuffer: number };
  /** Slipstream only: the sender's controller state over time */
  trace?: SlipstreamTraceSample[];
  /** receiver's verified bytes over time (ms from the sender's start) */
  delivered?: Array<{ t: number; bytes: number }>;
  error?: string;
}

export interface RunRecord {
  run: number;
  flows: FlowMeasurement[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The physical ceiling C × (1 − p) × payload/wire in Mbit/s for one system's packet format. */
export function ceilingMbit(
  rateMbit: number,
  lossPct: number,
  payloadPerPacket: number,
  wirePerPacket: number,
): number {
  return rateMbit * (1 - lossPct / 100) * (payloadPerPacket / wirePerPacket);
}

export interface PathTarget {
  rateMbit: number;
  rttMs: number;
  lossPct: number;
}

export interface PathMeasured {
  /** application-level UDP round trips */
  rttsMs: number[];
  /** probe packets sent below the rate and how many were lost */
  lossProbeSent: number;
  lossProbeLost: number;
  /** bottleneck rate seen by a receiver of an over-rate UDP stream, loss added back (Mbit/s of wire) */
  rateMbit: number;
}

export interface PathVerdict {
  ok: boolean;
  rttMs: number;
  lossPct: number;
  rateMbit: number;
  problems: string[];
}

/**
 * Whether the measured path is the one asked for. RTT: median within −1 ms … +max(2 ms, 3 %)
 * (a delay line only adds delay). Loss: within 3 standard errors of the binomial estimate or 25 %
 * of the target, whichever is wider (at 0 % target: at most 0.05 %). Rate: within ±5 %.
 */
export function verifyPath(target: PathTarget, m: PathMeasured): PathVerdict {
  const problems: string[] = [];
  const rtt = median(m.rttsMs);
  const lossPct = m.lossProbeSent > 0 ? (100 * m.lossProbeLost) / m.lossProbeSent : NaN;
  const pct = (x: number): string => `${x >= 0 ? "+" : ""}${x.toFixed(1)} %`;
  if (!Number.isFinite(rtt)) problems.push("RTT: no echo came back");
  else {
    const over = Math.max(2, 0.03 * target.rttMs);
    if (rtt < target.rttMs - 1 || rtt > target.rttMs + over) {
      problems.push(
        `RTT ${rtt.toFixed(2)} ms, target ${target.rttMs} ms (${pct((100 * (rtt - target.rttMs)) / target.rttMs)}; allowed −1/+${over.toFixed(1)} ms)`,
      );
    }
  }
  if (!Number.isFinite(lossPct)) problems.push("loss: no probe was sent");
  else {
    const p = target.lossPct / 100;
    const se = Math.sqrt((p * (1 - p)) / m.lossProbeSent) * 100;
    const allowed = target.lossPct === 0 ? 0.05 : Math.max(3 * se, 0.25 * target.lossPct);
    if (Math.abs(lossPct - target.lossPct) > allowed) {
      problems.push(
        `loss ${lossPct.toFixed(3)} %, target ${target.lossPct} % (off by ${(lossPct - target.lossPct).toFixed(3)} points; allowed ±${allowed.toFixed(3)})`,
      );
    }
  }
  const rateOff = (m.rateMbit - target.rateMbit) / target.rateMbit;
  if (!(Math.abs(rateOff) <= 0.05)) {
    problems.push(
      `rate ${m.rateMbit.toFixed(1)} Mbit/s, target ${target.rateMbit} (${pct(100 * rateOff)}; allowed ±5 %)`,
    );
  }
  return { ok: problems.length === 0, rttMs: rtt, lossPct, rateMbit: m.rateMbit, problems };
}

/** Median of one system's runs, with its ratio to each other system taken within the same run. */
export interface SystemSummary {
  system: SystemName;
  runs: number;
  /** flows left out because the emulator fell behind during them */
  discardedRuns: number;
  /** every flow was left out, so this row is from them anyway: do not trust it */
  onlyLateRuns: boolean;
  goodputMbit: number;
  ceilingMbit: number;
  shareOfCeiling: number;
  cappedRuns: number;
  failedRuns: number;
  retransmitRatio: number | null;
  cpuSender: number;
  cpuReceiver: number;
  /** median share of packets the emulator released over 5 ms late; null when not recorded */
  emulatorLate: number | null;
  /** median over runs of (this goodput / other goodput), per other system */
  ratioTo: Partial<Record<SystemName, number>>;
}

/**
 * A flow during which the delay lines released more than this share of packets over 5 ms late did
 * not see the path that was verified (the emulator fell behind): it is left out of the medians.
 */
export const EMULATOR_LATE_LIMIT = 0.05;

export function emulatorKeptUp(f: FlowMeasurement): boolean {
  return f.emulatorLate === undefined || f.emulatorLate <= EMULATOR_LATE_LIMIT;
}

export function summarize(target: PathTarget, allRuns: readonly RunRecord[]): SystemSummary[] {
  const systems = SYSTEMS.filter((s) => allRuns.some((r) => r.flows.some((f) => f.system === s)));
  const runs = allRuns.map((r) => ({ ...r, flows: r.flows.filter(emulatorKeptUp) }));
  return systems.map((system) => {
    const all = allRuns.flatMap((r) => r.flows.filter((f) => f.system === system));
    const kept = runs.flatMap((r) => r.flows.filter((f) => f.system === system));
    // a system with no flow on a sound path still gets a row, from all its flows, marked by `discarded`
    const mine = kept.length > 0 ? kept : all;
    const goodput = median(mine.map((f) => f.goodputMbit));
    const first = mine[0]!;
    const ceiling = ceilingMbit(target.rateMbit, target.lossPct, first.payloadPerPacket, first.wirePerPacket);
    const ratioTo: Partial<Record<SystemName, number>> = {};
    for (const other of systems) {
      if (other === system) continue;
      const ratios = runs.flatMap((r) => {
        const a = r.flows.find((f) => f.system === system);
        const b = r.flows.find((f) => f.system === other);
        return a && b && b.goodputMbit > 0 ? [a.goodputMbit / b.goodputMbit] : [];
      });
      if (ratios.length > 0) ratioTo[other] = median(ratios);
    }
    const retransmits = mine.map((f) => f.retransmitRatio).filter((x): x is number => x !== null);
    return {
      system,
      runs: mine.length,
      discardedRuns: all.length - kept.length,
      onlyLateRuns: kept.length === 0,
      goodputMbit: goodput,
      ceilingMbit: ceiling,
      shareOfCeiling: goodput / ceiling,
      cappedRuns: mine.filter((f) => f.capped).length,
      failedRuns: mine.filter((f) => f.error !== undefined).length,
      retransmitRatio: retransmits.length > 0 ? median(retransmits) : null,
      cpuSender: median(mine.map((f) => f.cpuSender)),
      cpuReceiver: median(mine.map((f) => f.cpuReceiver)),
      emulatorLate: mine.some((f) => f.emulatorLate !== undefined)
        ? median(mine.flatMap((f) => (f.emulatorLate === undefined ? [] : [f.emulatorLate])))
        : null,
      ratioTo,
    };
  });
}

const SHORT: Record<SystemName, string> = {
  slipstream: "slip",
  "slipstream-enc": "slip-enc",
  "tcp-bbr": "bbr",
  "tcp-cubic": "cubic",
  udx: "udx",
};

function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return "–";
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/** A Markdown table: one row per system; "÷ peer" columns are this system's goodput over the peer's. */
export function formatTable(rows: readonly SystemSummary[]): string {
  const peers = rows.map((r) => r.system);
  const header = [
    "system",
    "goodput Mbit/s",
    "% of ceiling",
    "capped",
    "retx %",
    "CPU snd",
    "CPU rcv",
    ...peers.map((p) => `÷ ${SHORT[p]}`),
  ];
  const withEmulator = rows.some((r) => r.emulatorLate !== null);
  if (withEmulator) header.push("emu late %");
  const lines = rows.map((r) => [
    r.system +
      (r.failedRuns > 0 ? ` (${r.failedRuns} failed)` : "") +
      (r.discardedRuns > 0
        ? ` (${r.discardedRuns} left out${r.onlyLateRuns ? ": ALL, shown anyway" : ""})`
        : ""),
    fmtNumber(r.goodputMbit),
    `${(100 * r.shareOfCeiling).toFixed(1)}`,
    `${r.cappedRuns}/${r.runs}`,
    r.retransmitRatio === null ? "–" : (100 * r.retransmitRatio).toFixed(2),
    r.cpuSender.toFixed(2),
    r.cpuReceiver.toFixed(2),
    ...peers.map((p) =>
      p === r.system ? "" : r.ratioTo[p] === undefined ? "–" : `${fmtNumber(r.ratioTo[p]!)}×`,
    ),
    ...(withEmulator ? [r.emulatorLate === null ? "–" : (100 * r.emulatorLate).toFixed(2)] : []),
  ]);
  const out = [header, header.map(() => "---"), ...lines].map((cells) => `| ${cells.join(" | ")} |`);
  return out.join("\n");
}

/** What a Slipstream trace says about start-up, queueing and pacing (for the tuning notes). */
export interface TraceSummary {
  /** seconds from the sender's start until the receiver first got 80 % of the flow's median rate */
  secondsTo80Pct: number;
  /** median of smoothed RTT − minimum RTT over the transfer: the queue the flow keeps standing */
  queueingDelayMs: number;
  /** median pacing rate, Mbit/s (file and header bytes) */
  pacingMbit: number;
  /** receiver rate in 1 s windows, median, Mbit/s */
  deliveredMbit: number;
  sendDrops: number;
}

export function summarizeTrace(
  trace: readonly SlipstreamTraceSample[],
  delivered: readonly { t: number; bytes: number }[],
): TraceSummary {
  const rates: Array<{ t: number; mbit: number }> = [];
  for (let i = 2; i < delivered.length; i += 1) {
    const a = delivered[i - 2]!;
    const b = delivered[i]!;
    if (b.t > a.t) rates.push({ t: b.t, mbit: ((b.bytes - a.bytes) * 8) / ((b.t - a.t) / 1000) / 1e6 });
  }
  // the rate while the file was still flowing: windows after the last byte arrived are zero
  const flowing = rates.filter((r) => r.mbit > 0);
  const typical = median(flowing.map((r) => r.mbit));
  const first80 = flowing.find((r) => r.mbit >= 0.8 * typical);
  const queueing = trace.flatMap((s) =>
    s.rttMs !== null && s.rttMinMs !== null ? [s.rttMs - s.rttMinMs] : [],
  );
  return {
    secondsTo80Pct: first80 ? first80.t / 1000 : NaN,
    queueingDelayMs: median(queueing),
    pacingMbit: median(trace.filter((s) => s.pacingMbit > 0).map((s) => s.pacingMbit)),
    deliveredMbit: typical,
    sendDrops: trace.at(-1)?.sendDrops ?? 0,
  };
}
