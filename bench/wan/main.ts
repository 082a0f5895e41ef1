/**
 * `npm run bench:wan -- [--profile 100ms-1pct …|key|all] [--runs 3] [--rate-mbit 1000] [--json]`
 *
 * Root only. Builds an emulated WAN path between two network namespaces (see netpath.ts), verifies
 * it before every run, and sends the same random file with Slipstream, TCP BBR, TCP CUBIC and
 * udx-native, one after the other, per run. Prints medians per system; `--out` keeps the raw runs
 * (JSON lines), `--from` reports saved runs again without running, `--svg` draws the chart.
 */
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { goodputChart, type ChartPoint } from "./chart.js";
import { runFairness, runFlow, testFile, type FairnessResult, type FlowContext } from "./flows.js";
import { bdpBytes, tearDownOnExit, WanPath, type DelayLineStats, type PathSpec } from "./netpath.js";
import { killAll } from "./processes.js";
import { expandProfiles, type Profile } from "./profiles.js";
import {
  EMULATOR_LATE_LIMIT,
  formatTable,
  median,
  summarize,
  summarizeTrace,
  SYSTEMS,
  type PathVerdict,
  type RunRecord,
  type SystemName,
  type TraceSummary,
} from "./report.js";
import { slipstreamVariantAvailable } from "./slipstream-options.js";
import { checkPath } from "./verify.js";

/** One profile's outcome, as kept in --out files. */
export interface ProfileRecord {
  kind: "transfer" | "fairness";
  profile: string;
  spec: PathSpec & { queueBytes: number };
  capSeconds: number;
  sizeMiB: number;
  date: string;
  verdicts: PathVerdict[];
  runs: RunRecord[];
  fairness: FairnessResult[];
  /** how late the delay lines released packets during each flow, by system: did the emulator keep up */
  delayLine: Partial<Record<SystemName | "fairness", Array<{ lateMaxUs: number; shareLateOver5ms: number }>>>;
}

const options = {
  profile: { type: "string", multiple: true },
  runs: { type: "string", default: "3" },
  "rate-mbit": { type: "string", default: "1000" },
  "cap-s": { type: "string", default: "60" },
  "size-mib": { type: "string", default: "512" },
  systems: { type: "string", default: "slipstream,slipstream-enc,tcp-bbr,tcp-cubic,udx" },
  "fair-warmup-s": { type: "string", default: "5" },
  "check-only": { type: "boolean", default: false },
  "verify-attempts": { type: "string", default: "3" },
  json: { type: "boolean", default: false },
  out: { type: "string" },
  from: { type: "string", multiple: true },
  svg: { type: "string" },
} as const;

function log(message: string): void {
  console.error(`[wan ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function parseSystems(list: string): SystemName[] {
  const systems = list.split(",").map((s) => s.trim()) as SystemName[];
  for (const s of systems)
    if (!SYSTEMS.includes(s)) throw new Error(`--systems: unknown "${s}" (${SYSTEMS.join(", ")})`);
  return systems.filter((s) => {
    if (s !== "slipstream-enc" || slipstreamVariantAvailable("encrypted")) return true;
    log("slipstream-enc skipped: the UDP drivers have no security option yet (see slipstream-options.ts)");
    return false;
  });
}

async function runProfile(
  path: WanPath,
  profile: Profile,
  rateMbit: number,
  runs: number,
  systems: SystemName[],
  ctx: FlowContext,
  warmup: number,
  checkOnly: boolean,
  sizeMiB: number,
  verifyAttempts: number,
): Promise<ProfileRecord> {
  const spec = {
    rateMbit,
    rttMs: profile.rttMs,
    lossPct: profile.lossPct,
    queueBytes: bdpBytes(rateMbit, profile.rttMs),
  };
  const record: ProfileRecord = {
    kind: profile.kind,
    profile: profile.name,
    spec,
    capSeconds: ctx.capSeconds,
    sizeMiB,
    date: new Date().toISOString(),
    verdicts: [],
    runs: [],
    fairness: [],
    delayLine: {},
  };
  const late = (key: SystemName | "fairness", stats: DelayLineStats[]): string => {
    const worst = Math.max(...stats.map((s) => s.lateMaxUs));
    const share =
      stats.reduce((a, s) => a + s.lateOver5ms, 0) /
      Math.max(
        1,
        stats.reduce((a, s) => a + s.released, 0),
      );
    (record.delayLine[key] ??= []).push({ lateMaxUs: worst, shareLateOver5ms: share });
    return `delay line: ${(100 * share).toFixed(2)} % of packets > 5 ms late, worst ${(worst / 1000).toFixed(1)} ms`;
  };
  log(
    `${profile.name}: building ${rateMbit} Mbit/s, RTT ${spec.rttMs} ms, loss ${spec.lossPct} %, queue ${spec.queueBytes} B`,
  );
  await path.up(spec);
  try {
    for (let run = 0; run < runs; run++) {
      // the machine is shared: a check that fails may pass a little later, but nothing runs on a path that is off
      let verdict = await checkPath(spec);
      for (let attempt = 1; !verdict.ok && attempt < verifyAttempts; attempt++) {
        log(
          `${profile.name} run ${run + 1}: path is off (${verdict.problems.join("; ")}); checking again in 20 s`,
        );
        await new Promise((r) => setTimeout(r, 20_000));
        verdict = await checkPath(spec);
      }
      record.verdicts.push(verdict);
      const measured = `RTT ${verdict.rttMs.toFixed(1)} ms, loss ${verdict.lossPct.toFixed(3)} %, rate ${verdict.rateMbit.toFixed(1)} Mbit/s`;
      if (!verdict.ok) {
        log(
          `${profile.name} run ${run + 1}: path is OFF, not running on it: ${verdict.problems.join("; ")} (${measured})`,
        );
        continue;
      }
      log(`${profile.name} run ${run + 1}: path verified (${measured})`);
      if (checkOnly) continue;
      await path.delayLineStats();
      if (profile.kind === "fairness") {
        for (const method of ["fair", "adaptive"] as const) {
          const r = await runFairness(method, ctx, rateMbit, warmup, `${run}`);
          const lateness = late("fairness", await path.delayLineStats());
          log(
            `  ${method} vs cubic: ${r.slipstreamMbit.toFixed(1)} / ${r.cubicMbit.toFixed(1)} Mbit/s, share ${(100 * r.slipstreamShare).toFixed(1)} % over ${r.windowSeconds.toFixed(1)} s, ${lateness}`,
          );
          record.fairness.push(r);
        }
        continue;
      }
      const flows = [];
      for (const system of systems) {
        const m = await runFlow(system, ctx, `${run}`);
        const stats = await path.delayLineStats();
        const lateness = late(system, stats);
        m.emulatorLate = record.delayLine[system]!.at(-1)!.shareLateOver5ms;
        rmSync(join(ctx.scratch, `${system}-${run}`), { recursive: true, force: true });
        log(
          `  ${system}: ${m.goodputMbit.toFixed(2)} Mbit/s${m.capped ? " (capped)" : ""} in ${m.seconds.toFixed(1)} s, retx ${m.retransmitRatio === null ? "–" : (100 * m.retransmitRatio).toFixed(2) + " %"}, CPU ${m.cpuSender.toFixed(2)}/${m.cpuReceiver.toFixed(2)}, ${lateness}${m.error ? `, error: ${m.error}` : ""}`,
        );
        flows.push(m);
      }
      record.runs.push({ run, flows });
    }
  } finally {
    await path.stopDelayLines();
    path.down();
  }
  return record;
}

function report(records: readonly ProfileRecord[]): string {
  const out: string[] = [];
  for (const r of records) {
    const s = r.spec;
    const head = `### ${r.profile}: ${s.rateMbit} Mbit/s, RTT ${s.rttMs} ms, loss ${s.lossPct} %, queue ${s.queueBytes} B (1 BDP)`;
    const refused = r.verdicts.filter((v) => !v.ok).length;
    const verified = r.verdicts.filter((v) => v.ok);
    const pathLine =
      verified.length > 0
        ? `path measured (median of ${verified.length} checks): RTT ${median(verified.map((v) => v.rttMs)).toFixed(1)} ms, loss ${median(verified.map((v) => v.lossPct)).toFixed(3)} %, rate ${median(verified.map((v) => v.rateMbit)).toFixed(1)} Mbit/s` +
          (refused > 0 ? `; ${refused} check(s) failed, those runs were not made` : "")
        : `path never verified: ${r.verdicts.map((v) => v.problems.join("; ")).join(" | ")}`;
    out.push(head, "", pathLine, "");
    if (r.kind === "transfer" && r.runs.length > 0) {
      r.runs.forEach((run, i) => {
        for (const f of run.flows) f.emulatorLate ??= r.delayLine?.[f.system]?.[i]?.shareLateOver5ms;
      });
      out.push(`median of ${r.runs.length} runs, ${r.sizeMiB} MiB file, cap ${r.capSeconds} s`, "");
      out.push(formatTable(summarize(s, r.runs)), "");
      for (const system of ["slipstream", "slipstream-enc"] as const) {
        const traces = r.runs.flatMap((run) =>
          run.flows
            .filter((f) => f.system === system && f.trace && f.delivered)
            .map((f) => summarizeTrace(f.trace!, f.delivered!)),
        );
        if (traces.length === 0) continue;
        const m = (k: keyof TraceSummary): string => median(traces.map((t) => t[k])).toFixed(1);
        out.push(
          `${system} sender (median of ${traces.length}): 80 % of its rate after ${m("secondsTo80Pct")} s, ` +
            `delivered ${m("deliveredMbit")} Mbit/s while paced at ${m("pacingMbit")} Mbit/s, ` +
            `standing queue (srtt − min RTT) ${m("queueingDelayMs")} ms`,
          "",
        );
      }
    }
    if (r.kind === "fairness" && r.fairness.length > 0) {
      out.push(
        "| Slipstream method | runs (left out) | Slipstream Mbit/s | CUBIC Mbit/s | Slipstream share | shares per run | link used |",
      );
      out.push("| --- | --- | --- | --- | --- | --- | --- |");
      const late = r.delayLine?.fairness ?? [];
      const all = r.fairness.map((f, i) => ({ ...f, late: late[i]?.shareLateOver5ms }));
      for (const method of ["fair", "adaptive"]) {
        const tried = all.filter((f) => f.method === method);
        const kept = tried.filter((f) => f.late === undefined || f.late <= EMULATOR_LATE_LIMIT);
        const mine = kept.length > 0 ? kept : tried;
        if (mine.length === 0) continue;
        const m = (k: keyof FairnessResult): number => median(mine.map((f) => f[k] as number));
        const shares = tried.map(
          (f) => `${(100 * f.slipstreamShare).toFixed(0)}${kept.includes(f) ? "" : "*"}`,
        );
        out.push(
          `| ${method} | ${mine.length} (${tried.length - kept.length}) | ${m("slipstreamMbit").toFixed(1)} | ${m("cubicMbit").toFixed(1)} | ${(100 * m("slipstreamShare")).toFixed(1)} % | ${shares.join(", ")} | ${(100 * m("utilization")).toFixed(1)} % |`,
        );
      }
      out.push(
        "",
        "\\* left out: the delay lines fell behind during that run (> 5 % of packets over 5 ms late)",
      );
      out.push("");
    }
  }
  return out.join("\n");
}

function chartPoints(records: readonly ProfileRecord[]): ChartPoint[] {
  return records
    .filter((r) => r.kind === "transfer" && r.runs.length > 0)
    .flatMap((r) =>
      summarize(r.spec, r.runs).map((s) => ({
        system: s.system,
        rttMs: r.spec.rttMs,
        lossPct: r.spec.lossPct,
        goodputMbit: s.goodputMbit,
        capped: s.cappedRuns > 0,
      })),
    );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options });
  let records: ProfileRecord[] = [];
  if (values.from) {
    records = values.from.flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as ProfileRecord),
    );
  } else {
    if (process.getuid?.() !== 0) throw new Error("the WAN bench builds network namespaces: run it as root");
    const rateMbit = Number(values["rate-mbit"]);
    const runs = Math.max(1, Number(values.runs));
    const systems = parseSystems(values.systems);
    const profiles = expandProfiles((values.profile ?? ["key"]).flatMap((p) => p.split(",")));
    const dir = join(tmpdir(), "slipstream-wan");
    mkdirSync(dir, { recursive: true });
    const sizeMiB = Number(values["size-mib"]);
    log(`test file: ${sizeMiB} MiB of random bytes in ${dir}`);
    const ctx: FlowContext = {
      file: await testFile(dir, sizeMiB),
      capSeconds: Number(values["cap-s"]),
      scratch: join(dir, "received"),
    };
    const path = new WanPath();
    tearDownOnExit(path, () => {
      killAll();
      rmSync(ctx.scratch, { recursive: true, force: true });
    });
    for (const profile of profiles) {
      const warmup = Number(values["fair-warmup-s"]);
      const record = await runProfile(
        path,
        profile,
        rateMbit,
        runs,
        systems,
        ctx,
        warmup,
        values["check-only"],
        sizeMiB,
        Number(values["verify-attempts"]),
      );
      records.push(record);
      if (values.out) appendFileSync(values.out, JSON.stringify(record) + "\n");
    }
  }
  if (values.json) console.log(JSON.stringify(records, null, 2));
  else console.log(report(records));
  if (values.svg) {
    const rate = records[0]?.spec.rateMbit ?? 0;
    const title = `Goodput against loss, ${rate} Mbit/s link, queue 1 BDP (median of runs)`;
    writeFileSync(values.svg, goodputChart(chartPoints(records), title, rate));
    log(`chart written to ${values.svg}`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
