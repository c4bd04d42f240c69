// The kernel side of `landfall scale --kernel`: real connections through a namespace loaded with a
// small generated dump. Skips with the lab's reason where there is no root / netns / iptables.
// Times are never asserted (they depend on the machine); what is asserted is that the figures come
// from real answered connections and that no namespace is left behind.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { latencyOf, measureKernel } from '../../src/scale/kernel.js';
import { measurePoint, SCALE_NODE_IP, type PointSpec } from '../../src/scale/point.js';
import { DEFAULT_TOPOLOGY } from '../../src/lab/index.js';
import { availability, labSuiteTitle } from '../lab/support.js';

const spec = (mode: PointSpec['mode']): PointSpec => ({
  mode,
  services: 12,
  endpoints: 2,
  packets: 20,
  seed: 5,
  mix: { noEndpoints: 0, affinity: 0 },
  traffic: {},
  kernel: true,
  kernelConnects: 24,
});

function ourNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`lf-${process.pid}-`));
}

describe('the scaling dumps and the kernel lab', () => {
  it('agree on the node address, so --kernel loads the very dump the model walked', () => {
    expect(SCALE_NODE_IP).toBe(DEFAULT_TOPOLOGY.v4.nodeAddress);
  });
});

describe('latencyOf', () => {
  it('times answered connections only, nearest-rank', () => {
    const s = latencyOf(
      [
        { kind: 'landed', local: '10.244.0.5:80', peer: '10.244.0.2:4000', client: '10.244.0.2:4000', us: 90 },
        { kind: 'timeout', us: 1_000_000 },
        { kind: 'landed', local: '10.244.0.5:80', peer: '10.244.0.2:4001', client: '10.244.0.2:4001', us: 40 },
        { kind: 'refused', code: 'ECONNREFUSED', us: 30 },
      ],
      4,
    );
    expect(s).toEqual({ attempted: 4, answered: 2, p50Us: 40, p99Us: 90 });
    expect(latencyOf([], 0)).toEqual({ attempted: 0, answered: 0, p50Us: null, p99Us: null });
  });
});

describe.skipIf(!availability.ok)(labSuiteTitle('measureKernel (real namespaces)'), () => {
  it('iptables mode: restore time, and every connection answered with and without the rules', async () => {
    const { kernel } = measurePoint(spec('iptables'));
    expect(kernel!.targets).toHaveLength(24);
    const fractions: number[] = [];
    const k = await measureKernel(kernel!, { onProgress: (f) => fractions.push(f) });
    expect(k.error).toBeNull();
    expect(k.restoreMs).toBeGreaterThan(0);
    expect(k.empty).toMatchObject({ attempted: 24, answered: 24 });
    expect(k.loaded).toMatchObject({ attempted: 24, answered: 24 });
    expect(k.loaded!.p50Us).toBeGreaterThan(0);
    expect(k.addedP50Us).toBe(k.loaded!.p50Us! - k.empty!.p50Us!);
    expect(fractions[fractions.length - 1]).toBe(1);
    expect(ourNamespaces()).toEqual([]);
  });

  it('IPVS mode: only the restore is timed, and the figures say why', async () => {
    const { kernel } = measurePoint(spec('ipvs'));
    const k = await measureKernel(kernel!);
    expect(k.restoreMs).toBeGreaterThan(0);
    expect(k.loaded).toBeNull();
    expect(k.error).toMatch(/IPVS/);
    expect(ourNamespaces()).toEqual([]);
  });

  it('cancelling removes the namespaces and rejects', async () => {
    const { kernel } = measurePoint(spec('iptables'));
    const controller = new AbortController();
    const run = measureKernel(kernel!, {
      signal: controller.signal,
      onProgress: (f) => {
        if (f > 0.05) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(ourNamespaces()).toEqual([]);
  });
});
