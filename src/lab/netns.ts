// KernelLab: a throwaway three-namespace network (topology.ts) with a dump loaded into its node
// namespace, listeners on every DNAT target and probes from outside, from a pod or from the node.
// The kernel is the oracle: what a probe observes is what netfilter did.
//
// Usage:
//   const lab = await KernelLab.create();
//   try {
//     await lab.load({ iptables: dump });
//     const s = await lab.probe({ origin: 'pod', proto: 'tcp', destination: '10.96.0.10', port: 80, count: 300 });
//   } finally { await lab.close(); }
import { AgentClient } from './agent-client.js';
import { deleteNamespace, newLabPrefix, sweepStaleNamespaces, track } from './cleanup.js';
import { nfacctNames, scanDnatTargets, scanNftDnatTargets, stripNfacct } from './dump.js';
import { haveTool, LabError, run } from './exec.js';
import type { LabProtocol, ListenSpec, ProbeRecord } from './protocol.js';
import { percentile, summarize, type ProbeSummary } from './summary.js';
import {
  DEFAULT_TOPOLOGY,
  EXT_IFACE,
  PODS_IFACE,
  anyIpSysctls,
  checkIfaceName,
  commonSysctls,
  extBatch,
  isV6,
  nodeBatch,
  nodeSysctls,
  podAddressLines,
  podsBatch,
  podsSysctls,
  type FamilyPlan,
  type LabTopology,
} from './topology.js';

export type LabOrigin = 'external' | 'pod' | 'host';
type Role = 'node' | 'ext' | 'pods';

export interface LabOptions {
  uplink?: string;
  podsInterface?: string;
  v4?: Partial<FamilyPlan>;
  /** Partial IPv6 plan, or null for an IPv4-only lab (default: dual-stack). */
  v6?: Partial<FamilyPlan> | null;
  /** Agents end themselves after this long even if this process dies without a word. */
  agentTtlMs?: number;
}

export interface LabDump {
  iptables?: string;
  ip6tables?: string;
  /** `ipset save` output, restored before the rules. */
  ipsets?: string;
  /** An nft rule set (`nft list ruleset` text or an `nft -f` script), loaded with `nft -f` after iptables. */
  nftables?: string;
}

export interface LoadOptions {
  /**
   * Which DNAT targets get listeners: 'all' (default), 'tcp' (a scale run with many UDP endpoints
   * would need one socket each), or 'none' (rules only; restore timing).
   */
  listen?: 'all' | 'tcp' | 'none';
}

export interface LatencyTarget {
  destination: string;
  port: number;
}

export interface LatencyReport {
  /** Connections that were set up (the rest are in `failed`). */
  connected: number;
  failed: number;
  /** TCP connection setup (SYN → established) in microseconds, measured inside the client's namespace. */
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

export interface LoadReport {
  /** Wall time of iptables-restore (+ ip6tables-restore), ms. */
  restoreMs: number;
  /** DNAT targets found and listened on. */
  targets: number;
  /** Addresses made into pods by this load. */
  podAddresses: number;
  /** What the lab changed or could not reproduce (nfacct stripped, unlistenable targets…). */
  warnings: string[];
}

export interface LabProbe {
  origin: LabOrigin;
  proto: LabProtocol;
  destination: string;
  port: number;
  /** Client address; defaults as landfall's explain (external 203.0.113.10, pod .2 of the pod CIDR, host the node IP). */
  source?: string;
  /** Connections to make (default 1). */
  count?: number;
  /** In flight at once (default 32); 1 = sequential, for `recent`/affinity. */
  concurrency?: number;
  /** Per connection (default 1000 ms): longer without an answer = DROP. */
  timeoutMs?: number;
}

const EMPTY_TABLES: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** An iptables-restore input that empties every table (flushes rules, deletes user chains). */
function emptyRuleset(): string {
  return Object.entries(EMPTY_TABLES)
    .map(([t, chains]) => `*${t}\n${chains.map((c) => `:${c} ACCEPT [0:0]`).join('\n')}\nCOMMIT\n`)
    .join('');
}

function resolveTopology(o: LabOptions): LabTopology {
  const t: LabTopology = {
    uplink: o.uplink ?? DEFAULT_TOPOLOGY.uplink,
    podsInterface: o.podsInterface ?? DEFAULT_TOPOLOGY.podsInterface,
    v4: { ...DEFAULT_TOPOLOGY.v4, ...o.v4 },
    v6: o.v6 === null ? null : { ...(DEFAULT_TOPOLOGY.v6 as FamilyPlan), ...o.v6 },
  };
  checkIfaceName(t.uplink);
  checkIfaceName(t.podsInterface);
  if (t.uplink === t.podsInterface) throw new Error('uplink and pods interface need different names');
  return t;
}

/** The second host address of a CIDR ("10.244.0.0/16" → "10.244.0.2"): landfall's default pod source. */
function secondHost(cidr: string): string {
  const base = cidr.split('/')[0];
  if (isV6(base)) return base.endsWith('::') ? `${base}2` : base;
  const o = base.split('.').map(Number);
  o[3] += 2;
  return o.join('.');
}

export class KernelLab {
  readonly topology: LabTopology;
  /** Namespace names, unique to this lab. */
  readonly ns: Record<Role, string>;
  private readonly agents = new Map<Role, Promise<AgentClient>>();
  private readonly pods = new Set<string>();
  private readonly listening = new Set<string>();
  private loaded = false;
  private closed = false;

  private constructor(topology: LabTopology, private readonly agentTtlMs: number) {
    this.topology = topology;
    const p = newLabPrefix();
    this.ns = { node: `${p}-node`, ext: `${p}-ext`, pods: `${p}-pods` };
  }

  /** Builds the topology; on any failure everything made so far is removed again. */
  static async create(options: LabOptions = {}): Promise<KernelLab> {
    const lab = new KernelLab(resolveTopology(options), options.agentTtlMs ?? 30 * 60_000);
    await sweepStaleNamespaces();
    try {
      await lab.build();
    } catch (e) {
      await lab.close();
      throw e;
    }
    return lab;
  }

  /** The node context to give landfall's explain for this lab. */
  nodeContext(): { addresses: string[]; podCIDRs: string[]; interfaces: { uplink: string; pods: string } } {
    const { v4, v6 } = this.topology;
    return {
      addresses: [v4.nodeAddress, v4.podGateway, ...(v6 ? [v6.nodeAddress, v6.podGateway] : [])],
      podCIDRs: [v4.podCIDR, ...(v6 ? [v6.podCIDR] : [])],
      interfaces: { uplink: this.topology.uplink, pods: this.topology.podsInterface },
    };
  }

  /**
   * Loads a dump into the node namespace (replacing an earlier one), makes every DNAT target a
   * listening pod address, and forgets earlier connections (conntrack, recent lists).
   */
  async load(dump: LabDump, opts: LoadOptions = {}): Promise<LoadReport> {
    this.assertOpen();
    const warnings: string[] = [];
    if (this.loaded) await this.reset();
    this.loaded = true;
    let v4 = dump.iptables ?? '';
    let v6 = dump.ip6tables ?? '';
    if (v6 && !this.topology.v6) throw new LabError('an ip6tables dump needs a lab with IPv6 (options.v6 not null)');
    if (dump.ipsets) {
      if (!haveTool('ipset')) throw new LabError('the dump comes with ipsets but the ipset tool is not installed');
      await run('ip', ['netns', 'exec', this.ns.node, 'ipset', 'restore'], { input: dump.ipsets, timeoutMs: 60_000 });
    }
    const names = nfacctNames(`${v4}\n${v6}`);
    if (names.length > 0) {
      if (haveTool('nfacct')) {
        for (const n of names) await run('ip', ['netns', 'exec', this.ns.node, 'nfacct', 'add', n], { allowFailure: true });
      } else {
        const a = stripNfacct(v4);
        const b = stripNfacct(v6);
        v4 = a.text;
        v6 = b.text;
        warnings.push(
          `nfacct tool not installed: removed "-m nfacct" from ${a.rules + b.rules} rule(s) before loading (${names.join(', ')}); nfacct always matches, so the rules decide the same`,
        );
      }
    }
    const started = performance.now();
    // Restore time grows with the dump (17 s for 34 MB measured here); allow a generous margin.
    const budget = (text: string): number => 30_000 + Math.ceil(text.length / 100_000) * 1_000;
    if (v4) await run('ip', ['netns', 'exec', this.ns.node, 'iptables-restore'], { input: v4, timeoutMs: budget(v4) });
    if (v6) await run('ip', ['netns', 'exec', this.ns.node, 'ip6tables-restore'], { input: v6, timeoutMs: budget(v6) });
    const nft = dump.nftables ?? '';
    if (nft) {
      if (!haveTool('nft')) throw new LabError('the dump comes with an nft rule set but the nft tool is not installed (apt-get install nftables)');
      await run('ip', ['netns', 'exec', this.ns.node, 'nft', '-f', '-'], { input: nft, timeoutMs: budget(nft) });
    }
    const restoreMs = performance.now() - started;

    const listen = opts.listen ?? 'all';
    const scan = scanDnatTargets(`${v4}\n${v6}`);
    if (nft) {
      const more = scanNftDnatTargets(nft);
      scan.targets.push(...more.targets);
      scan.skipped.push(...more.skipped);
    }
    const targets = listen === 'all' ? scan.targets : listen === 'tcp' ? scan.targets.filter((t) => t.proto === 'tcp') : [];
    if (listen !== 'none') warnings.push(...scan.skipped.map((s) => `no listener: ${s}`));
    const before = this.pods.size;
    await this.listenAt(targets);
    return { restoreMs, targets: targets.length, podAddresses: this.pods.size - before, warnings };
  }

  /** Makes addresses pod addresses (local in pods, routed there from the node); idempotent. */
  async addPods(ips: readonly string[]): Promise<void> {
    this.assertOpen();
    const fresh = [...new Set(ips)].filter((ip) => !this.pods.has(ip) && !this.isNodeAddress(ip));
    if (fresh.length === 0) return;
    for (const ip of fresh) if (isV6(ip) && !this.topology.v6) throw new LabError(`IPv6 pod ${ip} in an IPv4-only lab`);
    const lines = fresh.map((ip) => podAddressLines(this.topology, ip));
    await this.batch('pods', lines.map((l) => l.pods));
    await this.batch('node', lines.map((l) => l.node));
    for (const ip of fresh) this.pods.add(ip);
  }

  /** Listens on ip:port (TCP and/or UDP): in the node namespace for node addresses, else in pods. */
  async listenAt(specs: readonly ListenSpec[]): Promise<void> {
    this.assertOpen();
    const fresh = specs.filter((s) => !this.listening.has(`${s.proto} ${s.ip} ${s.port}`));
    if (fresh.length === 0) return;
    const onNode = fresh.filter((s) => this.isNodeAddress(s.ip));
    const inPods = fresh.filter((s) => !this.isNodeAddress(s.ip));
    await this.addPods(inPods.map((s) => s.ip));
    if (inPods.length) await (await this.agent('pods')).listen(inPods);
    // On the node a wildcard would also catch traffic meant for other node addresses: bind exactly.
    if (onNode.length) await (await this.agent('node')).listen(onNode, false);
    for (const s of fresh) this.listening.add(`${s.proto} ${s.ip} ${s.port}`);
  }

  /**
   * Listens in ext, on addresses local there (inside `externalClients`): servers "outside the
   * cluster", for pod → internet traffic (SNAT/egress rules).
   */
  async listenOutside(specs: readonly ListenSpec[]): Promise<void> {
    this.assertOpen();
    const fresh = specs.filter((s) => !this.listening.has(`ext ${s.proto} ${s.ip} ${s.port}`));
    if (fresh.length === 0) return;
    await (await this.agent('ext')).listen(fresh, false);
    for (const s of fresh) this.listening.add(`ext ${s.proto} ${s.ip} ${s.port}`);
  }

  /** Makes `count` connections and reports where they landed. */
  async probe(p: LabProbe): Promise<ProbeSummary> {
    this.assertOpen();
    const role: Role = p.origin === 'external' ? 'ext' : p.origin === 'pod' ? 'pods' : 'node';
    const source = p.source ?? this.defaultSource(p.origin, p.destination);
    if (p.origin === 'pod') await this.addPods([source]);
    const records: ProbeRecord[] = await (await this.agent(role)).probe({
      proto: p.proto,
      dst: p.destination,
      port: p.port,
      src: source,
      count: p.count ?? 1,
      concurrency: p.concurrency ?? 32,
      timeoutMs: p.timeoutMs ?? 1_000,
    });
    return summarize(records);
  }

  /**
   * TCP connection setup latency through the loaded rules: one connection to each target in turn
   * (sequential, so connections do not queue behind each other), from `origin`.
   */
  async latency(origin: LabOrigin, targets: readonly LatencyTarget[], opts: { source?: string; timeoutMs?: number } = {}): Promise<LatencyReport> {
    const us: number[] = [];
    let failed = 0;
    for (const t of targets) {
      const s = await this.probe({ origin, proto: 'tcp', destination: t.destination, port: t.port, source: opts.source, count: 1, concurrency: 1, timeoutMs: opts.timeoutMs ?? 1_000 });
      const r = s.records[0];
      if (r?.kind === 'landed') us.push(r.us);
      else failed++;
    }
    us.sort((a, b) => a - b);
    return {
      connected: us.length,
      failed,
      p50: percentile(us, 0.5),
      p99: percentile(us, 0.99),
      mean: us.length ? us.reduce((a, b) => a + b, 0) / us.length : NaN,
      max: us.length ? us[us.length - 1] : NaN,
    };
  }

  /** Empties the node's tables and ipsets and forgets tracked connections (listeners stay). */
  async clear(): Promise<void> {
    this.assertOpen();
    await this.reset();
  }

  /** The node's rules as iptables-save (or ip6tables-save) prints them now. */
  async save(family: 4 | 6 = 4): Promise<string> {
    this.assertOpen();
    const tool = family === 6 ? 'ip6tables-save' : 'iptables-save';
    return (await run('ip', ['netns', 'exec', this.ns.node, tool], { timeoutMs: 120_000 })).stdout;
  }

  /** The node's nft rule set as `nft list ruleset` prints it now (`json`: `nft -j list ruleset`). */
  async listNftables(opts: { json?: boolean } = {}): Promise<string> {
    this.assertOpen();
    if (!haveTool('nft')) throw new LabError('nft tool not installed (apt-get install nftables)');
    const args = opts.json ? ['-j', 'list', 'ruleset'] : ['list', 'ruleset'];
    return (await run('ip', ['netns', 'exec', this.ns.node, 'nft', ...args], { timeoutMs: 120_000 })).stdout;
  }

  /** Forgets every connection the node tracks (each probe then walks the nat rules afresh). */
  async flushConntrack(): Promise<void> {
    this.assertOpen();
    if (!haveTool('conntrack')) throw new LabError('conntrack tool not installed');
    await run('ip', ['netns', 'exec', this.ns.node, 'conntrack', '-F'], { allowFailure: true });
  }

  /** Stops the agents and deletes the namespaces. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.agents.values()) await a.then((c) => c.stop(), () => undefined);
    this.agents.clear();
    for (const ns of Object.values(this.ns)) await deleteNamespace(ns);
  }

  // -------------------------------------------------------------------------------------------

  private async build(): Promise<void> {
    const t = this.topology;
    for (const role of ['node', 'ext', 'pods'] as const) {
      track(this.ns[role]);
      await run('ip', ['netns', 'add', this.ns[role]]);
    }
    await Promise.all([
      this.sysctl('node', [...commonSysctls(), ...nodeSysctls()]),
      this.sysctl('ext', [...commonSysctls(), ...anyIpSysctls()]),
      this.sysctl('pods', [...commonSysctls(), ...anyIpSysctls(), ...podsSysctls()]),
    ]);
    // Both ends are created directly inside their namespaces: the root namespace never sees them.
    await run('ip', ['link', 'add', t.uplink, 'netns', this.ns.node, 'type', 'veth', 'peer', 'name', EXT_IFACE, 'netns', this.ns.ext]);
    await run('ip', ['link', 'add', t.podsInterface, 'netns', this.ns.node, 'type', 'veth', 'peer', 'name', PODS_IFACE, 'netns', this.ns.pods]);
    await this.batch('node', nodeBatch(t));
    await this.batch('ext', extBatch(t));
    await this.batch('pods', podsBatch(t));
    // Start the agents now, together: each is a node start-up (more under tsx), better overlapped.
    await Promise.all((['node', 'ext', 'pods'] as const).map((r) => this.agent(r)));
  }

  /** Runs `ip -batch` in a namespace; lines starting "-6 " go to an `ip -6` batch after the rest. */
  private async batch(role: Role, lines: string[]): Promise<void> {
    const v6 = lines.filter((l) => l.startsWith('-6 ')).map((l) => l.slice(3));
    const v4 = lines.filter((l) => !l.startsWith('-6 '));
    if (v4.length) await run('ip', ['-n', this.ns[role], '-batch', '-'], { input: `${v4.join('\n')}\n`, timeoutMs: 120_000 });
    if (v6.length) await run('ip', ['-6', '-n', this.ns[role], '-batch', '-'], { input: `${v6.join('\n')}\n`, timeoutMs: 120_000 });
  }

  private async sysctl(role: Role, settings: string[]): Promise<void> {
    // -e: a key this kernel lacks (e.g. no IPv6) is skipped rather than fatal.
    await run('ip', ['netns', 'exec', this.ns[role], 'sysctl', '-q', '-e', '-w', ...settings]);
  }

  private agent(role: Role): Promise<AgentClient> {
    let a = this.agents.get(role);
    if (!a) {
      a = AgentClient.start(this.ns[role], this.agentTtlMs);
      this.agents.set(role, a);
    }
    return a;
  }

  private isNodeAddress(ip: string): boolean {
    const { v4, v6 } = this.topology;
    return ip === v4.nodeAddress || ip === v4.podGateway || ip.startsWith('127.') || ip === '::1' || (!!v6 && (ip === v6.nodeAddress || ip === v6.podGateway));
  }

  private defaultSource(origin: LabOrigin, destination: string): string {
    const plan = isV6(destination) ? this.topology.v6 : this.topology.v4;
    if (!plan) throw new LabError(`IPv6 destination ${destination} in an IPv4-only lab`);
    if (origin === 'host') return destination.startsWith('127.') ? '127.0.0.1' : destination === '::1' ? '::1' : plan.nodeAddress;
    if (origin === 'pod') return secondHost(plan.podCIDR);
    return isV6(destination) ? '2001:db8:113::10' : '203.0.113.10';
  }

  /** Empties the node's tables and ipsets and forgets tracked connections, before a new load. */
  private async reset(): Promise<void> {
    await run('ip', ['netns', 'exec', this.ns.node, 'iptables-restore'], { input: emptyRuleset() });
    if (this.topology.v6 && haveTool('ip6tables-restore'))
      await run('ip', ['netns', 'exec', this.ns.node, 'ip6tables-restore'], { input: emptyRuleset(), allowFailure: true });
    // nft tables (kube-proxy's, and any other): gone with the whole ruleset; iptables reloads its own.
    if (haveTool('nft')) await run('ip', ['netns', 'exec', this.ns.node, 'nft', 'flush', 'ruleset'], { allowFailure: true });
    if (haveTool('ipset')) await run('ip', ['netns', 'exec', this.ns.node, 'ipset', 'destroy'], { allowFailure: true });
    if (haveTool('conntrack')) await this.flushConntrack();
  }

  private assertOpen(): void {
    if (this.closed) throw new LabError('lab is closed');
  }
}
