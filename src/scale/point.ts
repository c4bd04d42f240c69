// One point of the chain-scaling lab (mode × service count): generate the node's dumps, parse,
// compile, then drive the packet mix through both engines. The reference walk is the oracle, so
// the rule counts come from it; the WASM engine must reproduce every record (mismatches are
// counted, not hidden). Synchronous and CPU-bound: run.ts runs it in a worker thread.

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CompiledRuleset } from '../compile/compile.js';
import { addrKey, resolveQuery } from '../engine/packet.js';
import { createReferenceEngine } from '../engine/reference.js';
import type { Engine, TraceRecord, WalkPacket } from '../engine/types.js';
import { compileRuleset, createWasmEngine, type WasmEngine } from '../engine/wasm.js';
import type { RulesetBundle } from '../model/contracts.js';
import { buildRuleset } from '../ruleset.js';
import type { GeneratedNode, GeneratedService, ServiceMix } from '../kube/cluster.js';
import { generateIptables } from '../kube/generate.js';
import { generateIpvs } from '../kube/generate-ipvs.js';
import { generateNftables } from '../kube/generate-nft.js';
import { countStats } from './stats.js';
import { buildTraffic, trafficCounts } from './traffic.js';
import type { PointPhase, ScaleMode, ScalePoint, TrafficMix } from './types.js';

/**
 * The node address every scaling dump is generated for: the kernel lab's node address
 * (src/lab/topology.ts DEFAULT_TOPOLOGY), so a `--kernel` run loads the very dump the model walked.
 */
export const SCALE_NODE_IP = '192.168.0.2';

/** nftables mode's rule shape in the lab: kube-proxy v1.36's (inline DNAT maps, hairpin set). */
export const NFT_SCALE_SHAPE = 'v1.36' as const;

/** What one point needs; plain data, so it crosses to a worker as is. */
export interface PointSpec {
  mode: ScaleMode;
  services: number;
  endpoints: number;
  packets: number;
  seed: number;
  mix: ServiceMix;
  traffic: TrafficMix;
  /** Hand back the dump and connect targets for the kernel measurement. */
  kernel: boolean;
  kernelConnects: number;
}

/** A connection the kernel measurement makes: to a cluster IP, and its direct-to-endpoint twin. */
export interface KernelTarget {
  destination: string;
  port: number;
  endpoint: string;
  endpointPort: number;
}

export interface KernelInput {
  mode: ScaleMode;
  iptables: string;
  ipsets?: string;
  /** nftables mode: the kube-proxy table, loaded with `nft -f`. */
  nftables?: string;
  targets: KernelTarget[];
}

export interface PointOutcome {
  point: ScalePoint;
  kernel?: KernelInput;
}

/** Told at each phase start and within tracing (fraction of the point done, 0..1). */
export type PhaseHook = (phase: PointPhase, fraction: number) => void;

/** Packets per trace call: small enough for progress and a fresh PRNG per chunk, large enough to amortise the call. */
const CHUNK = 500;
/** Untimed packets walked first so both engines are measured warm (JIT, caches). */
const WARMUP = CHUNK;
/** Rough share of a point's time per phase, for the progress fraction. */
const PHASE_AT: Record<PointPhase, number> = {
  queued: 0,
  generate: 0,
  parse: 0.1,
  compile: 0.3,
  'trace-reference': 0.35,
  'trace-wasm': 0.75,
  kernel: 0.95,
  done: 1,
};

interface Generated {
  bundle: RulesetBundle;
  services: GeneratedService[];
  node: GeneratedNode;
}

function generate(spec: PointSpec): Generated {
  const opts = { services: spec.services, endpoints: spec.endpoints, seed: spec.seed, mix: spec.mix, nodeIP: SCALE_NODE_IP };
  if (spec.mode === 'ipvs') {
    const g = generateIpvs(opts);
    return { bundle: { iptables: g.iptables, ipvs: g.ipvs, ipsets: g.ipsets, node: g.node }, services: g.services, node: g.node };
  }
  if (spec.mode === 'nftables') {
    // The shape current releases write (v1.36): the table as `nft list ruleset` prints it.
    const g = generateNftables({ ...opts, shape: NFT_SCALE_SHAPE });
    return { bundle: { nftables: g.listing, node: g.node }, services: g.services, node: g.node };
  }
  const g = generateIptables(opts);
  return { bundle: { iptables: g.text, node: g.node }, services: g.services, node: g.node };
}

function bytesOf(b: RulesetBundle): number {
  let n = 0;
  for (const s of [b.iptables, b.ipvs, b.ipsets, b.nftables]) if (s !== undefined) n += Buffer.byteLength(s, 'utf8');
  return n;
}

/** A garbage collection before reading the heap, so the figure is what the point holds, not what it dropped. */
function collectGarbage(): void {
  try {
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch {
    // Without it the heap figure includes uncollected garbage; it is still an upper bound.
  }
}

interface TraceRun {
  records: TraceRecord[];
  ns: number;
  /** Packets in batches the engine handed to the reference walk (WASM engine only). */
  hostPackets: number;
}

/** Walks every packet (after an untimed warm-up), chunk by chunk with per-chunk seeds, timing only the walks. */
function traceAll(engine: Engine, pkts: WalkPacket[], seed: number, onChunk: (done: number) => void): TraceRun {
  engine.trace(pkts.slice(0, WARMUP), seed);
  const hostTraces = (): number => (engine as Partial<WasmEngine>).stats?.hostTraces ?? 0;
  const records: TraceRecord[] = [];
  let elapsed = 0;
  let hostPackets = 0;
  for (let at = 0, c = 0; at < pkts.length; at += CHUNK, c++) {
    const chunk = pkts.slice(at, at + CHUNK);
    const before = hostTraces();
    const t0 = process.hrtime.bigint();
    const recs = engine.trace(chunk, (seed + c * 0x9e3779b9) >>> 0);
    elapsed += Number(process.hrtime.bigint() - t0);
    if (hostTraces() > before) hostPackets += chunk.length;
    for (const r of recs) records.push(r);
    onChunk(Math.min(pkts.length, at + CHUNK));
  }
  return { records, ns: pkts.length > 0 ? elapsed / pkts.length : 0, hostPackets };
}

function sameRecord(a: TraceRecord, b: TraceRecord): boolean {
  return (
    a.verdict === b.verdict &&
    a.dport === b.dport &&
    a.masquerade === b.masquerade &&
    a.rulesEvaluated === b.rulesEvaluated &&
    addrKey(a.dst) === addrKey(b.dst) &&
    addrKey(a.src) === addrKey(b.src)
  );
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Picks the kernel lab's connections: TCP services that answer from a pod, chosen at random. */
function kernelTargets(services: readonly GeneratedService[], count: number, seed: number): KernelTarget[] {
  const usable = services.filter((s) => s.protocol === 'tcp' && s.status === 'ok' && s.internalTrafficPolicy === 'Cluster' && s.endpoints.length > 0);
  const out: KernelTarget[] = [];
  if (usable.length === 0) return out;
  let x = (seed ^ 0x6b65726e) >>> 0;
  const next = (n: number): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return Math.floor((x / 4294967296) * n);
  };
  for (let i = 0; i < count; i++) {
    const s = usable[next(usable.length)];
    const e = s.endpoints[next(s.endpoints.length)];
    out.push({ destination: s.clusterIP, port: s.port, endpoint: e.ip, endpointPort: e.port });
  }
  return out;
}

export function emptyPoint(mode: ScaleMode, services: number, endpoints: number): ScalePoint {
  return {
    mode,
    services,
    endpoints,
    rules: null,
    dumpBytes: null,
    generateMs: null,
    parseMs: null,
    compileMs: null,
    rulesEvaluated: null,
    nsPerPacket: { wasm: null, reference: null },
    packets: 0,
    traffic: {},
    mismatches: null,
    memory: null,
    kernel: null,
    wasmHostShare: null,
    loadAverage: null,
    notes: [],
    error: null,
  };
}

/** Measures one point. Throws only when nothing useful can be reported (generation, parsing or the reference walk failed). */
export function measurePoint(spec: PointSpec, onPhase: PhaseHook = () => undefined): PointOutcome {
  const point = emptyPoint(spec.mode, spec.services, spec.endpoints);
  const ms = (t0: number): number => performance.now() - t0;

  onPhase('generate', PHASE_AT.generate);
  let t = performance.now();
  const g = generate(spec);
  point.generateMs = ms(t);
  point.dumpBytes = bytesOf(g.bundle);

  onPhase('parse', PHASE_AT.parse);
  // Heap before and after loading (both after a collection, the dump text alive in both): the
  // difference is what the parsed model and the engines' indexes hold.
  collectGarbage();
  const heapBefore = getHeapStatistics().used_heap_size;
  t = performance.now();
  const { ruleset } = buildRuleset(g.bundle);
  point.parseMs = ms(t);
  point.rules = ruleset.rules.length;

  onPhase('compile', PHASE_AT.compile);
  let compiled: CompiledRuleset | null = null;
  try {
    t = performance.now();
    compiled = compileRuleset(ruleset);
    point.compileMs = ms(t);
  } catch (e) {
    point.notes.push(`compile failed: ${message(e)}`);
  }
  let wasm: WasmEngine | null = null;
  if (compiled) {
    try {
      wasm = createWasmEngine(ruleset, compiled);
    } catch (e) {
      point.notes.push(`WASM engine unavailable for this rule set: ${message(e)}`);
    }
  }
  const reference = createReferenceEngine(ruleset);
  collectGarbage();
  // The compiled words live outside the V8 heap (a typed array's backing store): counted apart.
  point.memory = { heapBytes: Math.max(0, getHeapStatistics().used_heap_size - heapBefore), compiledBytes: compiled?.words.byteLength ?? 0 };

  const traffic = buildTraffic(g.services, g.node, spec.packets, spec.seed, spec.traffic);
  const pkts = traffic.map((p) => resolveQuery(p.query, ruleset.node).pkt);
  point.packets = pkts.length;
  point.traffic = trafficCounts(traffic);

  const span = (a: PointPhase, b: PointPhase) => (done: number) =>
    onPhase(a, PHASE_AT[a] + (PHASE_AT[b] - PHASE_AT[a]) * (pkts.length > 0 ? done / pkts.length : 1));
  onPhase('trace-reference', PHASE_AT['trace-reference']);
  const ref = traceAll(reference, pkts, spec.seed, span('trace-reference', 'trace-wasm'));
  point.nsPerPacket.reference = ref.ns;
  point.rulesEvaluated = countStats(ref.records.map((r) => r.rulesEvaluated));

  onPhase('trace-wasm', PHASE_AT['trace-wasm']);
  if (wasm) {
    try {
      const w = traceAll(wasm, pkts, spec.seed, span('trace-wasm', 'kernel'));
      point.nsPerPacket.wasm = w.ns;
      point.wasmHostShare = pkts.length > 0 ? w.hostPackets / pkts.length : 0;
      if (w.hostPackets > 0) {
        point.notes.push(
          `WASM engine handed ${w.hostPackets} of ${pkts.length} packets (whole trace batches of up to ${CHUNK}) to the reference walk: they reach features it evaluates on the host (ipset contents, IPVS scheduling)`,
        );
      }
      let mismatches = 0;
      for (let i = 0; i < pkts.length; i++) if (!sameRecord(w.records[i], ref.records[i])) mismatches++;
      point.mismatches = mismatches;
      if (mismatches > 0) point.notes.push(`WASM engine disagreed with the reference walk on ${mismatches} of ${pkts.length} packets`);
    } catch (e) {
      point.notes.push(`WASM trace failed: ${message(e)}`);
    }
  }


  const outcome: PointOutcome = { point };
  if (spec.kernel) {
    outcome.kernel = {
      mode: spec.mode,
      iptables: g.bundle.iptables ?? '',
      ...(g.bundle.ipsets !== undefined ? { ipsets: g.bundle.ipsets } : {}),
      ...(g.bundle.nftables !== undefined ? { nftables: g.bundle.nftables } : {}),
      targets: kernelTargets(g.services, spec.kernelConnects, spec.seed),
    };
  }
  onPhase('done', 1);
  return outcome;
}
