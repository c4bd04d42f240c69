// POST /v1/scale, GET /v1/scale/{job}, DELETE /v1/scale/{job}: the chain-scaling lab as a job
// (DESIGN.md "HTTP"), the same run as `landfall scale`. A job can take minutes, so POST answers
// 202 at once with the job's status URL; GET shows percent, the points finished so far and, at
// the end, the result; DELETE cancels. The work runs in worker threads (src/scale/run.ts), so
// the event loop keeps serving. Jobs live in this process only: a restart forgets them.

import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import { JobQueueFull, ScaleJobs, type JobsOptions, type JobStatus } from '../../scale/jobs.js';
import { ScaleOptionsError } from '../../scale/options.js';
import { LIMITS, type ScaleOptions } from '../../scale/types.js';
import { ApiError, problem } from '../errors.js';
import { COMMON, errors, requireJson } from './common.js';

const Fraction = (description: string) => Type.Number({ minimum: 0, maximum: 1, description });

export const ScaleRequest = Type.Object(
  {
    services: Type.Array(Type.Integer({ minimum: 1, maximum: LIMITS.services }), {
      minItems: 1,
      maxItems: LIMITS.points,
      description: 'service counts, one point per count and mode',
    }),
    endpoints: Type.Integer({ minimum: 0, maximum: LIMITS.endpoints, description: 'endpoints per service' }),
    modes: Type.Optional(
      Type.Array(Type.Union([Type.Literal('iptables'), Type.Literal('ipvs'), Type.Literal('nftables')]), { minItems: 1, maxItems: 3, description: 'default iptables and ipvs' }),
    ),
    packets: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.packets, description: 'packets per point (default 5000)' })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
    kernel: Type.Optional(Type.Boolean({ description: 'also measure the kernel in a network namespace (needs root)' })),
    kernelConnects: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.kernelConnects })),
    mix: Type.Optional(
      Type.Object(
        {
          clusterIP: Type.Optional(Fraction('share of ClusterIP-only services')),
          nodePort: Type.Optional(Fraction('share of NodePort services')),
          loadBalancer: Type.Optional(Fraction('share of LoadBalancer services')),
          etpLocal: Type.Optional(Fraction('share of external services with externalTrafficPolicy Local')),
          affinity: Type.Optional(Fraction('share of services with ClientIP affinity')),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
type ScaleRequestT = Static<typeof ScaleRequest>;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Counts = Type.Object({ mean: Type.Number(), p50: Type.Number(), p99: Type.Number(), max: Type.Number() });
const Latency = Type.Object({ attempted: Type.Integer(), answered: Type.Integer(), p50Us: Nullable(Type.Number()), p99Us: Nullable(Type.Number()) });

const ScalePointSchema = Type.Object({
  mode: Type.Union([Type.Literal('iptables'), Type.Literal('ipvs'), Type.Literal('nftables')]),
  services: Type.Integer(),
  endpoints: Type.Integer(),
  rules: Nullable(Type.Integer()),
  dumpBytes: Nullable(Type.Integer()),
  generateMs: Nullable(Type.Number()),
  parseMs: Nullable(Type.Number()),
  compileMs: Nullable(Type.Number()),
  rulesEvaluated: Nullable(Counts),
  nsPerPacket: Type.Object({ wasm: Nullable(Type.Number()), reference: Nullable(Type.Number()) }),
  packets: Type.Integer(),
  traffic: Type.Record(Type.String(), Type.Integer()),
  wasmHostShare: Nullable(Type.Number({ description: 'share of packets the WASM engine handed to the reference walk' })),
  mismatches: Nullable(Type.Integer()),
  memory: Nullable(Type.Object({ heapBytes: Type.Integer(), compiledBytes: Type.Integer() })),
  kernel: Nullable(
    Type.Object({
      restoreMs: Nullable(Type.Number()),
      empty: Nullable(Latency),
      loaded: Nullable(Latency),
      addedP50Us: Nullable(Type.Number()),
      error: Nullable(Type.String()),
    }),
  ),
  loadAverage: Nullable(Type.Number({ description: "the machine's 1-minute load average when the point finished" })),
  notes: Type.Array(Type.String()),
  error: Nullable(Type.String()),
});

const JobStatusSchema = Type.Object({
  job: Type.String(),
  state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed'), Type.Literal('cancelled')]),
  percent: Type.Number(),
  progress: Nullable(
    Type.Object({
      point: Type.Integer(),
      points: Type.Integer(),
      mode: Nullable(Type.String()),
      services: Nullable(Type.Integer()),
      phase: Type.String(),
    }),
  ),
  points: Type.Array(ScalePointSchema),
  result: Nullable(Type.Object({ points: Type.Array(ScalePointSchema) })),
  error: Nullable(Type.String()),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
});

const Accepted = Type.Object({
  job: Type.String(),
  state: Type.String(),
  status: Type.String({ description: 'URL to poll: GET it for progress and the result' }),
});

const JobParams = Type.Object({ job: Type.String({ pattern: '^[0-9a-f-]{36}$', description: 'job id from POST /v1/scale' }) }, { additionalProperties: false });

function notFound(reply: FastifyReply, job: string): FastifyReply {
  const p = problem('scale-job-not-found', `no scale job ${job} (finished jobs are kept for a while, then forgotten)`);
  return reply.status(p.status).type('application/problem+json').send(JSON.stringify(p));
}

function toOptions(body: ScaleRequestT): ScaleOptions {
  const o: ScaleOptions = { services: body.services, endpoints: body.endpoints, modes: body.modes ?? ['iptables', 'ipvs'] };
  if (body.packets !== undefined) o.packets = body.packets;
  if (body.seed !== undefined) o.seed = body.seed;
  if (body.kernel !== undefined) o.kernel = body.kernel;
  if (body.kernelConnects !== undefined) o.kernelConnects = body.kernelConnects;
  if (body.mix !== undefined) o.mix = body.mix;
  return o;
}

const statusUrl = (s: JobStatus): string => `/v1/scale/${s.job}`;

/** Registers the scale routes; `opts.jobs` lets tests bound or substitute the job registry. */
export default async function scaleRoutes(appIn: FastifyInstance, opts: { jobs?: JobsOptions } = {}): Promise<void> {
  const app = appIn.withTypeProvider<TypeBoxTypeProvider>();
  const jobs = new ScaleJobs(opts.jobs);
  app.addHook('onClose', async () => jobs.close());

  app.post(
    '/v1/scale',
    {
      preValidation: requireJson,
      schema: {
        summary: 'Start a chain-scaling job',
        description:
          'Generates kube-proxy rule sets of each size in each mode, walks a packet mix through them and reports rules walked per first packet and per-packet time (as `landfall scale --json`). Answers 202 at once; poll the status URL.',
        tags: ['scale'],
        body: ScaleRequest,
        response: { 202: Accepted, ...errors(...COMMON, 415) },
      },
    },
    async (req, reply) => {
      let s: JobStatus;
      try {
        s = jobs.submit(toOptions(req.body));
      } catch (e) {
        if (e instanceof ScaleOptionsError) throw new ApiError(e.code, e.message, { field: `body/${e.field.replace(/\[(\d+)\]/g, '/$1').replace(/\./g, '/')}` });
        if (e instanceof JobQueueFull) throw new ApiError(e.code, e.message, {}, 30);
        throw e;
      }
      return reply.status(202).header('location', statusUrl(s)).send({ job: s.job, state: s.state, status: statusUrl(s) });
    },
  );

  app.get(
    '/v1/scale/:job',
    {
      schema: {
        summary: 'A scaling job: progress, points so far, result',
        tags: ['scale'],
        params: JobParams,
        response: { 200: JobStatusSchema, ...errors(...COMMON, 404) },
      },
    },
    async (req, reply) => {
      const s = jobs.get(req.params.job);
      return s ? reply.send(s) : notFound(reply, req.params.job);
    },
  );

  app.delete(
    '/v1/scale/:job',
    {
      schema: {
        summary: 'Cancel a scaling job (or forget a finished one)',
        description: 'A queued or running job is cancelled and stays visible as `cancelled`; a finished job is forgotten. Answers with its last status.',
        tags: ['scale'],
        params: JobParams,
        response: { 200: JobStatusSchema, ...errors(...COMMON, 404) },
      },
    },
    async (req, reply) => {
      const s = jobs.cancel(req.params.job);
      return s ? reply.send(s) : notFound(reply, req.params.job);
    },
  );
}
