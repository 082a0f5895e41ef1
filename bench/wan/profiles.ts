/** The WAN profiles: names like `100ms-1pct` (a transfer grid point) or `fairness-100ms`. */

export const GRID_RTTS_MS = [10, 100, 200, 300] as const;
export const GRID_LOSSES_PCT = [0, 0.1, 1, 3] as const;
export const KEY_PROFILES = ["100ms-1pct", "200ms-1pct", "300ms-3pct", "fairness-100ms"] as const;

export type Profile =
  | { kind: "transfer"; name: string; rttMs: number; lossPct: number }
  | { kind: "fairness"; name: string; rttMs: number; lossPct: 0 };

export function parseProfile(name: string): Profile {
  const transfer = /^(\d+(?:\.\d+)?)ms-(\d+(?:\.\d+)?)pct$/.exec(name);
  if (transfer) return { kind: "transfer", name, rttMs: Number(transfer[1]), lossPct: Number(transfer[2]) };
  const fairness = /^fairness-(\d+(?:\.\d+)?)ms$/.exec(name);
  if (fairness) return { kind: "fairness", name, rttMs: Number(fairness[1]), lossPct: 0 };
  throw new Error(`unknown profile "${name}": use e.g. 100ms-1pct, 300ms-0.1pct, fairness-100ms, all or key`);
}

export function profileName(rttMs: number, lossPct: number): string {
  return `${rttMs}ms-${lossPct}pct`;
}

/** Expands "all" (the whole grid and fairness) and "key" (the must-show profiles). */
export function expandProfiles(names: readonly string[]): Profile[] {
  const out: string[] = [];
  for (const name of names) {
    if (name === "all") {
      for (const rtt of GRID_RTTS_MS) for (const loss of GRID_LOSSES_PCT) out.push(profileName(rtt, loss));
      out.push("fairness-100ms");
    } else if (name === "key") out.push(...KEY_PROFILES);
    else out.push(name);
  }
  return [...new Set(out)].map(parseProfile);
}
