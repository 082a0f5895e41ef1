import type { Micros } from "../core/time.js";

/** Identifies a scheduled event for `cancel`. Stale ids (fired or cancelled) are harmless. */
export type EventId = number;

export interface RunOptions {
  /** stop before the first event later than this; the clock then reads `until` */
  until?: Micros;
  /** stop after this many events */
  maxEvents?: number;
  /** checked after every event; stop as soon as it returns true */
  stopWhen?: () => boolean;
}

export interface RunResult {
  events: number;
  reason: "idle" | "until" | "maxEvents" | "stopped";
}

type Callback = (arg: unknown) => void;

class ScheduledEvent {
  at = 0;
  seq = 0;
  heapIndex = -1;
  generation = 0;
  fn: Callback | null = null;
  arg: unknown = undefined;
  constructor(readonly slot: number) {}
}

// An EventId packs the pool slot and that slot's generation, so cancelling needs no map lookup and a
// stale id (the slot has been reused since) is recognised.
const SLOT_SPACE = 2 ** 22;

/**
 * Virtual-time discrete-event loop. Events run in time order; events at the same time run in the
 * order they were scheduled (insertion sequence), which keeps runs deterministic. Event records are
 * pooled, and `scheduleWith` passes an argument to a shared callback so hot paths allocate nothing.
 */
export class EventLoop {
  private clock: Micros = 0;
  private heap: ScheduledEvent[] = [];
  private readonly slots: ScheduledEvent[] = [];
  private readonly free: ScheduledEvent[] = [];
  private nextSeq = 0;
  private running = false;
  private executed = 0;

  /** current virtual time in microseconds */
  get now(): Micros {
    return this.clock;
  }

  /** events scheduled and not yet run or cancelled */
  get pending(): number {
    return this.heap.length;
  }

  /** events run since the loop was created */
  get eventsRun(): number {
    return this.executed;
  }

  /** time of the next event, or Infinity */
  nextEventTime(): Micros {
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity;
  }

  /** run `fn` at virtual time `at` (a time in the past runs at `now`) */
  schedule(at: Micros, fn: () => void): EventId {
    return this.insert(at, fn as Callback, undefined);
  }

  /** run `fn` `delay` microseconds from now */
  after(delay: Micros, fn: () => void): EventId {
    return this.insert(this.clock + delay, fn as Callback, undefined);
  }

  /** run `fn(arg)` at `at`; with a long-lived `fn` this allocates nothing per event */
  scheduleWith<T>(at: Micros, fn: (arg: T) => void, arg: T): EventId {
    return this.insert(at, fn as Callback, arg);
  }

  /** remove a pending event; returns false if it already ran or was cancelled */
  cancel(id: EventId): boolean {
    const slot = id % SLOT_SPACE;
    const event = this.slots[slot];
    if (event === undefined || event.heapIndex < 0 || event.generation !== Math.floor(id / SLOT_SPACE)) {
      return false;
    }
    this.removeAt(event.heapIndex);
    this.release(event);
    return true;
  }

  /** run the next event, if any; returns false when there is none */
  step(): boolean {
    if (this.heap.length === 0) return false;
    this.runNext();
    return true;
  }

  run(options: RunOptions = {}): RunResult {
    if (this.running) throw new Error("EventLoop.run is not re-entrant");
    const until = options.until ?? Infinity;
    const maxEvents = options.maxEvents ?? Infinity;
    const stopWhen = options.stopWhen;
    let events = 0;
    let reason: RunResult["reason"] = "idle";
    this.running = true;
    try {
      while (this.heap.length > 0) {
        if (events >= maxEvents) {
          reason = "maxEvents";
          break;
        }
        if (this.heap[0]!.at > until) {
          reason = "until";
          break;
        }
        this.runNext();
        events++;
        if (stopWhen !== undefined && stopWhen()) {
          reason = "stopped";
          break;
        }
      }
      if ((reason === "idle" || reason === "until") && until !== Infinity && until > this.clock) {
        this.clock = until;
      }
    } finally {
      this.running = false;
    }
    return { events, reason };
  }

  private runNext(): void {
    const event = this.heap[0]!;
    this.removeAt(0);
    this.clock = event.at;
    const fn = event.fn!;
    const arg = event.arg;
    this.release(event);
    this.executed++;
    fn(arg);
  }

  private insert(at: Micros, fn: Callback, arg: unknown): EventId {
    if (Number.isNaN(at)) throw new RangeError("cannot schedule an event at NaN");
    let event = this.free.pop();
    if (event === undefined) {
      if (this.slots.length >= SLOT_SPACE) throw new RangeError("too many pending events");
      event = new ScheduledEvent(this.slots.length);
      this.slots.push(event);
    }
    event.at = at < this.clock ? this.clock : at;
    event.seq = this.nextSeq++;
    event.fn = fn;
    event.arg = arg;
    event.heapIndex = this.heap.length;
    this.heap.push(event);
    this.siftUp(event.heapIndex);
    return event.generation * SLOT_SPACE + event.slot;
  }

  private release(event: ScheduledEvent): void {
    event.fn = null;
    event.arg = undefined;
    event.heapIndex = -1;
    event.generation++;
    this.free.push(event);
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (index === heap.length) return;
    heap[index] = last;
    last.heapIndex = index;
    if (index > 0 && before(last, heap[(index - 1) >> 1]!)) this.siftUp(index);
    else this.siftDown(index);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const event = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(event, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = event;
    event.heapIndex = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const event = heap[index]!;
    while (true) {
      let child = 2 * index + 1;
      if (child >= length) break;
      const right = child + 1;
      if (right < length && before(heap[right]!, heap[child]!)) child = right;
      const smallest = heap[child]!;
      if (!before(smallest, event)) break;
      heap[index] = smallest;
      smallest.heapIndex = index;
      index = child;
    }
    heap[index] = event;
    event.heapIndex = index;
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * A re-armable one-shot timer on an EventLoop (for endpoints whose sans-IO core reports "wake me at
 * t"). Re-arming for the same or a later time while an earlier wake-up is pending costs no heap work:
 * the pending event re-checks the deadline when it fires.
 */
export class SimTimer {
  private deadline = Infinity;
  private scheduledAt = Infinity;
  private eventId: EventId = -1;

  constructor(
    private readonly loop: EventLoop,
    private readonly onFire: (now: Micros) => void,
  ) {}

  /** the time the timer will fire, or Infinity when disarmed */
  get armedAt(): Micros {
    return this.deadline;
  }

  arm(at: Micros): void {
    this.deadline = at;
    if (at === Infinity) return;
    if (this.scheduledAt <= at) return;
    if (this.scheduledAt !== Infinity) this.loop.cancel(this.eventId);
    this.scheduledAt = at;
    this.eventId = this.loop.schedule(at, this.fire);
  }

  disarm(): void {
    this.deadline = Infinity;
  }

  private readonly fire = (): void => {
    this.scheduledAt = Infinity;
    if (this.deadline === Infinity) return;
    if (this.deadline > this.loop.now) {
      this.arm(this.deadline);
      return;
    }
    this.deadline = Infinity;
    this.onFire(this.loop.now);
  };
}
