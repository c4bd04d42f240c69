// Text for people: the scaling table and the progress bar `landfall scale` draws on stderr. Pure
// functions of the result, so the CLI only decides where and when to write them.

import type { ScalePoint, ScaleProgress } from './types.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${int(ms)} ms`;
}

/** Nanoseconds per packet, shown in µs once it is over one. */
export function fmtNs(ns: number | null | undefined): string {
  if (ns === null || ns === undefined) return '–';
  return ns >= 1000 ? `${(ns / 1000).toFixed(ns >= 100_000 ? 0 : 1)} µs` : `${int(ns)} ns`;
}

function fmtUs(us: number | null | undefined): string {
  return us === null || us === undefined ? '–' : `${int(us)} µs`;
}

function kernelCells(p: ScalePoint): [string, string] {
  const k = p.kernel;
  if (!k) return ['', ''];
  const connect = k.loaded ? `${fmtUs(k.empty?.p50Us)} → ${fmtUs(k.loaded.p50Us)} (p99 ${fmtUs(k.loaded.p99Us)})` : '–';
  return [fmtMs(k.restoreMs), connect];
}

/** One line per point; the kernel columns only when some point has kernel figures. */
export function scaleTable(points: readonly ScalePoint[]): string {
  const withKernel = points.some((p) => p.kernel !== null);
  const head = ['mode', 'services', 'endp', 'rules', 'dump', 'parse', 'compile', 'walked mean', 'p50', 'p99', 'max', 'wasm/pkt', 'ref/pkt', 'heap'];
  if (withKernel) head.push('restore', 'connect p50 empty → loaded');
  head.push('load', 'notes');
  const rows = points.map((p) => {
    const r = p.rulesEvaluated;
    const row = [
      p.mode,
      int(p.services),
      int(p.endpoints),
      p.rules === null ? '–' : int(p.rules),
      fmtBytes(p.dumpBytes),
      fmtMs(p.parseMs),
      fmtMs(p.compileMs),
      r ? r.mean.toFixed(1) : '–',
      r ? int(r.p50) : '–',
      r ? int(r.p99) : '–',
      r ? int(r.max) : '–',
      fmtNs(p.nsPerPacket.wasm),
      fmtNs(p.nsPerPacket.reference),
      fmtBytes(p.memory?.heapBytes),
    ];
    if (withKernel) row.push(...kernelCells(p));
    row.push(p.loadAverage === null ? '–' : p.loadAverage.toFixed(1));
    const notes = [...(p.error ? [`FAILED: ${p.error}`] : []), ...p.notes, ...(p.kernel?.error ? [`kernel: ${p.kernel.error}`] : [])];
    row.push(notes.join('; '));
    return row;
  });
  // Floors sized for 100k-service figures: the CLI prints rows one by one as points finish, and
  // the columns must line up with the header printed before the first of them.
  const floor = (h: string): number => (h === 'mode' ? 8 : h === 'endp' || h === 'load' ? 4 : h === 'notes' ? 0 : Math.max(8, h.length));
  const widths = head.map((h, c) => Math.max(floor(h), ...rows.map((r) => r[c].length)));
  // Text left, numbers right; the notes column is last and unpadded.
  const left = new Set([0, head.length - 1]);
  const line = (cells: string[]): string =>
    cells
      .map((s, c) => (c === cells.length - 1 ? s : left.has(c) ? s.padEnd(widths[c]) : s.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function fmtElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** `[█████·····]  52.3%  point 3/8  iptables × 10,000  trace-reference  1m02s` */
export function progressLine(p: ScaleProgress, elapsedMs: number, width = 24): string {
  const filled = Math.max(0, Math.min(width, Math.round((p.percent / 100) * width)));
  const bar = `[${'█'.repeat(filled)}${'·'.repeat(width - filled)}]`;
  const where = p.mode && p.services !== null ? `point ${Math.min(p.point + 1, p.points)}/${p.points}  ${p.mode} × ${int(p.services)}  ${p.phase}` : p.phase;
  return `${bar} ${p.percent.toFixed(1).padStart(5)}%  ${where}  ${fmtElapsed(elapsedMs)}`;
}

/** The figures as a Markdown table (for the README and bench/results), one row per point. */
export function scaleMarkdown(points: readonly ScalePoint[]): string {
  const withKernel = points.some((p) => p.kernel !== null);
  const head = ['mode', 'services', 'rules', 'dump', 'parse', 'compile', 'rules walked mean / p50 / p99 / max', 'WASM / packet', 'reference / packet', 'heap'];
  if (withKernel) head.push('iptables-restore', 'TCP connect p50 (p99): no rules → loaded');
  head.push('load avg');
  const rows = points.map((p) => {
    const r = p.rulesEvaluated;
    if (p.error) return [p.mode, int(p.services), `failed: ${p.error}`, ...head.slice(3).map(() => '')];
    const row = [
      p.mode,
      int(p.services),
      p.rules === null ? '–' : int(p.rules),
      fmtBytes(p.dumpBytes),
      fmtMs(p.parseMs),
      fmtMs(p.compileMs),
      r ? `${r.mean.toFixed(1)} / ${int(r.p50)} / ${int(r.p99)} / ${int(r.max)}` : '–',
      fmtNs(p.nsPerPacket.wasm),
      fmtNs(p.nsPerPacket.reference),
      fmtBytes(p.memory?.heapBytes),
    ];
    if (withKernel) {
      const k = p.kernel;
      row.push(fmtMs(k?.restoreMs));
      row.push(k?.loaded ? `${fmtUs(k.empty?.p50Us)} (${fmtUs(k.empty?.p99Us)}) → ${fmtUs(k.loaded.p50Us)} (${fmtUs(k.loaded.p99Us)})` : k?.error ? 'not measured¹' : '–');
    }
    row.push(p.loadAverage === null ? '–' : p.loadAverage.toFixed(1));
    return row;
  });
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [head, head.map((_, c) => (c < 2 ? '---' : '---:')), ...rows].map((r) => `| ${r.map(esc).join(' | ')} |`).join('\n');
}
