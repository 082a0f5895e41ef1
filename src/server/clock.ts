/**
 * Wall-clock source for the server and API layers. API timestamps are whole microseconds since
 * the Unix epoch (api.md §1.7). Tests inject a fake clock to exercise expiry without waiting.
 */
export interface Clock {
  /** whole microseconds since 1970-01-01T00:00:00Z */
  nowMicros(): number;
}

export const systemClock: Clock = {
  nowMicros: () => Date.now() * 1000,
};

/** A clock that only moves when told to (tests). */
export class ManualClock implements Clock {
  constructor(private micros = 1_700_000_000_000_000) {}
  nowMicros(): number {
    return this.micros;
  }
  advanceMs(ms: number): void {
    this.micros += Math.round(ms * 1000);
  }
}

export function millisToMicros(ms: number): number {
  return Math.round(ms * 1000);
}
