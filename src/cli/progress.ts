/** The one-line progress display of `slipstream cp` (server.md §5), as pure formatting. */

export interface ProgressInput {
  label: string;
  status: string;
  bytesAcked: number;
  totalBytes: number;
  /** kbps */
  goodputAverageWindow: number;
  roundTripTimeMs: number | null;
  lossPercentWindow: number | null;
  connected: boolean;
}

const WIDTH = 22;

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(2)} ${units[unit]}`;
}

export function formatRate(kbps: number): string {
  if (kbps >= 1_000_000) return `${(kbps / 1_000_000).toFixed(2)} Gbit/s`;
  if (kbps >= 1000) return `${Math.round(kbps / 1000)} Mbit/s`;
  return `${kbps} kbit/s`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** `label  47% [=====>     ] 1.52/3.24 GB  861 Mbit/s  ETA 0:16  rtt 142 ms  loss 0.6%` */
export function progressLine(p: ProgressInput): string {
  const fraction =
    p.totalBytes > 0 ? Math.min(1, p.bytesAcked / p.totalBytes) : p.status === "complete" ? 1 : 0;
  const filled = Math.round(fraction * WIDTH);
  const bar = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? ">" : "") + " ".repeat(WIDTH - filled);
  const amounts = `${formatBytes(p.bytesAcked)}/${formatBytes(p.totalBytes)}`;
  let eta: string;
  if (p.status === "pending") eta = "waiting for manifest";
  else if (p.status === "queued") eta = "queued";
  else if (p.status === "suspended") eta = "suspended";
  else if (!p.connected) eta = "connecting";
  else if (p.goodputAverageWindow > 0) {
    const remaining = Math.max(0, p.totalBytes - p.bytesAcked);
    eta = `ETA ${formatDuration((remaining * 8) / (p.goodputAverageWindow * 1000))}`;
  } else eta = "ETA --";
  const rtt = p.roundTripTimeMs === null ? "rtt --" : `rtt ${Math.round(p.roundTripTimeMs)} ms`;
  const loss = p.lossPercentWindow === null ? "" : `  loss ${p.lossPercentWindow.toFixed(1)}%`;
  return `${p.label}  ${Math.floor(fraction * 100)}% [${bar}] ${amounts}  ${formatRate(p.goodputAverageWindow)}  ${eta}  ${rtt}${loss}`;
}
