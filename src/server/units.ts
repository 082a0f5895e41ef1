/**
 * Option value syntax of server.md §2.2: sizes with binary K/M/G suffixes, rates in kbps with
 * M/G (Mbit/s, Gbit/s) suffixes, durations in seconds with s/m/h/d suffixes, booleans.
 * Each parser returns the value or throws an Error whose message describes the accepted form.
 */

const SIZE_MULTIPLIERS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const RATE_MULTIPLIERS: Record<string, number> = { "": 1, M: 1000, G: 1_000_000 };
const DURATION_MULTIPLIERS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86400 };

function parseWithSuffix(
  value: string | number,
  multipliers: Record<string, number>,
  expected: string,
  caseInsensitive: boolean,
): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new Error(`expected ${expected}`);
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]?)\s*$/.exec(value);
  if (!match) throw new Error(`expected ${expected}, got ${JSON.stringify(value)}`);
  const suffix = caseInsensitive ? match[2].toUpperCase() : match[2];
  const multiplier = multipliers[suffix];
  if (multiplier === undefined) throw new Error(`expected ${expected}, got ${JSON.stringify(value)}`);
  return Number(match[1]) * multiplier;
}

/** Bytes: `8M` = 8,388,608. Result is an integer. */
export function parseSize(value: string | number): number {
  const bytes = parseWithSuffix(value, SIZE_MULTIPLIERS, "a size in bytes (suffixes K, M, G)", true);
  if (!Number.isInteger(bytes)) throw new Error(`expected a whole number of bytes, got ${String(value)}`);
  return bytes;
}

/** kbps: `500M` = 500,000 kbps, `1G` = 1,000,000 kbps. Result is an integer. */
export function parseRate(value: string | number): number {
  const kbps = parseWithSuffix(value, RATE_MULTIPLIERS, "a rate in kbps (suffixes M, G)", true);
  if (!Number.isInteger(kbps)) throw new Error(`expected a whole number of kbps, got ${String(value)}`);
  return kbps;
}

/** Seconds: `90`, `90s`, `5m`, `2h`, `1d`; fractions allowed (`0.5`). */
export function parseDuration(value: string | number): number {
  return parseWithSuffix(value, DURATION_MULTIPLIERS, "a duration in seconds (suffixes s, m, h, d)", false);
}

export function parseBooleanValue(value: string | boolean): boolean {
  if (typeof value === "boolean") return value;
  const lower = value.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) return true;
  if (["false", "0", "no", "off"].includes(lower)) return false;
  throw new Error(`expected true or false, got ${JSON.stringify(value)}`);
}

export function parseInteger(value: string | number, min: number, max: number): number {
  const n = typeof value === "number" ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got ${JSON.stringify(value)}`);
  if (n < min || n > max) throw new Error(`expected an integer from ${min} to ${max}, got ${n}`);
  return n;
}
