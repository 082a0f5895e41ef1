/**
 * Kathleen Nichols' windowed min/max filter (as in Linux lib/win_minmax.c): tracks the best,
 * second-best and third-best value over a sliding window with three samples and O(1) work.
 * `time` is any monotonic unit (round count or microseconds); `window` uses the same unit.
 */
interface FilterSample {
  time: number;
  value: number;
}

export class WindowedFilter {
  private readonly samples: [FilterSample, FilterSample, FilterSample];
  private empty = true;

  /** `better(a, b)` is true when a should replace b (a >= b for a max filter). */
  private constructor(
    private readonly window: number,
    private readonly better: (a: number, b: number) => boolean,
  ) {
    this.samples = [
      { time: 0, value: 0 },
      { time: 0, value: 0 },
      { time: 0, value: 0 },
    ];
  }

  static max(window: number): WindowedFilter {
    return new WindowedFilter(window, (a, b) => a >= b);
  }

  static min(window: number): WindowedFilter {
    return new WindowedFilter(window, (a, b) => a <= b);
  }

  /** Best value in the window, or `fallback` before the first sample. */
  best(fallback = 0): number {
    return this.empty ? fallback : this.samples[0].value;
  }

  get hasValue(): boolean {
    return !this.empty;
  }

  /** Forget everything and start over from one sample. */
  reset(time: number, value: number): void {
    this.empty = false;
    for (let i = 0; i < 3; i++) this.samples[i] = { time, value };
  }

  update(time: number, value: number): number {
    const s = this.samples;
    if (this.empty || this.better(value, s[0].value) || time - s[2].time > this.window) {
      this.reset(time, value);
      return value;
    }
    if (this.better(value, s[1].value)) {
      s[1] = { time, value };
      s[2] = { time, value };
    } else if (this.better(value, s[2].value)) {
      s[2] = { time, value };
    }
    return this.expireSubwindows(time, value);
  }

  /** As the best sample ages out, promote the second and third best ones. */
  private expireSubwindows(time: number, value: number): number {
    const s = this.samples;
    const age = time - s[0].time;
    if (age > this.window) {
      s[0] = s[1];
      s[1] = s[2];
      s[2] = { time, value };
      if (time - s[0].time > this.window) {
        s[0] = s[1];
        s[1] = s[2];
        s[2] = { time, value };
      }
    } else if (s[1].time === s[0].time && age > this.window / 4) {
      s[1] = { time, value };
      s[2] = { time, value };
    } else if (s[2].time === s[1].time && age > this.window / 2) {
      s[2] = { time, value };
    }
    return s[0].value;
  }
}
