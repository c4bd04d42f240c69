// The node snapshot (DESIGN.md "A node snapshot"): one JSON document holding everything landfall
// reads from a node, each tool's output verbatim. `landfall collect` and its POSIX shell twin
// write it; loadRuleset, POST /v1/rulesets and `--snapshot FILE` read it.

import { Type, type Static } from 'typebox';

export const SNAPSHOT_FORMAT = 'landfall-snapshot/1';

const Output = (what: string) => Type.Optional(Type.String({ description: `${what}, as the tool printed it` }));

export const NodeSnapshot = Type.Object(
  {
    format: Type.Literal(SNAPSHOT_FORMAT),
    hostname: Type.Optional(Type.String({ maxLength: 253, description: 'hostname' })),
    kernel: Type.Optional(Type.String({ maxLength: 256, description: 'uname -r' })),
    takenAt: Type.Optional(Type.String({ maxLength: 64, description: 'when it was taken (ISO 8601, UTC)' })),
    iptables: Output('iptables-save'),
    ip6tables: Output('ip6tables-save'),
    nftables: Output('nft -j list ruleset'),
    ipvs: Output('ipvsadm-save -n'),
    ipsets: Output('ipset save'),
    addresses: Output('ip -j addr'),
    routes: Output('ip -j -4 route show table all, then ip -j -6 route show table all'),
    rules: Output('ip -j -4 rule, then ip -j -6 rule'),
    notes: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 100, description: 'what the collector left out, and why' })),
  },
  { $id: 'NodeSnapshot', additionalProperties: false, description: "Everything landfall reads from a node, as `landfall collect` writes it." },
);

export type NodeSnapshotT = Static<typeof NodeSnapshot>;
