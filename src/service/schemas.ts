// The HTTP contract (DESIGN.md): the core's TypeBox contracts (src/model/contracts.ts, the one
// definition the library uses too) plus the shapes only HTTP has — the ruleset summary, problem
// details, route params and request bodies. Each named schema carries an $id: the app registers
// them once with addSchema and routes point at them with `ref()`, so the OpenAPI document gets
// named components instead of copies.

import { Type, type Static, type TSchema } from 'typebox';
import {
  ExplainResult,
  NodeInput,
  NodeSnapshot,
  Outcome,
  PathStep,
  Query,
  RulesetBundle,
  RulesetStats,
  Service,
  TraceResult,
  UploadOptions,
  ref,
} from '../model/contracts.js';

export { ExplainResult, NodeInput, NodeSnapshot, Outcome, PathStep, Query, RulesetBundle, RulesetStats, Service, TraceResult, UploadOptions, ref };

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
  NodeSnapshot,
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

export type TraceBodyT = Static<typeof TraceBody>;
export type ProblemT = Static<typeof Problem>;
export type RulesetSummaryT = Static<typeof RulesetSummary>;
