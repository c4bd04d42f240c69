// Checking and completing a scaling request, the same way for the CLI and the HTTP body, so both
// refuse the same nonsense with the same words and every run is bounded before it starts.

import { LandfallError } from '../model/errors.js';
import { DEFAULT_MIX, type ServiceMix } from '../kube/cluster.js';
import {
  DEFAULT_KERNEL_CONNECTS,
  DEFAULT_PACKETS,
  DEFAULT_POINT_TIMEOUT_MS,
  LIMITS,
  SCALE_MODES,
  type ScaleMix,
  type ScaleMode,
  type ScaleOptions,
  type TrafficMix,
} from './types.js';

/** A request the lab will not run; `field` names the option ("services", "mix.nodePort", …). */
export class ScaleOptionsError extends LandfallError {
  override readonly name = 'ScaleOptionsError';
  readonly code = 'invalid-field';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export interface NormalizedScale {
  services: number[];
  endpoints: number;
  modes: ScaleMode[];
  packets: number;
  seed: number;
  /** The generator's mix (cluster.ts), completed from DEFAULT_MIX. */
  mix: Required<ServiceMix>;
  kernel: boolean;
  kernelConnects: number;
  traffic: TrafficMix;
  pointTimeoutMs: number;
  inline: boolean;
}

function intIn(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ScaleOptionsError(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function share(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) throw new ScaleOptionsError(field, `must be a fraction from 0 to 1, got ${JSON.stringify(v)}`);
  return v;
}

const EPS = 1e-9;

/**
 * The user's mix → the generator's. ClusterIP, NodePort and LoadBalancer shares add up to 1, so
 * any two decide the third; with clusterIP alone, NodePort and LoadBalancer keep the default
 * 2:1 ratio in what is left.
 */
export function resolveServiceMix(mix: ScaleMix = {}): Required<ServiceMix> {
  const out: Required<ServiceMix> = { ...DEFAULT_MIX };
  const c = mix.clusterIP === undefined ? undefined : share('mix.clusterIP', mix.clusterIP);
  const np = mix.nodePort === undefined ? undefined : share('mix.nodePort', mix.nodePort);
  const lb = mix.loadBalancer === undefined ? undefined : share('mix.loadBalancer', mix.loadBalancer);
  if (c === undefined) {
    out.nodePort = np ?? out.nodePort;
    out.loadBalancer = lb ?? out.loadBalancer;
  } else if (np !== undefined && lb !== undefined) {
    if (Math.abs(c + np + lb - 1) > EPS) throw new ScaleOptionsError('mix', `clusterIP + nodePort + loadBalancer must add up to 1, got ${c + np + lb}`);
    out.nodePort = np;
    out.loadBalancer = lb;
  } else if (np !== undefined || lb !== undefined) {
    const given = (np ?? lb) as number;
    const rest = 1 - c - given;
    if (rest < -EPS) throw new ScaleOptionsError('mix', `clusterIP + ${np !== undefined ? 'nodePort' : 'loadBalancer'} exceed 1`);
    out.nodePort = np ?? Math.max(0, rest);
    out.loadBalancer = lb ?? Math.max(0, rest);
  } else {
    const external = DEFAULT_MIX.nodePort + DEFAULT_MIX.loadBalancer;
    out.nodePort = ((1 - c) * DEFAULT_MIX.nodePort) / external;
    out.loadBalancer = ((1 - c) * DEFAULT_MIX.loadBalancer) / external;
  }
  if (out.nodePort + out.loadBalancer > 1 + EPS) throw new ScaleOptionsError('mix', `nodePort + loadBalancer exceed 1 (${out.nodePort + out.loadBalancer})`);
  if (mix.etpLocal !== undefined) out.etpLocal = share('mix.etpLocal', mix.etpLocal);
  if (mix.affinity !== undefined) out.affinity = share('mix.affinity', mix.affinity);
  return out;
}

const MIX_KEYS: Record<string, keyof ScaleMix> = {
  clusterip: 'clusterIP',
  nodeport: 'nodePort',
  lb: 'loadBalancer',
  loadbalancer: 'loadBalancer',
  etplocal: 'etpLocal',
  affinity: 'affinity',
};

/** `clusterip=0.6,nodeport=0.3,lb=0.1,etplocal=0.3,affinity=0.1` → ScaleMix (CLI `--mix`). */
export function parseMixSpec(spec: string): ScaleMix {
  const mix: ScaleMix = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = MIX_KEYS[(eq < 0 ? part : part.slice(0, eq)).toLowerCase()];
    if (eq < 0 || !key) throw new ScaleOptionsError('mix', `expected key=fraction with key one of ${Object.keys(MIX_KEYS).join(', ')}; got ${JSON.stringify(part)}`);
    const raw = part.slice(eq + 1);
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) throw new ScaleOptionsError(`mix.${key}`, `not a number: ${JSON.stringify(raw)}`);
    mix[key] = value;
  }
  return mix;
}

/** Validates and completes the options; throws ScaleOptionsError naming the first bad field. */
export function normalizeScaleOptions(o: ScaleOptions): NormalizedScale {
  if (!Array.isArray(o.services) || o.services.length === 0) throw new ScaleOptionsError('services', 'give at least one service count');
  const services = o.services.map((n, i) => intIn(`services[${i}]`, n, 1, LIMITS.services));
  const endpoints = intIn('endpoints', o.endpoints, 0, LIMITS.endpoints);
  if (!Array.isArray(o.modes) || o.modes.length === 0) throw new ScaleOptionsError('modes', `give at least one of ${SCALE_MODES.join(', ')}`);
  const modes: ScaleMode[] = [];
  for (const m of o.modes) {
    if (!SCALE_MODES.includes(m)) throw new ScaleOptionsError('modes', `unknown mode ${JSON.stringify(m)} (${SCALE_MODES.join(', ')})`);
    if (!modes.includes(m)) modes.push(m);
  }
  const counts = [...new Set(services)].sort((a, b) => a - b);
  if (counts.length * modes.length > LIMITS.points) throw new ScaleOptionsError('services', `at most ${LIMITS.points} points (service counts × modes)`);
  const biggest = counts[counts.length - 1] * endpoints;
  if (biggest > LIMITS.endpointsPerPoint) throw new ScaleOptionsError('endpoints', `services × endpoints must stay within ${LIMITS.endpointsPerPoint.toLocaleString('en-US')} (got ${biggest})`);
  const packets = o.packets === undefined ? DEFAULT_PACKETS : intIn('packets', o.packets, 1, LIMITS.packets);
  const seed = o.seed === undefined ? 1 : intIn('seed', o.seed, 0, 0xffffffff);
  const kernelConnects = o.kernelConnects === undefined ? DEFAULT_KERNEL_CONNECTS : intIn('kernelConnects', o.kernelConnects, 1, LIMITS.kernelConnects);
  const pointTimeoutMs = o.pointTimeoutMs === undefined ? DEFAULT_POINT_TIMEOUT_MS : intIn('pointTimeoutMs', o.pointTimeoutMs, 1, 24 * 3_600_000);
  const traffic: TrafficMix = {};
  for (const [k, v] of Object.entries(o.traffic ?? {})) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ScaleOptionsError(`traffic.${k}`, 'must be a weight ≥ 0');
    traffic[k as keyof TrafficMix] = v;
  }
  return {
    services: counts,
    endpoints,
    modes,
    packets,
    seed,
    mix: resolveServiceMix(o.mix),
    kernel: o.kernel === true,
    kernelConnects,
    traffic,
    pointTimeoutMs,
    inline: o.inline === true,
  };
}
