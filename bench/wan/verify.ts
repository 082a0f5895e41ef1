/**
 * Measures the path that was built, from the applications' point of view:
 *  - RTT: 20 UDP echoes between two node processes (ping would miss the receive-side delay line),
 *  - loss: an iperf3 UDP stream at half the rate for 4 s, lost / sent as counted by the receiver,
 *  - rate: an iperf3 UDP stream at 1.15 × the rate for 5 s; the receiver's per-second throughput
 *    once the queue is full (median of seconds 2–5), converted to wire bytes, loss added back.
 */
import { ADDR_A, ADDR_B, NS_A, NS_B, type PathSpec } from "./netpath.js";
import { nowMs } from "./clock.js";
import { runInNs, startPeer } from "./processes.js";
import { median, verifyPath, type PathMeasured, type PathVerdict } from "./report.js";

const PROBE_PAYLOAD = 1400;
/** what a probe costs on the link: + IP/UDP headers + the Ethernet header HTB counts */
const PROBE_WIRE = PROBE_PAYLOAD + 28 + 14;

interface IperfInterval {
  sum: { bytes: number; seconds: number; bits_per_second: number };
}
interface IperfServerReport {
  intervals: IperfInterval[];
  end: { sum: { lost_packets: number; packets: number } };
  error?: string;
}

/** iperf3 reports a failed run (e.g. its TCP control connection timing out on a lossy, long path) without a summary */
function summary(report: IperfServerReport): { lost_packets: number; packets: number } {
  const sum = report.end?.sum;
  if (!sum) throw new Error(`iperf3 gave no summary${report.error ? `: ${report.error}` : ""}`);
  return sum;
}

async function measureRtt(): Promise<number[]> {
  const echo = startPeer(NS_B, "echo", baseOptions(7001, 20_000));
  await echo.ready;
  const ping = startPeer(NS_A, "ping", {
    ...baseOptions(7001, 15_000),
    local: ADDR_A,
    remote: ADDR_B,
    pings: 20,
  });
  const result = await ping.result;
  process.kill(echo.pid, "SIGKILL");
  return result.rttsMs ?? [];
}

function baseOptions(port: number, lifetimeMs: number) {
  return {
    local: ADDR_B,
    remote: ADDR_A,
    port,
    file: "",
    size: 0,
    sha256: "",
    deadlineMs: nowMs() + lifetimeMs,
  };
}

/** One UDP iperf3 stream A→B; returns the receiving server's JSON report. */
async function iperfUdp(rateMbit: number, seconds: number): Promise<IperfServerReport> {
  const port = "7201";
  const server = runInNs(NS_B, "iperf3", ["-s", "-1", "-J", "-B", ADDR_B, "-p", port], (seconds + 30) * 1000);
  await new Promise((r) => setTimeout(r, 400));
  await runInNs(
    NS_A,
    "iperf3",
    [
      "-c",
      ADDR_B,
      "-B",
      ADDR_A,
      "-p",
      port,
      "-u",
      "-b",
      `${rateMbit.toFixed(1)}M`,
      "-l",
      String(PROBE_PAYLOAD),
    ].concat(["-t", String(seconds), "-J", "-w", "16M"]),
    (seconds + 30) * 1000,
  );
  return JSON.parse(await server) as IperfServerReport;
}

export async function measurePath(spec: PathSpec): Promise<PathMeasured> {
  const rttsMs = await measureRtt();
  const lossRun = await iperfUdp(spec.rateMbit * 0.5, 4);
  const { packets: sent, lost_packets: lost } = summary(lossRun);
  const rateRun = await iperfUdp(spec.rateMbit * 1.15, 5);
  summary(rateRun);
  const perSecond = rateRun.intervals.slice(1, 5).map((i) => i.sum.bits_per_second / 1e6);
  const lossFraction = sent > 0 ? lost / sent : 0;
  const rateMbit = (median(perSecond) * (PROBE_WIRE / PROBE_PAYLOAD)) / (1 - lossFraction);
  return { rttsMs, lossProbeSent: sent, lossProbeLost: lost, rateMbit };
}

export async function checkPath(spec: PathSpec): Promise<PathVerdict> {
  try {
    return verifyPath(spec, await measurePath(spec));
  } catch (error) {
    // a failed measurement is a path not verified: the caller retries, then refuses to report
    return { ok: false, rttMs: NaN, lossPct: NaN, rateMbit: NaN, problems: [(error as Error).message] };
  }
}
