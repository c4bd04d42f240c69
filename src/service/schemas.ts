// TypeBox schemas of the HTTP contract (DESIGN.md), shared by the routes, the OpenAPI document,
// the CLI's --json output and the library docs. Each named schema carries an $id: the app
// registers them once with addSchema and routes point at them with `ref()`, so the OpenAPI
// document gets named components instead of copies.

import { Type, type Static, type TSchema } from 'typebox';

/**
 * A `$ref` to a registered schema, typed as the schema itself so route handlers still get the
 * static type (TypeBox 1.x's own Ref is untyped by name).
 */
export function ref<T extends TSchema>(schema: T): T {
  const id = (schema as { $id?: string }).$id;
  if (!id) throw new Error('ref() needs a schema with an $id');
  return Type.Ref(id) as unknown as T;
}

const Protocol = Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('sctp'), Type.Literal('icmp')]);
const Origin = Type.Union([Type.Literal('external'), Type.Literal('pod'), Type.Literal('host')]);
const Verdict = Type.Union([Type.Literal('accept'), Type.Literal('drop'), Type.Literal('reject')]);
const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const U32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });
// Addresses are checked properly at the edge (ip-num) so the 400 can name the field; the schema
// only bounds the length so a megabyte "address" never reaches a parser.
const Address = Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 or IPv6 address' });
const Cidr = Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 or IPv6 prefix, e.g. 10.244.0.0/16' });
const Interface = Type.String({ minLength: 1, maxLength: 32, description: 'interface name; a trailing `+` is a wildcard' });

export const NodeInput = Type.Object(
  {
    addresses: Type.Optional(Type.Array(Address, { maxItems: 1024, description: 'node-local addresses (127.0.0.0/8 and ::1 always)' })),
    podCIDRs: Type.Optional(Type.Array(Cidr, { maxItems: 1024 })),
    interfaces: Type.Optional(
      Type.Object({ uplink: Type.Optional(Interface), pods: Type.Optional(Interface) }, { additionalProperties: false }),
    ),
  },
  { $id: 'NodeInput', additionalProperties: false, description: 'The node the dump came from.' },
);

export const RulesetBundle = Type.Object(
  {
    iptables: Type.String({ description: 'iptables-save output (IPv4)' }),
    ip6tables: Type.Optional(Type.String({ description: 'ip6tables-save output' })),
    ipvs: Type.Optional(Type.String({ description: 'ipvsadm-save -n output' })),
    ipsets: Type.Optional(Type.String({ description: 'ipset save output' })),
    node: Type.Optional(ref(NodeInput)),
  },
  { $id: 'RulesetBundle', additionalProperties: false, description: "A node's netfilter state." },
);

const RecentEntry = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    address: Address,
    secondsAgo: Type.Optional(Type.Number({ minimum: 0 })),
    hits: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const Query = Type.Object(
  {
    protocol: Protocol,
    destination: Address,
    port: Type.Optional(Port),
    source: Type.Optional(Address),
    sourcePort: Type.Optional(Port),
    origin: Type.Optional(Origin),
    inInterface: Type.Optional(Interface),
    outInterface: Type.Optional(Interface),
    mark: Type.Optional(U32),
    connmark: Type.Optional(U32),
    state: Type.Optional(
      Type.Union(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED'].map((s) => Type.Literal(s))),
    ),
    icmpType: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    icmpCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    recent: Type.Optional(Type.Array(RecentEntry, { maxItems: 1024 })),
    activeConnections: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }))),
  },
  { $id: 'Query', additionalProperties: false, description: 'A packet to follow. Defaults are echoed back in ExplainResult.query.' },
);

const ResolvedQuery = Type.Object(
  {
    protocol: Protocol,
    family: Type.Union([Type.Literal(4), Type.Literal(6)]),
    destination: Type.String(),
    port: Type.Optional(Type.Integer()),
    source: Type.String(),
    sourcePort: Type.Optional(Type.Integer()),
    origin: Origin,
    inInterface: Type.Union([Type.String(), Type.Null()]),
    outInterface: Type.Union([Type.String(), Type.Null()]),
    mark: Type.Integer(),
    connmark: Type.Integer(),
    state: Type.String(),
    icmpType: Type.Optional(Type.Integer()),
    icmpCode: Type.Optional(Type.Integer()),
  },
  { description: 'The query with every default filled in.' },
);

export const PathStep = Type.Object(
  {
    table: Type.String(),
    chain: Type.String(),
    index: Type.Optional(Type.Integer({ description: '1-based position in the chain (absent for policy and IPVS steps)' })),
    line: Type.Integer({ description: 'line in the dump' }),
    rule: Type.String(),
    policy: Type.Optional(Type.String()),
    ipvs: Type.Optional(Type.String()),
  },
  { $id: 'PathStep' },
);

const UncertainRuleFields = {
  line: Type.Integer(),
  table: Type.String(),
  chain: Type.String(),
  rule: Type.String(),
  reason: Type.String(),
};

export const Outcome = Type.Object(
  {
    probability: Type.Number(),
    verdict: Verdict,
    endpoint: Type.String({ description: 'destination after DNAT ("ip:port", "[ip6]:port")' }),
    masquerade: Type.Boolean(),
    source: Type.String({ description: 'source after SNAT/MASQUERADE' }),
    path: Type.Array(ref(PathStep)),
    assumes: Type.Array(Type.Object({ line: Type.Integer(), condition: Type.String(), holds: Type.Boolean() })),
    rulesEvaluated: Type.Integer({ description: 'rules the kernel would walk for this outcome' }),
    rejectWith: Type.Optional(Type.String()),
    outInterface: Type.Optional(Type.String()),
    notes: Type.Optional(Type.Array(Type.String())),
  },
  { $id: 'Outcome' },
);

export const ExplainResult = Type.Object(
  {
    query: ResolvedQuery,
    outcomes: Type.Array(ref(Outcome)),
    uncertain: Type.Array(Type.Object(UncertainRuleFields)),
    warnings: Type.Array(Type.String()),
  },
  { $id: 'ExplainResult', description: 'Every way the packet can go, with probabilities summing to 1.' },
);

export const TraceResult = Type.Object(
  {
    verdict: Verdict,
    endpoint: Type.String(),
    masquerade: Type.Boolean(),
    source: Type.String(),
    rulesEvaluated: Type.Integer(),
    assumes: Type.Optional(Type.Array(Type.Object({ line: Type.Integer(), condition: Type.String(), holds: Type.Boolean() }))),
  },
  { $id: 'TraceResult', description: 'One sampled outcome of one packet.' },
);

export const Service = Type.Object(
  {
    name: Type.String({ description: 'kube-proxy service port name: "ns/name:port" ("ns/name" for an unnamed port)' }),
    namespace: Type.String(),
    protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('sctp')]),
    clusterIP: Type.String({ description: "'' when no rule shows it" }),
    port: Type.Integer({ description: 'the service port (the cluster IP destination port)' }),
    nodePort: Type.Optional(Type.Integer()),
    healthCheckNodePort: Type.Optional(Type.Integer({ description: 'eTP=Local LoadBalancer: the health-check port' })),
    externalIPs: Type.Array(Type.String()),
    loadBalancerIPs: Type.Array(Type.String()),
    sourceRanges: Type.Array(Type.String()),
    externalTrafficPolicy: Type.Union([Type.Literal('Cluster'), Type.Literal('Local')]),
    internalTrafficPolicy: Type.Union([Type.Literal('Cluster'), Type.Literal('Local')]),
    affinitySeconds: Type.Optional(Type.Integer()),
    endpoints: Type.Array(
      Type.Object({
        endpoint: Type.String({ description: '"ip:port" or "[ip6]:port"' }),
        probability: Type.Number({ description: 'chance a new connection to the cluster IP lands here' }),
        local: Type.Optional(Type.Boolean({ description: 'on this node' })),
      }),
    ),
    status: Type.Union([Type.Literal('ok'), Type.Literal('no-endpoints'), Type.Literal('no-local-endpoints')]),
  },
  { $id: 'Service', description: 'A kube-proxy service found in the rules.' },
);

export const RulesetStats = Type.Object(
  {
    rules: Type.Integer(),
    chains: Type.Integer(),
    tables: Type.Record(Type.String(), Type.Object({ chains: Type.Integer(), rules: Type.Integer() }), {
      description: 'per family and table, keyed "v4/nat", "v6/filter", …',
    }),
    ipvsServices: Type.Integer(),
    ipvsRealServers: Type.Integer(),
    ipsets: Type.Integer(),
    ipsetEntries: Type.Integer(),
    bytes: Type.Integer({ description: 'UTF-8 size of all inputs' }),
  },
  { $id: 'RulesetStats' },
);

export const RulesetSummary = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the normalized input' }),
    stats: ref(RulesetStats),
    warnings: Type.Array(Type.String()),
    bytes: Type.Integer({ description: 'size of the stored input' }),
    aliases: Type.Array(Type.String({ description: 'other names for this ruleset (`example`)' })),
  },
  { $id: 'RulesetSummary' },
);

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'stable machine-readable error code' }),
    instance: Type.Optional(Type.String()),
    line: Type.Optional(Type.Integer({ description: 'parse errors: 1-based line' })),
    column: Type.Optional(Type.Integer({ description: 'parse errors: 1-based column' })),
    source: Type.Optional(Type.String({ description: 'parse errors: which input (iptables, ip6tables, ipvs, ipsets)' })),
    text: Type.Optional(Type.String({ description: 'parse errors: the offending line, shortened' })),
    field: Type.Optional(Type.String({ description: 'the request field at fault' })),
    maxPaths: Type.Optional(Type.Integer({ description: 'path explosion: the cap that was hit' })),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json).', additionalProperties: true },
);

export const IdParams = Type.Object(
  {
    id: Type.String({
      pattern: '^([0-9a-f]{64}|example)$',
      description: 'ruleset id (64 lowercase hex) or the alias `example`',
    }),
  },
  { additionalProperties: false },
);

export const TraceBody = Type.Object(
  {
    packets: Type.Array(ref(Query), { minItems: 1, maxItems: 100_000 }),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff, description: 'PRNG seed (default 0: equal requests get equal answers)' })),
  },
  { $id: 'TraceRequest', additionalProperties: false },
);

export const OneShotExplainBody = Type.Object(
  { ruleset: ref(RulesetBundle), query: ref(Query) },
  { $id: 'OneShotExplainRequest', additionalProperties: false },
);

/** Every named schema, in registration order (a schema's refs come before it). */
export const namedSchemas: TSchema[] = [
  NodeInput,
  RulesetBundle,
  Query,
  PathStep,
  Outcome,
  ExplainResult,
  TraceResult,
  Service,
  RulesetStats,
  RulesetSummary,
  Problem,
  TraceBody,
  OneShotExplainBody,
];

export type NodeInputT = Static<typeof NodeInput>;
export type RulesetBundleT = Static<typeof RulesetBundle>;
export type QueryT = Static<typeof Query>;
export type TraceBodyT = Static<typeof TraceBody>;
export type ProblemT = Static<typeof Problem>;
export type RulesetSummaryT = Static<typeof RulesetSummary>;
