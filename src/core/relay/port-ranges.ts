/** Port lists such as "8886,9000-9010" (the relay's --public-ports). */
export interface PortRange {
  from: number;
  to: number;
}

/** Parses a comma-separated list of ports and ranges; throws naming the bad part. */
export function parsePortRanges(text: string): PortRange[] {
  const ranges: PortRange[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
    const from = m ? Number(m[1]) : NaN;
    const to = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || from < 1 || to > 65_535 || from > to) {
      throw new Error(`"${part}" is not a port or port range (1–65535, e.g. 8886 or 9000-9010)`);
    }
    ranges.push({ from, to });
  }
  return ranges;
}

export function portAllowed(ranges: readonly PortRange[], port: number): boolean {
  return ranges.some((r) => port >= r.from && port <= r.to);
}

/** Reconnect delay after `failures` consecutive failed attempts: 1 s doubling to 60 s (µs). */
export function reconnectDelay(failures: number, initial = 1_000_000, max = 60_000_000): number {
  return Math.min(max, initial * 2 ** Math.max(0, Math.min(failures, 30)));
}
