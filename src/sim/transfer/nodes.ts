/**
 * Simulated hosts that run the real sans-IO endpoints: each feeds datagrams and virtual time into
 * its endpoint, sends what it polls, and plays the part of the file system (reads and writes
 * with a configurable latency and write throughput).
 */
import type { Micros } from "../../core/time.js";
import type { SenderEndpoint, SenderEvent } from "../../core/endpoint/sender.js";
import type { ReceiverEndpoint, ReceiverEvent, TransferOutcome } from "../../core/endpoint/receiver.js";
import type { ResumeFile } from "../../core/transfer/recv-transfer.js";
import type { FileEntry } from "../../core/transfer/messages.js";
import { SimTimer, type EventLoop } from "../event-loop.js";
import type { Network, SimNode } from "../network.js";
import { SyntheticFile, VerifyingSink } from "./synthetic-files.js";

/** Fails loudly when an endpoint keeps asking to be woken at the same instant without progress. */
class LivelockGuard {
  private at = -1;
  private count = 0;

  constructor(private readonly name: string) {}

  check(now: Micros): void {
    if (now !== this.at) {
      this.at = now;
      this.count = 0;
    } else if (++this.count > 100_000) {
      throw new Error(`${this.name}: endpoint asked to be woken at ${now} µs over and over without progress`);
    }
  }
}

export class SimSenderNode implements SimNode {
  readonly events: Array<SenderEvent & { at: Micros }> = [];
  /** files by transfer id */
  readonly sources = new Map<string, SyntheticFile[]>();
  private readonly timer: SimTimer;

  constructor(
    readonly address: string,
    private readonly peer: string,
    private readonly loop: EventLoop,
    private readonly network: Network,
    readonly endpoint: SenderEndpoint,
    private readonly readLatency: Micros,
  ) {
    this.timer = new SimTimer(loop, (now) => {
      guard.check(now);
      this.endpoint.handleTimeout(now);
      this.pump();
    });
    const guard = new LivelockGuard(address);
  }

  receive(now: Micros, datagram: Uint8Array): void {
    this.endpoint.handleDatagram(now, datagram);
    this.pump();
  }

  pump(): void {
    const now = this.loop.now;
    do {
      for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) this.onEvent(now, e);
      for (let d = this.endpoint.pollTransmit(now); d; d = this.endpoint.pollTransmit(now)) {
        this.network.send(this.address, this.peer, d);
      }
    } while (this.endpoint.pendingEvents > 0);
    const t = this.endpoint.pollTimeout();
    this.timer.arm(t === null ? Infinity : Math.max(t, now));
  }

  private onEvent(now: Micros, e: SenderEvent): void {
    if (e.type !== "read") {
      this.events.push({ ...e, at: now });
      return;
    }
    const file = this.sources.get(e.transfer)?.[e.file];
    if (!file) return;
    const data = file.read(e.offset, e.length);
    this.loop.after(this.readLatency, () => {
      this.endpoint.provideRead(e.transfer, e.file, e.offset, data);
      this.pump();
    });
  }
}

export interface ReceiverDisk {
  /** bytes per second the simulated disk writes (Infinity = instantaneous) */
  writeRate: number;
}

export class SimReceiverNode implements SimNode {
  readonly events: Array<ReceiverEvent & { at: Micros }> = [];
  readonly sinks = new Map<string, VerifyingSink[]>();
  readonly outcomes = new Map<string, { outcome: TransferOutcome; message: string; at: Micros }>();
  /** resume data offered when a transfer id is seen again */
  readonly resume = new Map<string, Map<number, ResumeFile>>();
  verifyFailures = 0;
  /** how long deciding on a transfer takes (a real receiver creates directories, checks a token) */
  decisionDelay: Micros = 0;
  /** the most bytes ever waiting for the simulated disk */
  peakPendingWrites = 0;
  /** set to corrupt the hash check of a file once (tests of the repair path) */
  failNextVerify: ((transfer: string, file: number) => boolean) | null = null;
  private readonly timer: SimTimer;
  private diskFreeAt: Micros = 0;

  constructor(
    readonly address: string,
    private readonly loop: EventLoop,
    private readonly network: Network,
    readonly endpoint: ReceiverEndpoint,
    private readonly disk: ReceiverDisk,
    private readonly keepContent: boolean,
  ) {
    this.timer = new SimTimer(loop, (now) => {
      guard.check(now);
      this.endpoint.handleTimeout(now);
      this.pump();
    });
    const guard = new LivelockGuard(address);
  }

  receive(now: Micros, datagram: Uint8Array, from: string): void {
    this.endpoint.handleDatagram(now, datagram, from);
    this.pump();
  }

  pump(): void {
    const now = this.loop.now;
    do {
      for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) this.onEvent(now, e);
      for (let out = this.endpoint.pollTransmit(now); out; out = this.endpoint.pollTransmit(now)) {
        this.network.send(this.address, out.to, out.datagram);
      }
    } while (this.endpoint.pendingEvents > 0);
    const t = this.endpoint.pollTimeout();
    this.timer.arm(t === null ? Infinity : Math.max(t, now));
  }

  /** What a receiver that kept running still holds of a transfer the sender announces again. */
  private liveResume(id: string, files: FileEntry[]): Map<number, ResumeFile> | undefined {
    const sinks = this.sinks.get(id);
    if (!sinks) return undefined;
    const verified = this.verified.get(id);
    return new Map(
      files.map((f, i) => [
        i,
        { size: f.s, mtime: f.m, ranges: sinks[i]!.ranges(), complete: verified?.has(i) ?? false },
      ]),
    );
  }

  private readonly verified = new Map<string, Set<number>>();

  private onEvent(now: Micros, e: ReceiverEvent): void {
    if (e.type !== "write") this.events.push({ ...e, at: now });
    switch (e.type) {
      case "transferRequest": {
        if (!this.sinks.has(e.transfer.id)) {
          this.sinks.set(
            e.transfer.id,
            e.transfer.files.map((f) => new VerifyingSink(f.d ? 0 : f.s, this.keepContent)),
          );
        }
        const accept = () =>
          this.endpoint.acceptTransfer(
            e.transfer.id,
            this.resume.get(e.transfer.id) ?? this.liveResume(e.transfer.id, e.transfer.files),
          );
        if (this.decisionDelay > 0) {
          this.loop.after(this.decisionDelay, () => {
            accept();
            this.pump();
          });
        } else accept();
        break;
      }
      case "write": {
        this.sinks.get(e.transfer)?.[e.file]?.write(e.offset, e.data);
        const length = e.data.length;
        this.peakPendingWrites = Math.max(this.peakPendingWrites, this.endpoint.pendingWriteBytes);
        if (this.disk.writeRate === Infinity) {
          this.endpoint.writeDone(length);
          break;
        }
        this.diskFreeAt = Math.max(this.diskFreeAt, now) + (length * 1e6) / this.disk.writeRate;
        this.loop.schedule(this.diskFreeAt, () => {
          this.endpoint.writeDone(length);
          this.pump();
        });
        break;
      }
      case "fileReceived": {
        const sink = this.sinks.get(e.transfer)?.[e.file];
        let ok = e.sha256 === null || sink?.digest() === e.sha256;
        if (this.failNextVerify?.(e.transfer, e.file)) ok = false;
        if (!ok) this.verifyFailures++;
        else {
          const set = this.verified.get(e.transfer) ?? new Set<number>();
          set.add(e.file);
          this.verified.set(e.transfer, set);
        }
        this.endpoint.fileVerified(e.transfer, e.file, ok, ok ? "" : "SHA-256 differs");
        break;
      }
      case "fileRestart":
        this.sinks.get(e.transfer)?.[e.file]?.reset();
        break;
      case "transferEnded":
        this.outcomes.set(e.transfer, { outcome: e.outcome, message: e.message, at: now });
        break;
      default:
        break;
    }
  }
}
