/**
 * The WAN chart as plain SVG: goodput (log scale) against loss, one line per system, one panel per
 * RTT. Hand-written so the bench needs no plotting dependency.
 */
import type { SystemName } from "./report.js";

export interface ChartPoint {
  system: SystemName;
  rttMs: number;
  lossPct: number;
  goodputMbit: number;
  /** at least one run hit the time cap: the point is a lower bound, drawn hollow */
  capped: boolean;
}

const COLORS: Record<SystemName, string> = {
  slipstream: "#d62728",
  "slipstream-enc": "#ff7f0e",
  "tcp-bbr": "#1f77b4",
  "tcp-cubic": "#7f7f7f",
  udx: "#2ca02c",
};

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

export function goodputChart(points: readonly ChartPoint[], title: string, rateMbit: number): string {
  const rtts = [...new Set(points.map((p) => p.rttMs))].sort((a, b) => a - b);
  const losses = [...new Set(points.map((p) => p.lossPct))].sort((a, b) => a - b);
  const systems = [...new Set(points.map((p) => p.system))];
  const panelW = 240;
  const panelH = 220;
  const left = 60;
  const top = 50;
  const gap = 20;
  // wide enough for the panels, the legend row and the title
  const width = Math.max(left + rtts.length * (panelW + gap) + 20, left + systems.length * 130 + 20, 560);
  const height = top + panelH + 90;
  const yMin = 0.1;
  const yMax = Math.max(rateMbit, ...points.map((p) => p.goodputMbit));
  const y = (v: number): number =>
    top +
    panelH -
    ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * panelH;
  const x = (panel: number, lossIndex: number): number =>
    left + panel * (panelW + gap) + 20 + (lossIndex * (panelW - 40)) / Math.max(1, losses.length - 1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  const ticks = [0.1, 1, 10, 100, 1000, 10000].filter((t) => t <= yMax * 1.01);
  rtts.forEach((rtt, panel) => {
    const x0 = left + panel * (panelW + gap);
    out.push(`<rect x="${x0}" y="${top}" width="${panelW}" height="${panelH}" fill="none" stroke="#999"/>`);
    out.push(
      `<text x="${x0 + panelW / 2}" y="${top - 8}" text-anchor="middle" font-weight="bold">RTT ${rtt} ms</text>`,
    );
    for (const t of ticks) {
      out.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/>`);
      if (panel === 0) out.push(`<text x="${x0 - 4}" y="${y(t) + 4}" text-anchor="end">${t}</text>`);
    }
    losses.forEach((loss, i) => {
      out.push(`<text x="${x(panel, i)}" y="${top + panelH + 14}" text-anchor="middle">${loss} %</text>`);
    });
    out.push(`<text x="${x0 + panelW / 2}" y="${top + panelH + 30}" text-anchor="middle">loss</text>`);
    for (const system of systems) {
      const mine = losses
        .map((loss, i) => ({
          i,
          p: points.find((q) => q.system === system && q.rttMs === rtt && q.lossPct === loss),
        }))
        .filter((e): e is { i: number; p: ChartPoint } => e.p !== undefined);
      if (mine.length > 1) {
        const d = mine.map(
          (e, k) => `${k === 0 ? "M" : "L"}${x(panel, e.i).toFixed(1)},${y(e.p.goodputMbit).toFixed(1)}`,
        );
        out.push(`<path d="${d.join(" ")}" fill="none" stroke="${COLORS[system]}" stroke-width="2"/>`);
      }
      for (const e of mine) {
        const fill = e.p.capped ? "white" : COLORS[system];
        out.push(
          `<circle cx="${x(panel, e.i).toFixed(1)}" cy="${y(e.p.goodputMbit).toFixed(1)}" r="3.5" fill="${fill}" stroke="${COLORS[system]}" stroke-width="1.5"><title>${esc(system)} ${e.p.goodputMbit.toFixed(2)} Mbit/s</title></circle>`,
        );
      }
    }
  });
  out.push(
    `<text transform="translate(16,${top + panelH / 2}) rotate(-90)" text-anchor="middle">goodput, Mbit/s (log)</text>`,
  );
  systems.forEach((system, i) => {
    const lx = left + i * 130;
    const ly = top + panelH + 55;
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${COLORS[system]}" stroke-width="2"/>`,
    );
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${esc(system)}</text>`);
  });
  out.push(
    `<text x="${left}" y="${top + panelH + 80}" fill="#555">hollow point: a run hit the time cap (goodput up to the cap); link ${rateMbit} Mbit/s</text>`,
  );
  out.push("</svg>");
  return out.join("\n") + "\n";
}
