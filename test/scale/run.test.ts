// The chain-scaling lab's numbers must be honest: the rule counts are checked against counts made
// by hand on a tiny kube-proxy dump, the summaries against an independent computation, and the
// runner's contract (JSON shape, failed points, cancellation, progress) is exercised end to end.
import { describe, expect, it } from 'vitest';
import { generateIptables } from '../../src/kube/generate.js';
import type { ServiceMix } from '../../src/kube/cluster.js';
import { loadRuleset } from '../../src/ruleset.js';
import { runScale, ScaleCancelled, type ScaleProgress } from '../../src/scale/run.js';
import { measurePoint, SCALE_NODE_IP, type PointSpec } from '../../src/scale/point.js';
import { countStats, nearestRank } from '../../src/scale/stats.js';
import { buildTraffic } from '../../src/scale/traffic.js';

/** ClusterIP-only services with endpoints: the dump is then short enough to count by hand. */
const PLAIN: ServiceMix = { nodePort: 0, loadBalancer: 0, externalIPs: 0, etpLocal: 0, itpLocal: 0, affinity: 0, noEndpoints: 0, sourceRanges: 0 };

/** The rules of one chain, in order, as a person reads them off the dump. */
function chainRules(dump: string, table: string, chain: string): string[] {
  const body = dump.split(`*${table}\n`)[1].split('\nCOMMIT')[0];
  return body.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
}

/*
 * Counting by hand for this dump (no raw/mangle rules; filter and nat as kube-proxy writes them).
 * A pod (10.244.0.x, inside the 10.244.0.0/16 local-traffic CIDR) opens a TCP connection to the
 * cluster IP of the service at position k (0-based) of nat KUBE-SERVICES, and lands on the
 * endpoint at position j of that service's KUBE-SVC chain:
 *   nat PREROUTING      1  (-j KUBE-SERVICES)
 *   nat KUBE-SERVICES   k+1 (k service rules that miss, then the one that matches)
 *   nat KUBE-SVC-…      1  (`! -s 10.244.0.0/16 … -j KUBE-MARK-MASQ`: no match, the source is a pod)
 *                       j+1 (j endpoint rules not taken, then the one taken)
 *   nat KUBE-SEP-…      2  (`-s <endpoint> -j KUBE-MARK-MASQ` no match, then DNAT)
 *   → forwarded (the endpoint is not a node address)
 *   filter FORWARD      1  (-j KUBE-PROXY-FIREWALL, empty) + 1 (-j KUBE-FORWARD)
 *   filter KUBE-FORWARD 3  (INVALID, mark 0x4000, RELATED/ESTABLISHED: none match)
 *   filter FORWARD      1  (-j KUBE-SERVICES, empty) + 1 (-j KUBE-EXTERNAL-SERVICES, empty), policy
 *   nat POSTROUTING     1  (-j KUBE-POSTROUTING) + 1 (`! --mark 0x4000 -j RETURN` matches)
 * = 1 + (k+1) + 1 + (j+1) + 2 + 7 + 2 = 15 + k + j.
 * A pod to an unused cluster IP: 1 + 4 (3 services + the NodePort rule, not LOCAL) + 7 + 2 = 14.
 * An outsider to a closed port on the node's address: nat 1 + 4 (the NodePort rule matches,
 * nat KUBE-NODEPORTS is empty) = 5; delivered locally: filter INPUT 4 jumps + KUBE-FIREWALL's
 * one rule = 5; nat INPUT has no rules: 10.
 */
describe('rules evaluated, counted by hand on a 3-service dump', () => {
  const g = generateIptables({ services: 3, endpoints: 2, seed: 7, mix: PLAIN, nodeIP: SCALE_NODE_IP });
  const rs = loadRuleset({ iptables: g.text, node: g.node }, { engine: 'reference' });
  const services = chainRules(g.text, 'nat', 'KUBE-SERVICES');

  it('the dump has the shape the count above assumes', () => {
    expect(services).toHaveLength(4);
    expect(services[3]).toContain('--dst-type LOCAL -j KUBE-NODEPORTS');
    expect(chainRules(g.text, 'filter', 'FORWARD')).toHaveLength(4);
    expect(chainRules(g.text, 'filter', 'KUBE-FORWARD')).toHaveLength(3);
    expect(chainRules(g.text, 'nat', 'KUBE-NODEPORTS')).toHaveLength(0);
  });

  it('each hit walks 15 + k + j rules, depending on where its service and endpoint sit', () => {
    const queries = Array.from({ length: 60 }, (_, i) => {
      const s = g.services[i % 3];
      return { protocol: s.protocol, destination: s.clusterIP, port: s.port, origin: 'pod' as const, source: `10.244.0.${10 + i}` };
    });
    const results = rs.trace(queries, { seed: 11 });
    const seen = new Set<string>();
    results.forEach((r, i) => {
      const s = g.services[i % 3];
      const k = services.findIndex((l) => l.includes(`-d ${s.clusterIP}/32`));
      const svcChain = /-j (KUBE-SVC-\w+)/.exec(services[k])![1];
      // The endpoint rules of the service chain are the ones with `-> ip:port` comments.
      const endpointRules = chainRules(g.text, 'nat', svcChain).filter((l) => l.includes(' -> '));
      const j = endpointRules.findIndex((l) => l.includes(`-> ${r.endpoint}"`));
      expect(k).toBeGreaterThanOrEqual(0);
      expect(j).toBeGreaterThanOrEqual(0);
      expect(r.rulesEvaluated).toBe(15 + k + j);
      seen.add(`${k}/${j}`);
    });
    // Both endpoints of every service were drawn, so every case of the formula was checked.
    expect(seen.size).toBe(6);
  });

  it('misses walk the whole chain: 14 from a pod to an unused IP, 10 from outside to a closed node port', () => {
    const [pod, ext] = rs.trace(
      [
        { protocol: 'tcp', destination: '10.96.0.99', port: 80, origin: 'pod' },
        { protocol: 'tcp', destination: SCALE_NODE_IP, port: 2222, origin: 'external' },
      ],
      { seed: 1 },
    );
    expect(pod.rulesEvaluated).toBe(14);
    expect(ext.rulesEvaluated).toBe(10);
  });
});

describe('a point reports the exact per-packet counts', () => {
  // One endpoint per service: the count no longer depends on the sampled endpoint (j = 0).
  const spec: PointSpec = {
    mode: 'iptables',
    services: 3,
    endpoints: 1,
    packets: 300,
    seed: 7,
    mix: PLAIN,
    traffic: { clusterIP: 3, hostClusterIP: 0, nodePort: 0, external: 0, miss: 1 },
    kernel: false,
    kernelConnects: 0,
  };

  it('mean, p50, p99 and max equal those of the hand formula over the same packets', () => {
    const { point } = measurePoint(spec);
    const g = generateIptables({ services: 3, endpoints: 1, seed: 7, mix: PLAIN, nodeIP: SCALE_NODE_IP });
    const kube = chainRules(g.text, 'nat', 'KUBE-SERVICES');
    const expected = buildTraffic(g.services, g.node, 300, 7, spec.traffic).map((p) => {
      if (p.kind === 'miss') return p.query.destination === SCALE_NODE_IP ? 10 : 14;
      return 15 + kube.findIndex((l) => l.includes(`-d ${g.services[p.service].clusterIP}/32`));
    });
    const sorted = [...expected].sort((a, b) => a - b);
    expect(point.error).toBeNull();
    expect(point.rulesEvaluated).toEqual({
      mean: expected.reduce((a, b) => a + b, 0) / expected.length,
      p50: sorted[Math.ceil(0.5 * sorted.length) - 1],
      p99: sorted[Math.ceil(0.99 * sorted.length) - 1],
      max: sorted[sorted.length - 1],
    });
    expect(point.packets).toBe(300);
    expect((point.traffic.clusterIP ?? 0) + (point.traffic.miss ?? 0)).toBe(300);
    expect(point.rules).toBe(g.text.split('\n').filter((l) => l.startsWith('-A ')).length);
    expect(point.dumpBytes).toBe(Buffer.byteLength(g.text));
    expect(point.mismatches).toBe(0);
    // Plain kube-proxy rules are walked inside WASM: nothing handed to the reference walk.
    expect(point.wasmHostShare).toBe(0);
    expect(point.notes).toEqual([]);
  });
});

describe('countStats', () => {
  it('uses nearest-rank percentiles (always an observed value)', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(countStats(xs)).toEqual({ mean: 50.5, p50: 50, p99: 99, max: 100 });
    expect(countStats([7])).toEqual({ mean: 7, p50: 7, p99: 7, max: 7 });
    expect(countStats([1, 1, 1, 1000])).toEqual({ mean: 250.75, p50: 1, p99: 1000, max: 1000 });
    expect(countStats([])).toBeNull();
    expect(nearestRank([1, 2, 3], 0)).toBe(1);
  });
});

describe('packet mix', () => {
  const g = generateIptables({ services: 200, endpoints: 2, seed: 3, nodeIP: SCALE_NODE_IP });

  it('is deterministic by seed', () => {
    const a = buildTraffic(g.services, g.node, 500, 9);
    expect(buildTraffic(g.services, g.node, 500, 9)).toEqual(a);
    expect(buildTraffic(g.services, g.node, 500, 10)).not.toEqual(a);
  });

  it('aims hits at real service addresses and misses at nothing', () => {
    const clusterIPs = new Set(g.services.map((s) => s.clusterIP));
    for (const p of buildTraffic(g.services, g.node, 2000, 4)) {
      const s = g.services[p.service];
      if (p.kind === 'clusterIP' || p.kind === 'hostClusterIP') expect([p.query.destination, p.query.port]).toEqual([s.clusterIP, s.port]);
      if (p.kind === 'nodePort') expect([p.query.destination, p.query.port]).toEqual([SCALE_NODE_IP, s.nodePort]);
      if (p.kind === 'external') expect([...s.loadBalancerIPs, ...s.externalIPs]).toContain(p.query.destination);
      if (p.kind === 'miss') {
        expect(p.service).toBe(-1);
        expect(clusterIPs.has(p.query.destination)).toBe(false);
        if (p.query.destination === SCALE_NODE_IP) expect(p.query.port).toBeLessThan(30000);
      }
    }
  });

  it('gives the weight of a kind with no target to the others', () => {
    const plain = generateIptables({ services: 20, endpoints: 1, seed: 3, mix: PLAIN, nodeIP: SCALE_NODE_IP });
    const kinds = new Set(buildTraffic(plain.services, plain.node, 1000, 1).map((p) => p.kind));
    expect([...kinds].sort()).toEqual(['clusterIP', 'hostClusterIP', 'miss']);
  });
});

describe('runScale', () => {
  const KEYS = ['mode', 'services', 'endpoints', 'rules', 'dumpBytes', 'parseMs', 'compileMs', 'rulesEvaluated', 'nsPerPacket', 'kernel'];

  it('answers {"points": [...]} in the CLI contract shape, service counts ascending, modes inside', async () => {
    const result = await runScale({ services: [6, 3], endpoints: 2, modes: ['iptables', 'ipvs'], packets: 60, inline: true });
    const json = JSON.parse(JSON.stringify(result)) as { points: Record<string, unknown>[] };
    expect(Object.keys(json)).toEqual(['points']);
    expect(json.points.map((p) => [p.mode, p.services])).toEqual([
      ['iptables', 3],
      ['ipvs', 3],
      ['iptables', 6],
      ['ipvs', 6],
    ]);
    for (const p of json.points) {
      for (const k of KEYS) expect(p).toHaveProperty(k);
      expect(p.endpoints).toBe(2);
      expect(p.kernel).toBeNull();
      expect(p.error).toBeNull();
      expect(Number.isInteger(p.rules)).toBe(true);
      expect(Object.keys(p.rulesEvaluated as object).sort()).toEqual(['max', 'mean', 'p50', 'p99']);
      expect(Object.keys(p.nsPerPacket as object).sort()).toEqual(['reference', 'wasm']);
      expect(typeof (p.nsPerPacket as { reference: unknown }).reference).toBe('number');
    }
  });

  it('runs points in worker threads and reports progress up to 100%', async () => {
    const seen: ScaleProgress[] = [];
    const result = await runScale({ services: [4], endpoints: 1, modes: ['iptables'], packets: 40 }, { onProgress: (p) => seen.push(p) });
    expect(result.points[0].error).toBeNull();
    expect(result.points[0].rulesEvaluated).not.toBeNull();
    const percents = seen.map((p) => p.percent);
    expect(percents.every((v, i) => i === 0 || v >= percents[i - 1])).toBe(true);
    expect(percents[percents.length - 1]).toBe(100);
    expect(seen.some((p) => p.phase === 'trace-reference')).toBe(true);
  });

  it('reports a failed point with its error and goes on with the others', async () => {
    const done: number[] = [];
    const result = await runScale(
      { services: [3, 5, 7], endpoints: 1, modes: ['iptables'], packets: 20, inline: true },
      {
        measure: (spec, onPhase) => {
          if (spec.services === 5) throw new Error('synthetic failure for 5 services');
          return measurePoint(spec, onPhase);
        },
        onPoint: (p) => done.push(p.services),
      },
    );
    expect(done).toEqual([3, 5, 7]);
    const [a, b, c] = result.points;
    expect(b.error).toBe('synthetic failure for 5 services');
    expect(b.rulesEvaluated).toBeNull();
    expect(b.rules).toBeNull();
    expect([a.error, c.error]).toEqual([null, null]);
    expect(c.rulesEvaluated).not.toBeNull();
  });

  it('fails a point that overruns its time limit (the worker is terminated) and still reports every point', async () => {
    const result = await runScale({ services: [3, 4], endpoints: 1, modes: ['iptables'], packets: 20, pointTimeoutMs: 1 });
    expect(result.points).toHaveLength(2);
    for (const p of result.points) expect(p.error).toMatch(/timed out/);
  });

  it('cancels: the running point is abandoned, finished points were delivered, and it rejects with ScaleCancelled', async () => {
    const controller = new AbortController();
    const finished: number[] = [];
    const run = runScale(
      { services: [3, 1500], endpoints: 5, modes: ['iptables'], packets: 20_000 },
      {
        signal: controller.signal,
        onPoint: (p) => finished.push(p.services),
        // Abort as soon as the second (big) point is under way.
        onProgress: (p) => {
          if (p.point === 1 && p.phase !== 'generate') controller.abort();
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(ScaleCancelled);
    expect(finished).toEqual([3]);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(runScale({ services: [3], endpoints: 1, modes: ['iptables'] }, { signal: controller.signal })).rejects.toBeInstanceOf(ScaleCancelled);
  });
});
