// The chart must be an SVG any viewer accepts: well-formed XML, self-contained, with one line per
// mode and figure, failed points and missing figures left out rather than drawn as zero.
import { describe, expect, it } from 'vitest';
import { emptyPoint } from '../../src/scale/point.js';
import { niceTicks, scaleSvg } from '../../src/scale/svg.js';
import { scaleMarkdown } from '../../src/scale/report.js';
import type { ScaleMode, ScalePoint } from '../../src/scale/types.js';

/**
 * A strict little XML well-formedness check: one root, tags nest and close in order, attributes
 * are quoted and unique, text has no bare `<` or `&`. Enough for generated SVG; no dependency.
 */
function checkWellFormed(xml: string): { root: string; elements: string[] } {
  const stack: string[] = [];
  const elements: string[] = [];
  let roots = 0;
  let i = 0;
  const escaped = (s: string): void => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s)) throw new Error(`bare & in ${JSON.stringify(s.slice(0, 40))}`);
  };
  const text = (s: string): void => {
    escaped(s);
    if (s.trim() && stack.length === 0) throw new Error(`text outside the root: ${JSON.stringify(s.slice(0, 40))}`);
  };
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) {
      text(xml.slice(i));
      break;
    }
    text(xml.slice(i, lt));
    const gt = xml.indexOf('>', lt);
    if (gt < 0) throw new Error('unterminated tag');
    const tag = xml.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const m = /^([A-Za-z][\w:-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*\/?$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag.slice(0, 60)}>`);
    const names = [...m[2].matchAll(/([A-Za-z_:][\w:.-]*)=/g)].map((a) => a[1]);
    if (new Set(names).size !== names.length) throw new Error(`duplicate attribute in <${m[1]}>`);
    for (const v of m[2].matchAll(/="([^"]*)"/g)) escaped(v[1]);
    if (stack.length === 0) roots++;
    elements.push(m[1]);
    if (!selfClosing) stack.push(m[1]);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return { root: elements[0], elements };
}

function point(mode: ScaleMode, services: number, walked: number, ns: number, extra: Partial<ScalePoint> = {}): ScalePoint {
  return {
    ...emptyPoint(mode, services, 10),
    rules: services * 30,
    rulesEvaluated: { mean: walked, p50: walked, p99: walked * 2, max: walked * 2 },
    nsPerPacket: { wasm: ns, reference: ns * 10 },
    ...extra,
  };
}

const polylines = (svg: string): number => (svg.match(/<polyline /g) ?? []).length;

describe('scaleSvg', () => {
  const points = [
    point('iptables', 1000, 500, 5000),
    point('ipvs', 1000, 28, 4000),
    point('iptables', 5000, 2500, 6000),
    point('ipvs', 5000, 28, 4100),
    point('iptables', 10000, 5000, 7000),
    point('ipvs', 10000, 28, 4200),
  ];

  it('is well-formed, self-contained SVG', () => {
    const svg = scaleSvg(points, { subtitle: 'landfall scale --services 1000,5000 <&> "quoted"' });
    const { root, elements } = checkWellFormed(svg);
    expect(root).toBe('svg');
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(elements).not.toContain('script');
    expect(elements).not.toContain('image');
    expect(svg).not.toMatch(/href=|url\(/);
    expect(svg).toContain('&lt;&amp;&gt; &quot;quoted&quot;');
  });

  it('draws mean and p99 per mode, and WASM and reference per mode: 8 lines without kernel points', () => {
    const svg = scaleSvg(points);
    expect(polylines(svg)).toBe(8);
    expect(svg).not.toContain('Kernel:');
  });

  it('adds the kernel panel only where kernel connects were measured', () => {
    const kernel = (p50: number) => ({
      restoreMs: 100,
      empty: { attempted: 10, answered: 10, p50Us: 50, p99Us: 80 },
      loaded: { attempted: 10, answered: 10, p50Us: p50, p99Us: p50 * 2 },
      addedP50Us: p50 - 50,
      error: null,
    });
    const withKernel = points.map((p) => (p.mode === 'iptables' ? { ...p, kernel: kernel(p.services / 50) } : p));
    const svg = scaleSvg(withKernel);
    checkWellFormed(svg);
    expect(svg).toContain('Kernel:');
    // 8 model lines + iptables loaded and no-rules lines.
    expect(polylines(svg)).toBe(10);
  });

  it('leaves failed points and missing figures out instead of drawing zeros', () => {
    const failed = { ...emptyPoint('iptables', 20000, 10), error: 'out of memory' };
    const noWasm = point('ipvs', 20000, 28, 0, { nsPerPacket: { wasm: null, reference: 90_000 } });
    const svg = scaleSvg([...points, failed, noWasm]);
    checkWellFormed(svg);
    const circles = (svg.match(/<circle /g) ?? []).length;
    // 6 points × 4 figures, plus the IPVS point at 20k with walked mean, p99 and reference only.
    expect(circles).toBe(6 * 4 + 3);
  });

  it('renders a single point and an empty run without breaking', () => {
    checkWellFormed(scaleSvg([point('iptables', 100, 50, 1000)]));
    checkWellFormed(scaleSvg([]));
  });
});

describe('niceTicks', () => {
  it('covers the range in 1-2-5 steps from zero', () => {
    expect(niceTicks(20000)).toEqual([0, 5000, 10000, 15000, 20000]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});

describe('scaleMarkdown', () => {
  it('writes one row per point, failed points say why', () => {
    const md = scaleMarkdown([point('iptables', 1000, 500, 5000), { ...emptyPoint('ipvs', 2000, 10), error: 'out | of memory' }]);
    const lines = md.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toContain('| iptables | 1,000 | 30,000 |');
    expect(lines[2]).toContain('500.0 / 500 / 1,000 / 1,000');
    expect(lines[3]).toContain('failed: out \\| of memory');
    // Every row has the header's number of cells.
    const cells = (l: string) => l.split(/(?<!\\)\|/).length;
    expect(new Set(lines.map(cells)).size).toBe(1);
  });
});
