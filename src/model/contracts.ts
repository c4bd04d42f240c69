// The JSON contracts of DESIGN.md — queries, node context, bundles, answers, services, stats —
// written once, as TypeBox schemas. Each schema is also its TypeScript type (`Static<>`, same
// name), so the library, the engine, the CLI's --json output, the HTTP routes and the OpenAPI
// document all use this one definition. TypeBox is JSON Schema, not HTTP: the service registers
// the schemas that carry an `$id` as named OpenAPI components (service/schemas.ts).

import { Type, type Static, type TSchema } from 'typebox';

/**
 * A `$ref` to a schema with an `$id`, typed as the schema itself so `Static<>` and route handlers
 * still see the real type (TypeBox 1.x's own Ref is untyped by name). Whoever validates against
 * it must know the named schemas (the service registers them with addSchema).
 */
export function ref<T extends TSchema>(schema: T): T {
  const id = (schema as { $id?: string }).$id;
  if (!id) throw new Error('ref() needs a schema with an $id');
  return Type.Ref(id) as unknown as T;
}

export const Protocol = Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('sctp'), Type.Literal('icmp')]);
export type Protocol = Static<typeof Protocol>;
export const Origin = Type.Union([Type.Literal('external'), Type.Literal('pod'), Type.Literal('host')]);
export type Origin = Static<typeof Origin>;
export const Verdict = Type.Union([Type.Literal('accept'), Type.Literal('drop'), Type.Literal('reject')]);
export type Verdict = Static<typeof Verdict>;

const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const U32 = Type.Integer({ minimum: 0, maximum: 0xffffffff });
// Addresses are checked properly at the edge (ip-num) so the 400 can name the field; the schema
// only bounds the length so a megabyte "address" never reaches a parser.
const Address = Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 or IPv6 address' });
const Cidr = Type.String({ minLength: 1, maxLength: 64, description: 'IPv4 or IPv6 prefix, e.g. 10.244.0.0/16' });
const Interface = Type.String({ minLength: 1, maxLength: 32, description: 'interface name; a trailing `+` is a wildcard' });

/** Node context as given by a user (strings; validated at the edge). */
export const NodeInput = Type.Object(
  {
    addresses: Type.Optional(Type.Array(Address, { maxItems: 1024, description: 'node-local addresses (127.0.0.0/8 and ::1 always)' })),
    podCIDRs: Type.Optional(Type.Array(Cidr, { maxItems: 1024 })),
    interfaces: Type.Optional(
      Type.Object({ uplink: Type.Optional(Interface), pods: Type.Optional(Interface) }, { additionalProperties: false }),
    ),
    ipAddr: Type.Optional(
      Type.String({ description: '`ip -j addr` output: the node-local addresses (with the local routes) and each interface\'s own addresses (MASQUERADE\'s source).' }),
    ),
    ipRoute: Type.Optional(
      Type.String({
        description:
          '`ip -j -4 route show table all` and `ip -j -6 route show table all` (one or more JSON arrays in one string): the outgoing interface of every packet that leaves the node.',
      }),
    ),
    ipRule: Type.Optional(
      Type.String({ description: '`ip -j -4 rule` and `ip -j -6 rule` (one or more JSON arrays): policy routing (from/to/iif/fwmark lookups), as AWS VPC CNI uses for pods on secondary ENIs.' }),
    ),
  },
  { $id: 'NodeInput', additionalProperties: false, description: 'The node the dump came from.' },
);
export type NodeInput = Static<typeof NodeInput>;

/** The node snapshot's format tag: how a POST body is told to be a snapshot. */
export const SNAPSHOT_FORMAT = 'landfall-snapshot/1';

const ToolOutput = (what: string) => Type.Optional(Type.String({ description: `${what}, as the tool printed it` }));

/** A node snapshot document (`landfall collect`): every field but `format` optional, each string as the tool printed it. */
export const NodeSnapshot = Type.Object(
  {
    format: Type.Literal(SNAPSHOT_FORMAT),
    hostname: Type.Optional(Type.String({ maxLength: 253, description: 'hostname' })),
    kernel: Type.Optional(Type.String({ maxLength: 256, description: 'uname -r' })),
    takenAt: Type.Optional(Type.String({ maxLength: 64, description: 'when it was taken (RFC 3339, UTC)' })),
    iptables: ToolOutput('iptables-save'),
    ip6tables: ToolOutput('ip6tables-save'),
    nftables: ToolOutput('nft -j list ruleset'),
    ipvs: ToolOutput('ipvsadm-save -n'),
    ipsets: ToolOutput('ipset save'),
    addresses: ToolOutput('ip -j addr'),
    routes: ToolOutput('ip -j -4 route show table all, then ip -j -6 route show table all'),
    rules: ToolOutput('ip -j -4 rule, then ip -j -6 rule'),
    notes: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 100, description: 'what the collector left out, and why' })),
  },
  {
    $id: 'NodeSnapshot',
    additionalProperties: false,
    description: 'Everything landfall reads from one node, as `landfall collect` (or its shell twin) gathers it.',
  },
);
export type NodeSnapshot = Static<typeof NodeSnapshot>;

/** What a node gives us: DESIGN.md's ruleset body (the library's loadRuleset input). */
export const RulesetBundle = Type.Object(
  {
    iptables: Type.Optional(Type.String({ description: 'iptables-save output (IPv4), or `iptables -S` / `iptables -t TABLE -S` output' })),
    ip6tables: Type.Optional(Type.String({ description: 'ip6tables-save output' })),
    nftables: Type.Optional(
      Type.String({ description: '`nft list ruleset` text (`nft -a` handles allowed) or `nft -j list ruleset` JSON text, told apart by content' }),
    ),
    ipvs: Type.Optional(Type.String({ description: 'ipvsadm-save -n output' })),
    ipsets: Type.Optional(Type.String({ description: 'ipset save output' })),
    node: Type.Optional(ref(NodeInput)),
    snapshot: Type.Optional(ref(NodeSnapshot)),
  },
  {
    $id: 'RulesetBundle',
    additionalProperties: false,
    description: "A node's netfilter state: at least one of iptables, ip6tables, nftables, ipvs or snapshot.",
  },
);
export type RulesetBundle = Static<typeof RulesetBundle>;

/**
 * Upload options (POST /v1/rulesets query string). Query strings are text, so the flag is the
 * literal `true` or `false`; lenient uploads get their own id (the flag is part of what is hashed).
 */
export const UploadOptions = Type.Object({
  lenient: Type.Optional(
    Type.Union([Type.Literal('true'), Type.Literal('false')], {
      description:
        'Lenient (paste) mode, like the CLI\'s --lenient: skippable problems (a headerless fragment, elisions, prose, a missing COMMIT, undeclared chains) become warnings instead of a 422',
    }),
  ),
});
export type UploadOptions = Static<typeof UploadOptions>;

/** An earlier connection, for `recent --rcheck/--update` (session affinity). */
export const RecentEntry = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'recent list name, e.g. KUBE-SEP-XXXX' }),
    address: Address,
    secondsAgo: Type.Optional(Type.Number({ minimum: 0, description: 'seconds since it was last seen (default 0)' })),
    hits: Type.Optional(Type.Integer({ minimum: 0, description: 'how many hits the entry has (default 1)' })),
  },
  { additionalProperties: false },
);
export type RecentEntry = Static<typeof RecentEntry>;

const ConnState = Type.Union([
  Type.Literal('NEW'),
  Type.Literal('ESTABLISHED'),
  Type.Literal('RELATED'),
  Type.Literal('INVALID'),
  Type.Literal('UNTRACKED'),
]);

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
    state: Type.Optional(ConnState),
    icmpType: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    icmpCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    recent: Type.Optional(Type.Array(RecentEntry, { maxItems: 1024 })),
    activeConnections: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }))),
  },
  { $id: 'Query', additionalProperties: false, description: 'A packet to follow. Defaults are echoed back in ExplainResult.query.' },
);
export type Query = Static<typeof Query>;

/** The query as landfall resolved it: every default filled in, echoed in the answer. */
export const ResolvedQuery = Type.Object(
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
export type ResolvedQuery = Static<typeof ResolvedQuery>;

export const PathStep = Type.Object(
  {
    family: Type.Union([Type.Literal('ip'), Type.Literal('ip6'), Type.Literal('inet')], {
      description: 'netfilter family of the table: ip / ip6 for iptables, the nft table family for nftables',
    }),
    table: Type.String({ description: 'iptables table or nft table name (`ipvs` for the IPVS step)' }),
    chain: Type.String(),
    index: Type.Optional(Type.Integer({ description: '1-based position in the chain (absent for policy and IPVS steps)' })),
    line: Type.Integer({ description: 'line in the dump (nft JSON: 1-based index in its `nftables` array)' }),
    handle: Type.Optional(Type.Integer({ description: 'nft rule handle (nft JSON input)' })),
    rule: Type.String(),
    policy: Type.Optional(Type.String({ description: "set on a built-in chain's policy step" })),
    ipvs: Type.Optional(Type.String({ description: 'set on the IPVS scheduling step' })),
  },
  { $id: 'PathStep' },
);
export type PathStep = Static<typeof PathStep>;

/** An unknown condition an outcome (or a trace result) depends on, and the value it took there. */
export const Assumption = Type.Object({
  line: Type.Integer({ description: 'line of the rule that tests the condition' }),
  condition: Type.String({ description: 'the condition, readable' }),
  holds: Type.Boolean({ description: 'what this outcome assumes about it' }),
});
export type Assumption = Static<typeof Assumption>;

const UncertainRuleFields = {
  line: Type.Integer(),
  table: Type.String(),
  chain: Type.String(),
  rule: Type.String(),
  reason: Type.String(),
};

/** An unknown condition, listed once at the top of an answer. */
export const UncertainRule = Type.Object(UncertainRuleFields);
export type UncertainRule = Static<typeof UncertainRule>;

export const Outcome = Type.Object(
  {
    probability: Type.Number(),
    verdict: Verdict,
    endpoint: Type.String({ description: 'destination after DNAT ("ip:port", "[ip6]:port"); the original when nothing rewrote it' }),
    masquerade: Type.Boolean({ description: 'true when SNAT or MASQUERADE applied' }),
    source: Type.String({ description: 'source after SNAT/MASQUERADE' }),
    path: Type.Array(ref(PathStep), { description: 'the rules the packet matched, in order' }),
    assumes: Type.Array(Assumption, { description: 'the unknown conditions this outcome depends on, and their values' }),
    rulesEvaluated: Type.Integer({ description: 'rules the kernel would walk for this outcome' }),
    rejectWith: Type.Optional(Type.String({ description: "REJECT's --reject-with, when the verdict is reject" })),
    outInterface: Type.Optional(Type.String({ description: 'outgoing interface when the packet leaves the node' })),
    notes: Type.Optional(Type.Array(Type.String(), { description: 'notes specific to this outcome (IPVS persistence, gatewaying, …)' })),
  },
  { $id: 'Outcome' },
);
export type Outcome = Static<typeof Outcome>;

export const ExplainResult = Type.Object(
  {
    query: ResolvedQuery,
    outcomes: Type.Array(ref(Outcome)),
    uncertain: Type.Array(UncertainRule),
    warnings: Type.Array(Type.String()),
  },
  { $id: 'ExplainResult', description: 'Every way the packet can go, with probabilities summing to 1.' },
);
export type ExplainResult = Static<typeof ExplainResult>;

export const TraceResult = Type.Object(
  {
    verdict: Verdict,
    endpoint: Type.String(),
    masquerade: Type.Boolean(),
    source: Type.String(),
    rulesEvaluated: Type.Integer(),
    assumes: Type.Optional(Type.Array(Assumption, { description: 'unknown conditions drawn for this packet (only when any)' })),
  },
  { $id: 'TraceResult', description: 'One sampled outcome of one packet.' },
);
export type TraceResult = Static<typeof TraceResult>;

export const ServiceEndpoint = Type.Object({
  endpoint: Type.String({ description: '"ip:port" or "[ip6]:port"' }),
  probability: Type.Number({ description: 'chance a new connection to the cluster IP lands here' }),
  local: Type.Optional(Type.Boolean({ description: 'on this node' })),
});
export type ServiceEndpoint = Static<typeof ServiceEndpoint>;

/**
 * ok: traffic is DNATed to endpoints. no-endpoints: kube-proxy REJECTs it (filter rules, no nat
 * rules). no-local-endpoints: a Local traffic policy has no endpoint on this node, so that
 * traffic is DROPped (external: after the pod/node short-circuits of KUBE-EXT).
 */
export const ServiceStatus = Type.Union([Type.Literal('ok'), Type.Literal('no-endpoints'), Type.Literal('no-local-endpoints')]);
export type ServiceStatus = Static<typeof ServiceStatus>;

const TrafficPolicy = Type.Union([Type.Literal('Cluster'), Type.Literal('Local')]);

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
    externalTrafficPolicy: TrafficPolicy,
    internalTrafficPolicy: TrafficPolicy,
    affinitySeconds: Type.Optional(Type.Integer()),
    endpoints: Type.Array(ServiceEndpoint),
    status: ServiceStatus,
  },
  { $id: 'Service', description: 'A kube-proxy service found in the rules.' },
);
export type Service = Static<typeof Service>;

export const TableStats = Type.Object({ chains: Type.Integer(), rules: Type.Integer() });
export type TableStats = Static<typeof TableStats>;

export const RulesetStats = Type.Object(
  {
    rules: Type.Integer(),
    chains: Type.Integer(),
    tables: Type.Record(Type.String(), TableStats, {
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
export type RulesetStats = Static<typeof RulesetStats>;
