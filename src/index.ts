// landfall as a library (package "exports"): load a node's netfilter state, ask where packets land.
//
//   import { loadRuleset } from 'landfall';
//   const rs = loadRuleset({ iptables, ip6tables, ipvs, ipsets, node }, { engine: 'wasm' });
//   rs.explain({ protocol: 'tcp', destination: '10.96.0.10', port: 53 });

export { loadRuleset, rulesetId } from './ruleset.js';
export type { LoadedRuleset, LoadOptions, LoadStats } from './ruleset.js';
export { ParseError } from './parse/errors.js';
export { allocResults, columnsOf, resultAt, COLUMN_ORIGINS, COLUMN_VERDICTS } from './engine/columns.js';
export { decodeResults, encodePackets, PACKETS_TYPE, RESULTS_TYPE } from './engine/columns-wire.js';
export type { PacketColumns, ResultColumns } from './engine/columns.js';
export { QueryError } from './engine/packet.js';
export { PathExplosionError, DEFAULT_MAX_PATHS } from './engine/explain.js';
// The JSON contracts: each is a TypeBox schema (for validation) and the TypeScript type of the same name.
export {
  Assumption,
  ExplainResult,
  NodeInput,
  NodeSnapshot,
  Origin,
  Outcome,
  PathStep,
  Protocol,
  Query,
  RecentEntry,
  ResolvedQuery,
  RulesetBundle,
  RulesetStats,
  Service,
  ServiceEndpoint,
  ServiceStatus,
  TableStats,
  TraceResult,
  UncertainRule,
  Verdict,
} from './model/contracts.js';
