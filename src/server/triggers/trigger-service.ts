/**
 * Triggers (server.md §16): every event the server emits is offered to the scripts named after it
 * in the trigger dir. The server never waits: the directory is read and the scripts run in the
 * background, at most `concurrency` at once, started in event order (one FIFO queue, fed by
 * lookups done one event at a time). A full queue drops runs with a warning. Outcomes are only
 * logged; they never change anything else.
 */
import { resolve } from "node:path";
import type { EventLogEntry } from "../event-log.js";
import type { ServerEvents } from "../events.js";
import type { Logger } from "../logger.js";
import { triggerArguments, type DestinationLookup } from "./trigger-arguments.js";
import { runTriggerProcess, type TriggerProcessResult } from "./trigger-process.js";
import { findTriggerScripts, type ScriptPolicy } from "./trigger-scripts.js";

export interface TriggerSettings {
  dir: string;
  /** log every run, not only failures (`--trigger-log`) */
  logEveryRun: boolean;
  /** `--trigger-timeout`; 0 = none */
  timeoutSeconds: number;
  /** `--trigger-concurrency` */
  concurrency: number;
  serverId: string;
  apiPort: () => number;
  logger: Logger;
  /** SIGTERM → SIGKILL; 5 s (spec), shorter in tests */
  killGraceMs?: number;
  /** runs waiting to start beyond which new ones are dropped; 1,000 (spec) */
  maxWaiting?: number;
  /** the environment the scripts inherit; the server's own by default */
  env?: NodeJS.ProcessEnv;
  policy?: ScriptPolicy;
}

/** What a run needs of its event, taken when the event happened. */
interface Offer {
  event: string;
  args: string[];
  entryJson: string;
}

interface PendingRun {
  event: string;
  script: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export const TRIGGER_KILL_GRACE_MS = 5000;
export const TRIGGER_MAX_WAITING = 1000;
export const TRIGGER_OUTPUT_LIMIT = 4096;

/** Variables that carry credentials (passwords, tokens, secrets) of the server's user. */
const CREDENTIAL_NAME = /^SLIPSTREAM_.*(PASSWORD|TOKEN|SECRET|KEY)/i;

export class TriggerService {
  private readonly waiting: PendingRun[] = [];
  private running = 0;
  private lookups: Promise<void> = Promise.resolve();
  private pendingLookups = 0;
  private dropped = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private destinationLookup: DestinationLookup = () => null;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly policy: ScriptPolicy;
  /** absolute: scripts run with it as working directory */
  private readonly dir: string;

  constructor(private readonly settings: TriggerSettings) {
    this.dir = resolve(settings.dir);
    this.baseEnv = Object.fromEntries(
      Object.entries(settings.env ?? process.env).filter(([name]) => !CREDENTIAL_NAME.test(name)),
    );
    this.policy = settings.policy ?? { uid: process.getuid?.() ?? null, platform: process.platform };
  }

  /** Listen to `events`; returns the detach function. */
  attach(events: ServerEvents): () => void {
    return events.onEvent((entry) => this.offer(entry));
  }

  /** Where `dest` of events that carry only a destinationId comes from (the send side). */
  setDestinationLookup(lookup: DestinationLookup): void {
    this.destinationLookup = lookup;
  }

  /** Offer an event: its arguments are taken now, the directory is read in the background. */
  offer(entry: EventLogEntry): void {
    if (this.stopped) return;
    const event = entry._event;
    const offer: Offer = {
      event,
      args: triggerArguments(event, entry, this.destinationLookup),
      entryJson: JSON.stringify(entry),
    };
    this.pendingLookups++;
    this.lookups = this.lookups
      .then(() => this.lookup(offer))
      .catch((error: unknown) =>
        this.settings.logger.warn(
          { component: "trigger", err: error, event, dir: this.dir },
          "cannot read the trigger directory",
        ),
      )
      .finally(() => {
        this.pendingLookups--;
        this.checkIdle();
      });
  }

  /** Stop starting runs (shutdown): waiting ones are dropped, running ones finish. */
  stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
    this.checkIdle();
  }

  /** Resolves once the directory was read for every event offered so far. */
  lookupsDone(): Promise<void> {
    return this.lookups;
  }

  /** Resolves once no lookup is pending and no run is waiting or running. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  private async lookup({ event, args, entryJson }: Offer): Promise<void> {
    if (this.stopped) return;
    const found = await findTriggerScripts(this.dir, event, this.policy);
    for (const skip of found.skipped) {
      this.settings.logger.warn(
        { component: "trigger", event, script: skip.path, reason: skip.reason },
        "trigger script skipped",
      );
    }
    if (found.scripts.length === 0) return;
    const env: NodeJS.ProcessEnv = {
      ...this.baseEnv,
      SLIPSTREAM_EVENT: event,
      SLIPSTREAM_EVENT_JSON: entryJson,
      SLIPSTREAM_API_PORT: String(this.settings.apiPort()),
      SLIPSTREAM_SERVER_ID: this.settings.serverId,
    };
    for (const script of found.scripts) this.enqueue({ event, script, args, env });
  }

  private enqueue(run: PendingRun): void {
    if (this.stopped) return;
    if (this.waiting.length >= (this.settings.maxWaiting ?? TRIGGER_MAX_WAITING)) {
      // one warning when dropping starts, one with the count when the queue drains
      if (this.dropped++ === 0) {
        this.settings.logger.warn(
          { component: "trigger", event: run.event, script: run.script },
          "too many trigger runs waiting: dropping new ones",
        );
      }
      return;
    }
    this.waiting.push(run);
    this.startWaiting();
  }

  private startWaiting(): void {
    while (!this.stopped && this.running < this.settings.concurrency && this.waiting.length > 0) {
      const run = this.waiting.shift()!;
      this.running++;
      void runTriggerProcess({
        path: run.script,
        args: run.args,
        cwd: this.dir,
        env: run.env,
        timeoutMs: this.settings.timeoutSeconds * 1000,
        killGraceMs: this.settings.killGraceMs ?? TRIGGER_KILL_GRACE_MS,
        outputLimit: TRIGGER_OUTPUT_LIMIT,
      }).then((result) => {
        this.running--;
        this.report(run, result);
        this.startWaiting();
        this.checkIdle();
      });
    }
    if (this.dropped > 0 && this.waiting.length === 0) {
      this.settings.logger.warn({ component: "trigger", dropped: this.dropped }, "trigger runs were dropped");
      this.dropped = 0;
    }
  }

  private report(run: PendingRun, result: TriggerProcessResult): void {
    const failed = result.startError !== null || result.timedOut || result.exitCode !== 0;
    if (!failed && !this.settings.logEveryRun) return;
    const fields = {
      component: "trigger",
      event: run.event,
      script: run.script,
      args: run.args,
      exitCode: result.exitCode,
      signal: result.signal,
      durationMs: result.durationMs,
      output: result.output,
      ...(result.outputTruncated ? { outputTruncated: true } : {}),
      ...(result.timedOut ? { timedOut: true } : {}),
      ...(result.startError !== null ? { startError: result.startError } : {}),
    };
    if (!failed) this.settings.logger.info(fields, "trigger ran");
    else if (result.startError !== null) this.settings.logger.warn(fields, "trigger could not start");
    else if (result.timedOut) this.settings.logger.warn(fields, "trigger timed out");
    else this.settings.logger.warn(fields, "trigger failed");
  }

  private checkIdle(): void {
    if (this.pendingLookups > 0 || this.running > 0 || this.waiting.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
