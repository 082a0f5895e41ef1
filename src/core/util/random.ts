/**
 * Seeded pseudo-random numbers (the simulator, the lossy relay, tests): sfc32 (Small Fast Counting, 128-bit state) seeded
 * through a string hash. Every component takes its own stream with `fork(label)`, so adding a random
 * draw in one component never shifts the numbers another component sees.
 */
export class Random {
  readonly seed: string;
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal = Number.NaN;

  constructor(seed: number | string) {
    this.seed = String(seed);
    [this.a, this.b, this.c, this.d] = hash128(this.seed);
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /**
   * An independent stream derived from this stream's seed and `label`; it does not consume numbers
   * from this stream. The same label always yields the same stream, so give each consumer its own.
   */
  fork(label: string): Random {
    return new Random(`${this.seed}/${label}`);
  }

  /** uniform integer in [0, 2^32) */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform in [0, 1) */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** uniform integer in [0, n), n ≤ 2^32 */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** uniform in [low, high) */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** true with probability p */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** normal distribution (Box–Muller, the second value is kept for the next call) */
  normal(mean = 0, sd = 1): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = Number.NaN;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.next();
    this.spareNormal = r * Math.sin(theta);
    return mean + sd * r * Math.cos(theta);
  }
}

/** cyrb128: a fast non-cryptographic 128-bit string hash, used only to spread seeds over the state. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 | 0, h2 | 0, h3 | 0, h4 | 0];
}

/** A plain [0, 1) generator from a seed, for code that needs only `next()`. */
export function seededRandom(seed: number | string): () => number {
  const r = new Random(seed);
  return () => r.next();
}
