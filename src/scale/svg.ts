// The scaling chart as one self-contained SVG (no fonts, scripts or external references, so it
// renders the same on GitHub, in a browser and in an image viewer). Panels, one line per mode:
//   1. rules the kernel walks for a connection's first packet (mean solid, p99 dashed) — the
//      model's exact count, linear axis: iptables mode climbs with services, IPVS stays flat;
//   2. when kernel points were taken: measured TCP connect p50 through the loaded rules, beside
//      the same connections with no rules (dotted);
//   3. our own time per packet (WASM solid, reference dashed), log axis.

import type { ScaleMode, ScalePoint } from './types.js';

export interface ChartOptions {
  title?: string;
  /** A line under the title: the command and machine the figures came from. */
  subtitle?: string;
}

const W = 760;
const PANEL_H = 230;
const M = { left: 78, right: 170, top: 34, bottom: 44 };
const COLORS: Record<ScaleMode, string> = { iptables: '#c0392b', ipvs: '#2471a3', nftables: '#1e8449' };
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const num = (n: number): string => (Math.round(n * 10) / 10).toString();

/** 1-2-5 steps covering [0, max] with about `count` ticks. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

function short(n: number): string {
  if (n >= 1e6) return `${num(n / 1e6)}M`;
  if (n >= 1e3) return `${num(n / 1e3)}k`;
  return num(n);
}

function fmtNsTick(ns: number): string {
  if (ns >= 1e6) return `${num(ns / 1e6)} ms`;
  if (ns >= 1e3) return `${num(ns / 1e3)} µs`;
  return `${num(ns)} ns`;
}

interface Series {
  label: string;
  color: string;
  dash?: string;
  width: number;
  points: [number, number][];
}

interface PanelSpec {
  title: string;
  yLabel: string;
  log: boolean;
  fmtY: (v: number) => string;
  series: Series[];
}

function panel(spec: PanelSpec, top: number, xMax: number): string {
  const x0 = M.left;
  const x1 = W - M.right;
  const y0 = top + PANEL_H - M.bottom;
  const y1 = top + M.top;
  const out: string[] = [];
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
  const xTicks = niceTicks(xMax);
  const xTop = xTicks[xTicks.length - 1];
  const sx = (v: number): number => x0 + ((x1 - x0) * v) / xTop;
  let sy: (v: number) => number;
  let yTicks: number[];
  if (spec.log) {
    const positive = ys.filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...positive, 1e9)));
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...positive, 1))));
    yTicks = [];
    for (let e = lo; e <= hi; e++) yTicks.push(10 ** e);
    sy = (v: number) => y0 - ((y0 - y1) * (Math.log10(Math.max(v, 10 ** lo)) - lo)) / (hi - lo);
  } else {
    yTicks = niceTicks(Math.max(...ys, 1));
    const yTop = yTicks[yTicks.length - 1];
    sy = (v: number) => y0 - ((y0 - y1) * v) / yTop;
  }
  out.push(`<text x="${x0}" y="${top + 20}" font-size="14" font-weight="bold" ${FONT}>${esc(spec.title)}</text>`);
  for (const t of yTicks) {
    const y = num(sy(t));
    out.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 - 6}" y="${y}" font-size="11" text-anchor="end" dominant-baseline="middle" ${FONT}>${esc(spec.fmtY(t))}</text>`);
  }
  for (const t of xTicks) {
    const x = num(sx(t));
    out.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + 4}" stroke="#444"/>`);
    out.push(`<text x="${x}" y="${y0 + 17}" font-size="11" text-anchor="middle" ${FONT}>${esc(short(t))}</text>`);
  }
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#444"/>`);
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#444"/>`);
  out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 34}" font-size="11" text-anchor="middle" ${FONT}>services</text>`);
  out.push(
    `<text x="${16}" y="${(y0 + y1) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 16 ${num((y0 + y1) / 2)})" ${FONT}>${esc(spec.yLabel)}</text>`,
  );
  let legendY = y1 + 4;
  for (const s of spec.series) {
    if (s.points.length === 0) continue;
    const pts = s.points.map(([x, y]) => `${num(sx(x))},${num(sy(y))}`);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    if (pts.length > 1) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${s.width}"${dash}/>`);
    for (const p of pts) {
      const [cx, cy] = p.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
    }
    out.push(`<line x1="${x1 + 14}" y1="${legendY}" x2="${x1 + 40}" y2="${legendY}" stroke="${s.color}" stroke-width="${s.width}"${dash}/>`);
    out.push(`<text x="${x1 + 46}" y="${legendY}" font-size="11" dominant-baseline="middle" ${FONT}>${esc(s.label)}</text>`);
    legendY += 16;
  }
  return out.join('\n');
}

function series(points: readonly ScalePoint[], mode: ScaleMode, pick: (p: ScalePoint) => number | null | undefined): [number, number][] {
  return points
    .filter((p) => p.mode === mode && p.error === null)
    .map((p): [number, number | null | undefined] => [p.services, pick(p)])
    .filter((xy): xy is [number, number] => typeof xy[1] === 'number' && Number.isFinite(xy[1]))
    .sort((a, b) => a[0] - b[0]);
}

/** The chart for a run's points (failed points and missing figures are left out, never drawn as 0). */
export function scaleSvg(points: readonly ScalePoint[], opts: ChartOptions = {}): string {
  const modes = (['iptables', 'ipvs', 'nftables'] as const).filter((m) => points.some((p) => p.mode === m));
  const xMax = Math.max(1, ...points.map((p) => p.services));
  const endpoints = [...new Set(points.map((p) => p.endpoints))];
  const panels: PanelSpec[] = [
    {
      title: 'Rules the kernel walks per first packet (exact count from the walk)',
      yLabel: 'rules evaluated',
      log: false,
      fmtY: short,
      series: modes.flatMap((m) => [
        { label: `${m} mean`, color: COLORS[m], width: 2.5, points: series(points, m, (p) => p.rulesEvaluated?.mean) },
        { label: `${m} p99`, color: COLORS[m], width: 1.2, dash: '5 4', points: series(points, m, (p) => p.rulesEvaluated?.p99) },
      ]),
    },
  ];
  const kernelModes = modes.filter((m) => points.some((p) => p.mode === m && p.kernel?.loaded?.p50Us != null));
  if (kernelModes.length > 0) {
    panels.push({
      title: 'Kernel: TCP connect p50 from a pod, measured in a network namespace',
      yLabel: 'connect setup (µs)',
      log: false,
      fmtY: (v) => `${short(v)}`,
      series: kernelModes.flatMap((m) => [
        { label: `${m} loaded`, color: COLORS[m], width: 2.5, points: series(points, m, (p) => p.kernel?.loaded?.p50Us) },
        { label: `${m} no rules`, color: COLORS[m], width: 1.2, dash: '2 3', points: series(points, m, (p) => p.kernel?.empty?.p50Us) },
      ]),
    });
  }
  panels.push({
    title: "landfall's own time per packet (trace, warm)",
    yLabel: 'time per packet',
    log: true,
    fmtY: fmtNsTick,
    series: modes.flatMap((m) => [
      { label: `${m} WASM`, color: COLORS[m], width: 2.5, points: series(points, m, (p) => p.nsPerPacket.wasm) },
      { label: `${m} reference`, color: COLORS[m], width: 1.2, dash: '5 4', points: series(points, m, (p) => p.nsPerPacket.reference) },
    ]),
  });

  const header = opts.subtitle ? 62 : 44;
  const height = header + panels.length * PANEL_H;
  const title = opts.title ?? `Chain scaling: per-packet cost vs services (${endpoints.map((e) => `${e} endpoints`).join(', ')} per service)`;
  const body = panels.map((p, i) => panel(p, header + i * PANEL_H, xMax)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" role="img" aria-label="${esc(title)}">`,
    `<rect width="${W}" height="${height}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="26" font-size="16" font-weight="bold" ${FONT}>${esc(title)}</text>`,
    ...(opts.subtitle ? [`<text x="${M.left}" y="46" font-size="11" fill="#555" ${FONT}>${esc(opts.subtitle)}</text>`] : []),
    body,
    '</svg>',
    '',
  ].join('\n');
}
