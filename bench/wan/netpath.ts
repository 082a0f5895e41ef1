/**
 * The emulated WAN path: two end namespaces joined through a bridge in a third ("router").
 *
 *   A (10.78.0.1) ==== veth ==== R [bridge] ==== veth ==== B (10.78.0.2)
 *   rate : HTB on each of R's bridge ports' egress, a bfifo of `queueBytes` as the bottleneck queue.
 *          Not on A's or B's own interface: a queue in the sender's own stack pushes back on TCP
 *          (TCP small queues, a local drop counts as congestion) but not on UDP, which made a
 *          paced UDP flow starve TCP CUBIC in the fairness run — an artefact no real path has.
 *   loss : iptables `statistic --mode random` DROP on B's INPUT (the A→B data direction only)
 *   delay: an NFQUEUE rule on each side's INPUT and bench/wan/delay-line.c holding every packet
 *          one-way-delay long. Kernels without sch_netem (like the dev machines') still have this; it
 *          also keeps the in-flight packets out of the bottleneck queue, which netem on the same
 *          qdisc tree would not.
 *
 * Needs root, iproute2, iptables, ethtool, gcc and libnetfilter-queue-dev.
 * Everything is torn down by `down()`, which is safe to call twice and runs on SIGINT/SIGTERM.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const NS_A = "sswanA";
export const NS_B = "sswanB";
const NS_R = "sswanR";
export const ADDR_A = "10.78.0.1";
export const ADDR_B = "10.78.0.2";
const VETH_A = "sswanA0";
const VETH_B = "sswanB0";
const VETH_RA = "sswanRA";
const VETH_RB = "sswanRB";

export interface PathSpec {
  rateMbit: number;
  rttMs: number;
  lossPct: number;
  /** bottleneck queue in bytes; one BDP when absent */
  queueBytes?: number;
}

export function bdpBytes(rateMbit: number, rttMs: number): number {
  return Math.round(((rateMbit * 1e6) / 8) * (rttMs / 1000));
}

export function run(cmd: string, args: string[], opts: { quiet?: boolean } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    if (opts.quiet) return "";
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr?.trim() || err.message}`);
  }
}

export function inNs(ns: string, cmd: string, args: string[], opts: { quiet?: boolean } = {}): string {
  return run("ip", ["netns", "exec", ns, cmd, ...args], opts);
}

/** Compiles the delay line once into a cache directory (keyed by the source's mtime). */
function delayLineBinary(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/bench/wan → the source file lives in bench/wan of the repository
  const candidates = [join(here, "delay-line.c"), join(here, "../../../bench/wan/delay-line.c")];
  const source = candidates.find((p) => existsSync(p));
  if (!source) throw new Error("bench/wan/delay-line.c not found");
  const cache = join(tmpdir(), "slipstream-wan");
  mkdirSync(cache, { recursive: true });
  const bin = join(cache, `delay-line-${Math.round(statSync(source).mtimeMs)}`);
  if (!existsSync(bin)) {
    try {
      run("gcc", ["-O2", "-Wall", "-o", bin, source, "-lnetfilter_queue", "-lnfnetlink"]);
    } catch (e) {
      throw new Error(
        `cannot build the delay line (apt-get install gcc libnetfilter-queue-dev): ${(e as Error).message}`,
      );
    }
  }
  return bin;
}

interface DelayLine {
  ns: string;
  child: ChildProcess;
  stderr: string;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** Tears the path down however the process ends (normal exit, error, Ctrl-C, kill). */
export function tearDownOnExit(path: WanPath, alsoRun: () => void): void {
  const cleanup = (): void => {
    alsoRun();
    path.down();
  };
  process.once("exit", cleanup);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: tearing the WAN path down`);
      cleanup();
      process.exit(130);
    });
  }
  process.once("uncaughtException", (e) => {
    console.error(e);
    cleanup();
    process.exit(1);
  });
  process.once("unhandledRejection", (e) => {
    console.error(e);
    cleanup();
    process.exit(1);
  });
}

export interface DelayLineStats {
  ns: string;
  overflow: number;
  /** since the previous stats call: the latest release and packets released over 5 ms late */
  lateMaxUs: number;
  released: number;
  lateOver5ms: number;
}

const ALLOWED_CC = "net.ipv4.tcp_allowed_congestion_control";

export class WanPath {
  private delayLines: DelayLine[] = [];
  /** the host's allowed congestion controls before we added cubic/bbr; null if untouched */
  private allowedCcBefore: string | null = null;
  spec: PathSpec | null = null;

  /** Process ids of the delay lines, so callers can charge their CPU. */
  get delayLinePids(): number[] {
    return this.delayLines.map((d) => d.child.pid!).filter((p) => p !== undefined);
  }

  async up(spec: PathSpec): Promise<void> {
    this.down();
    this.spec = spec;
    const queueBytes = Math.max(100_000, spec.queueBytes ?? bdpBytes(spec.rateMbit, spec.rttMs));
    const oneWayUs = Math.round((spec.rttMs * 1000) / 2);
    run("ip", ["netns", "add", NS_A]);
    run("ip", ["netns", "add", NS_B]);
    run("ip", ["netns", "add", NS_R]);
    run("ip", ["link", "add", VETH_A, "type", "veth", "peer", "name", VETH_RA]);
    run("ip", ["link", "add", VETH_B, "type", "veth", "peer", "name", VETH_RB]);
    run("ip", ["link", "set", VETH_A, "netns", NS_A]);
    run("ip", ["link", "set", VETH_B, "netns", NS_B]);
    run("ip", ["link", "set", VETH_RA, "netns", NS_R]);
    run("ip", ["link", "set", VETH_RB, "netns", NS_R]);
    // one packet per skb, so HTB, the loss rule and the delay line see wire-sized packets
    const oneSkbPerPacket = (ns: string, dev: string): void =>
      void inNs(ns, "ethtool", ["-K", dev, "tso", "off", "gso", "off", "gro", "off"], { quiet: true });
    for (const [ns, dev, addr] of [
      [NS_A, VETH_A, ADDR_A],
      [NS_B, VETH_B, ADDR_B],
    ] as const) {
      run("ip", ["-n", ns, "addr", "add", `${addr}/24`, "dev", dev]);
      run("ip", ["-n", ns, "link", "set", "lo", "up"]);
      run("ip", ["-n", ns, "link", "set", dev, "up"]);
      oneSkbPerPacket(ns, dev);
      inNs(ns, "sysctl", [
        "-qw",
        "net.ipv4.tcp_rmem=4096 131072 134217728",
        "net.ipv4.tcp_wmem=4096 65536 134217728",
        "net.ipv4.tcp_no_metrics_save=1",
      ]);
    }
    run("ip", ["-n", NS_R, "link", "add", "br0", "type", "bridge"]);
    run("ip", ["-n", NS_R, "link", "set", "br0", "up"]);
    for (const dev of [VETH_RA, VETH_RB]) {
      run("ip", ["-n", NS_R, "link", "set", dev, "master", "br0"]);
      run("ip", ["-n", NS_R, "link", "set", dev, "up"]);
      oneSkbPerPacket(NS_R, dev);
      // the bottleneck: traffic towards B leaves R through VETH_RB, towards A through VETH_RA
      this.addBottleneck(NS_R, dev, spec.rateMbit, queueBytes);
    }
    this.allowCongestionControls(["cubic", "bbr"]);
    inNs(NS_B, "iptables", [
      "-A",
      "INPUT",
      "-m",
      "statistic",
      "--mode",
      "random",
      "--probability",
      "0",
      "-j",
      "DROP",
    ]);
    this.setLoss(spec.lossPct);
    if (oneWayUs > 0) await this.startDelayLines(oneWayUs);
  }

  private addBottleneck(ns: string, dev: string, rateMbit: number, queueBytes: number): void {
    const tc = (...args: string[]): void => void run("tc", ["-n", ns, ...args]);
    tc("qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10", "r2q", "1000");
    const rate = `${rateMbit}mbit`;
    tc(
      "class",
      "add",
      "dev",
      dev,
      "parent",
      "1:",
      "classid",
      "1:10",
      "htb",
      "rate",
      rate,
      "ceil",
      rate,
      "burst",
      "64k",
      "cburst",
      "64k",
    );
    tc("qdisc", "add", "dev", dev, "parent", "1:10", "handle", "10:", "bfifo", "limit", String(queueBytes));
  }

  private async startDelayLines(oneWayUs: number): Promise<void> {
    const bin = delayLineBinary();
    let queue = 77;
    for (const ns of [NS_A, NS_B]) {
      const child = spawn("ip", ["netns", "exec", ns, bin, String(queue), String(oneWayUs), "400000"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      const line: DelayLine = { ns, child, stderr: "" };
      child.stderr!.on("data", (d: Buffer) => (line.stderr += d.toString()));
      this.delayLines.push(line);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once("data", () => resolve());
        child.once("exit", (code) => reject(new Error(`delay line exited (${code}): ${line.stderr}`)));
      });
      inNs(ns, "iptables", [
        "-A",
        "INPUT",
        "-i",
        ns === NS_A ? VETH_A : VETH_B,
        "-j",
        "NFQUEUE",
        "--queue-num",
        String(queue),
      ]);
      queue++;
    }
  }

  /**
   * A namespace other than the host's may only pick a default congestion control from the host's
   * allowed list; add ours for the run (restored by down()).
   */
  private allowCongestionControls(names: string[]): void {
    const allowed = run("sysctl", ["-n", ALLOWED_CC]).trim().split(/\s+/);
    const missing = names.filter((n) => !allowed.includes(n));
    if (missing.length === 0) return;
    this.allowedCcBefore ??= allowed.join(" ");
    run("sysctl", ["-qw", `${ALLOWED_CC}=${[...allowed, ...missing].join(" ")}`]);
  }

  setLoss(lossPct: number): void {
    const p = (lossPct / 100).toFixed(6);
    inNs(NS_B, "iptables", [
      "-R",
      "INPUT",
      "1",
      "-m",
      "statistic",
      "--mode",
      "random",
      "--probability",
      p,
      "-j",
      "DROP",
    ]);
    if (this.spec) this.spec = { ...this.spec, lossPct };
  }

  /** Drops counted by the data-direction loss rule so far (a sanity check on the loss setting). */
  lossRuleDrops(): number {
    const out = inNs(NS_B, "iptables", ["-L", "INPUT", "1", "-v", "-x", "-n"], { quiet: true });
    const n = Number(out.trim().split(/\s+/)[0]);
    return Number.isFinite(n) ? n : 0;
  }

  /**
   * Each delay line's counters since the previous call: the largest lateness says whether it kept
   * up with the traffic (a late delay line adds delay and so distorts the RTT the flows see).
   */
  async delayLineStats(): Promise<DelayLineStats[]> {
    return Promise.all(
      this.delayLines.map(
        (d) =>
          new Promise<DelayLineStats>((resolve) => {
            const timer = setTimeout(
              () => resolve({ ns: d.ns, overflow: -1, lateMaxUs: -1, released: 0, lateOver5ms: 0 }),
              1000,
            );
            d.child.stdout!.once("data", (b: Buffer) => {
              clearTimeout(timer);
              const n = (k: string): number =>
                Number(new RegExp(`${k}=(\\d+)`).exec(b.toString())?.[1] ?? -1);
              resolve({
                ns: d.ns,
                overflow: n("overflow"),
                lateMaxUs: n("late_max_us"),
                released: n("released"),
                lateOver5ms: n("late_over_5ms"),
              });
            });
            d.child.kill("SIGUSR1");
          }),
      ),
    );
  }

  /** Stops the delay lines and returns their closing counters ("queued=… overflow=… late_max_us=…"). */
  async stopDelayLines(): Promise<string[]> {
    const lines = this.delayLines;
    this.delayLines = [];
    return Promise.all(
      lines.map(
        (d) =>
          new Promise<string>((resolve) => {
            const done = (): void => resolve(`${d.ns}: ${d.stderr.trim().split("\n").pop() ?? ""}`);
            if (d.child.exitCode !== null || d.child.signalCode !== null) return done();
            const timer = setTimeout(() => d.child.kill("SIGKILL"), 1000);
            d.child.once("exit", () => {
              clearTimeout(timer);
              setImmediate(done);
            });
            d.child.kill("SIGTERM");
          }),
      ),
    );
  }

  /** Removes the namespaces (and with them the veths, qdiscs and iptables rules) and delay lines. */
  down(): void {
    for (const d of this.delayLines) if (d.child.exitCode === null) d.child.kill("SIGKILL");
    this.delayLines = [];
    for (const ns of [NS_A, NS_B, NS_R]) run("ip", ["netns", "del", ns], { quiet: true });
    for (const dev of [VETH_A, VETH_B]) run("ip", ["link", "del", dev], { quiet: true });
    if (this.allowedCcBefore !== null)
      run("sysctl", ["-qw", `${ALLOWED_CC}=${this.allowedCcBefore}`], { quiet: true });
    this.allowedCcBefore = null;
    this.spec = null;
  }
}
