/** One direction of an emulated WAN link. Rates count UDP payload bytes. */
export interface LinkOptions {
  /** constant one-way delay */
  delayMs: number;
  /** extra delay drawn uniformly from [0, jitterMs]; it never reorders by itself */
  jitterMs?: number;
  /** probability in [0, 1] that a datagram is dropped at random */
  lossRate?: number;
  /** bottleneck rate in bits per second; 0 or absent = unlimited */
  rateBitsPerSecond?: number;
  /** bottleneck queue (drop-tail) in bytes; default 100 ms at the rate, at least 64 KiB */
  queueBytes?: number;
  /** probability in [0, 1] that a datagram is held back so later ones overtake it */
  reorderRate?: number;
  /** how long a reordered datagram is held back; default max(1, delayMs / 10) */
  reorderDelayMs?: number;
}

export interface LinkCounters {
  datagramsIn: number;
  bytesIn: number;
  delivered: number;
  bytesDelivered: number;
  /** dropped at random (lossRate) */
  lost: number;
  /** dropped because the bottleneck queue was full */
  queueDrops: number;
  reordered: number;
  /** accepted and not yet delivered */
  inFlight: number;
}

/** Time source and timer for the emulator; tests pass a virtual one. Times in milliseconds. */
export interface LinkClock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: LinkClock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Scheduled<T> {
  due: number;
  seq: number;
  data: Buffer;
  route: T;
}

/** Safety cap on datagrams held in the delay line, whatever the rate and delay. */
const MAX_IN_FLIGHT_BYTES = 256 * 1024 * 1024;

/**
 * Delay line + bottleneck for one direction. All datagrams wait in one time-ordered heap served
 * by one timer for the earliest release, so cost per datagram is O(log n), not a timer each.
 */
export class LinkEmulator<T> {
  readonly counters: LinkCounters = {
    datagramsIn: 0,
    bytesIn: 0,
    delivered: 0,
    bytesDelivered: 0,
    lost: 0,
    queueDrops: 0,
    reordered: 0,
    inFlight: 0,
  };
  private readonly heap: Scheduled<T>[] = [];
  private seq = 0;
  private inFlightBytes = 0;
  private linkFreeAt = 0;
  private lastInOrderDue = 0;
  private timer: unknown = null;
  private timerDue = Infinity;
  private closed = false;
  private readonly queueBytes: number;

  constructor(
    private readonly options: LinkOptions,
    private readonly random: () => number,
    private readonly deliver: (route: T, data: Buffer) => void,
    private readonly clock: LinkClock = realClock,
  ) {
    const rate = options.rateBitsPerSecond ?? 0;
    this.queueBytes = options.queueBytes ?? Math.max(64 * 1024, Math.round((rate / 8) * 0.1));
  }

  submit(data: Buffer, route: T): void {
    if (this.closed) return;
    const counters = this.counters;
    counters.datagramsIn++;
    counters.bytesIn += data.length;
    const { lossRate = 0, jitterMs = 0, reorderRate = 0, rateBitsPerSecond = 0 } = this.options;
    if (lossRate > 0 && this.random() < lossRate) {
      counters.lost++;
      return;
    }
    if (this.inFlightBytes + data.length > MAX_IN_FLIGHT_BYTES) {
      counters.queueDrops++;
      return;
    }
    const now = this.clock.now();
    let departure = now;
    if (rateBitsPerSecond > 0) {
      const start = Math.max(now, this.linkFreeAt);
      const backlogBytes = ((start - now) * rateBitsPerSecond) / 8000;
      if (backlogBytes + data.length > this.queueBytes) {
        counters.queueDrops++;
        return;
      }
      departure = start + (data.length * 8000) / rateBitsPerSecond;
      this.linkFreeAt = departure;
    }
    let due = departure + this.options.delayMs + (jitterMs > 0 ? this.random() * jitterMs : 0);
    if (reorderRate > 0 && this.random() < reorderRate) {
      counters.reordered++;
      due += this.options.reorderDelayMs ?? Math.max(1, this.options.delayMs / 10);
    } else {
      due = Math.max(due, this.lastInOrderDue);
      this.lastInOrderDue = due;
    }
    this.push({ due, seq: this.seq++, data, route });
    counters.inFlight++;
    this.inFlightBytes += data.length;
    if (due < this.timerDue) this.arm(due, now);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.heap.length = 0;
    this.counters.inFlight = 0;
  }

  private arm(due: number, now: number): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timerDue = due;
    // timers have millisecond resolution and may fire early against performance.now(): release() re-checks
    this.timer = this.clock.setTimer(this.release, Math.max(1, Math.ceil(due - now)));
  }

  private readonly release = (): void => {
    this.timer = null;
    this.timerDue = Infinity;
    const now = this.clock.now();
    while (this.heap.length > 0 && this.heap[0].due <= now) {
      const next = this.pop();
      this.counters.inFlight--;
      this.inFlightBytes -= next.data.length;
      this.counters.delivered++;
      this.counters.bytesDelivered += next.data.length;
      this.deliver(next.route, next.data);
      if (this.closed) return;
    }
    if (this.heap.length > 0) this.arm(this.heap[0].due, now);
  };

  private push(entry: Scheduled<T>): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (!earlier(entry, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): Scheduled<T> {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop() as Scheduled<T>;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && earlier(heap[right], heap[left]) ? right : left;
        if (!earlier(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function earlier<T>(a: Scheduled<T>, b: Scheduled<T>): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
