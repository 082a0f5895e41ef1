/**
 * The collection pass of server.md §13: every `intervalSeconds` (and on `garbageCollect`) each
 * registered collector removes what has expired and reports its counts; the pass then fires
 * `server.garbageCollected`. The parts of the server that own records (send side, receive side,
 * tokens, async requests, event log) register a collector; this class only schedules, keeps the
 * settings and adds up.
 */
import type { Clock } from "../clock.js";
import type { ServerEvents } from "../events.js";
import type { Logger } from "../logger.js";
import {
  applySettingsPatch,
  type GarbageCollectCounts,
  type GarbageCollectResultValues,
  type GarbageCollectSettingsValues,
  type GarbageCollectSettingsView,
  zeroCounts,
} from "./gc-settings.js";
import type { GcSettingsStore } from "./gc-store.js";

/** What a collector is given: the pass's time (clock microseconds) and the settings in force. */
export interface GcPass {
  now: number;
  settings: Readonly<GarbageCollectSettingsValues>;
}

export interface GcCollector {
  /** names the collector in logs */
  readonly name: string;
  /** remove what has expired at `pass.now`; returns the records removed, by kind */
  collect(pass: GcPass): Partial<GarbageCollectCounts> | Promise<Partial<GarbageCollectCounts>>;
}

/** Runs `task` after `ms` milliseconds; returns a cancel function. Injectable for tests. */
export type GcTimer = (task: () => void, ms: number) => () => void;

/** The longest delay setTimeout takes; longer waits are done in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const realGcTimer: GcTimer = (task, ms) => {
  const timer = setTimeout(task, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

export interface GarbageCollectorDeps {
  store: GcSettingsStore;
  clock: Clock;
  events: ServerEvents;
  logger: Logger;
  timer?: GcTimer;
}

export class GarbageCollector {
  private readonly collectors: GcCollector[] = [];
  private values: GarbageCollectSettingsValues;
  private lastRunTime: number | null;
  /** start of the current period: the last scheduled pass, or when the schedule began */
  private periodStart: number | null = null;
  private nextRunTime: number | null = null;
  private cancelTimer: (() => void) | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: GarbageCollectorDeps) {
    const loaded = deps.store.load();
    this.values = loaded.settings;
    this.lastRunTime = loaded.lastRunTime;
  }

  /** The settings in force (no copy: do not change them). */
  get current(): Readonly<GarbageCollectSettingsValues> {
    return this.values;
  }

  /** GarbageCollectSettings (api.md §5.18). */
  settings(): GarbageCollectSettingsView {
    return { ...this.values, lastRunTime: this.lastRunTime, nextRunTime: this.nextRunTime };
  }

  /** Validate, apply and persist `patch`; a new interval takes effect for the current period. */
  update(patch: Partial<GarbageCollectSettingsValues>): GarbageCollectSettingsView {
    const next = applySettingsPatch(this.values, patch);
    this.deps.store.saveSettings(next);
    const intervalChanged = next.intervalSeconds !== this.values.intervalSeconds;
    this.values = next;
    if (intervalChanged && this.periodStart !== null && !this.stopped) this.schedule();
    return this.settings();
  }

  /** Add a collector; collectors run in the order they were registered. Returns its removal. */
  register(collector: GcCollector): () => void {
    this.collectors.push(collector);
    return () => {
      const index = this.collectors.indexOf(collector);
      if (index >= 0) this.collectors.splice(index, 1);
    };
  }

  /**
   * Begin the periodic passes. The first comes one interval after the last pass before a restart
   * (at once when that is overdue), or one interval from now.
   */
  start(): void {
    if (this.stopped || this.periodStart !== null) return;
    this.periodStart = this.lastRunTime ?? this.deps.clock.nowMicros();
    this.schedule();
  }

  /** No more periodic passes (shutdown); resolves when a pass already running has finished. */
  stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.nextRunTime = null;
    return this.running.then(() => undefined);
  }

  /** Run a pass now (after any pass already running); the periodic schedule is not shifted. */
  run(): Promise<GarbageCollectResultValues> {
    const pass = this.running.then(() => this.pass());
    this.running = pass.catch(() => undefined);
    return pass;
  }

  private async pass(): Promise<GarbageCollectResultValues> {
    const now = this.deps.clock.nowMicros();
    const counts = zeroCounts();
    const settings = { ...this.values };
    for (const collector of [...this.collectors]) {
      try {
        const removed = await collector.collect({ now, settings });
        for (const [key, value] of Object.entries(removed) as [keyof GarbageCollectCounts, number][])
          counts[key] += value;
      } catch (error) {
        this.deps.logger.error(
          { component: "gc", err: error, collector: collector.name },
          "collector failed",
        );
      }
    }
    this.lastRunTime = now;
    this.deps.store.saveLastRunTime(now);
    const result: GarbageCollectResultValues = { ...counts, runTime: now };
    this.deps.events.emit("server.garbageCollected", { ...result });
    return result;
  }

  private schedule(): void {
    this.cancelTimer?.();
    const now = this.deps.clock.nowMicros();
    const due = Math.max(now, (this.periodStart ?? now) + this.values.intervalSeconds * 1_000_000);
    this.nextRunTime = due;
    const timer = this.deps.timer ?? realGcTimer;
    this.cancelTimer = timer(() => this.onTimer(), Math.min(MAX_TIMER_MS, Math.ceil((due - now) / 1000)));
  }

  private onTimer(): void {
    this.cancelTimer = null;
    if (this.stopped || this.nextRunTime === null) return;
    const now = this.deps.clock.nowMicros();
    // a long interval is waited for in steps; a clock that is behind the timer waits again
    if (now < this.nextRunTime) {
      this.schedule();
      return;
    }
    this.periodStart = now;
    void this.run()
      .catch((error: unknown) => this.deps.logger.error({ component: "gc", err: error }, "collection failed"))
      .finally(() => {
        if (!this.stopped) this.schedule();
      });
  }
}
