// /v1/rulesets: upload (JSON bundle or text/plain iptables-save), summary, forget, services,
// explain and trace on a stored ruleset. Handlers only route: parsing, walking and JSON
// serialization of answers happen in the workers.

import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { canonicalJson } from '../../model/canonical-json.js';
import { refOf } from '../protocol.js';
import { idOf, type StoredRuleset } from '../store.js';
import { compileInput, withCompiled } from '../load.js';
import {
  ExplainResult,
  IdParams,
  NodeSnapshot,
  Query,
  RulesetBundle,
  RulesetSummary,
  Service,
  TraceBody,
  TraceResult,
  UploadOptions,
  ref,
  type RulesetSummaryT,
} from '../schemas.js';
import { checkNode, checkQuery } from '../validate.js';
import { COMMON, Deleted, errors, requireJson, sendJson, sendJsonBytes, sendJsonStream } from './common.js';
import { PACKETS_TYPE, RESULTS_TYPE } from '../../engine/columns-wire.js';
import { requireJsonOr, traceColumnsRoute } from './trace-columns.js';
import { createReadStream } from 'node:fs';
import { collectIfExposed } from '../gc.js';
import { streamJsonInput, streamTextInput } from '../upload-stream.js';
import type { JsonStreamReader } from '../json-stream.js';
import type { FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { isWholeShared, sharedSection, sharedServicesJson } from '../../shared-ruleset.js';

export const rulesetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const lf = app.landfall;
  const summary = (e: StoredRuleset): RulesetSummaryT => ({
    id: e.id,
    // Produced by the library's loadRuleset (RulesetStats); the store keeps it opaque.
    stats: e.stats as RulesetSummaryT['stats'],
    warnings: e.warnings,
    bytes: e.inputBytes,
    aliases: lf.store.aliasesOf(e.id),
  });

  // The upload in a context of its own, so its bodies stream (upload-stream.ts) and no other
  // route's do: text/plain straight into the canonical bundle bytes (the parsed body is '', what
  // the text/plain schema checks; the bytes wait in `streamed` for the handler), JSON parsed as it
  // arrives (json-stream.ts): the route's schema validates the parsed body, whose dump strings are
  // markers, and the handler has the reader encode it with the dumps in place. Both under the
  // route's limit.
  await app.register(async (ctx) => {
    const up = ctx.withTypeProvider<TypeBoxTypeProvider>();
    const streamed = new WeakMap<object, SharedArrayBuffer>();
    const readers = new WeakMap<object, JsonStreamReader>();
    const limitOf = (req: FastifyRequest) => ({ limit: req.routeOptions.bodyLimit ?? lf.config.bodyLimit, contentLength: req.headers['content-length'] });
    up.removeContentTypeParser(['text/plain', 'application/json']);
    up.addContentTypeParser('text/plain', async (req: FastifyRequest, payload: IncomingMessage) => {
      lf.pool.prepareLoad();
      const input = await streamTextInput(payload, { ...limitOf(req), lenient: (req.query as { lenient?: string }).lenient === 'true' });
      streamed.set(req, input);
      return '';
    });
    up.addContentTypeParser('application/json', async (req: FastifyRequest, payload: IncomingMessage) => {
      lf.pool.prepareLoad();
      const { value, reader } = await streamJsonInput(payload, limitOf(req));
      readers.set(req, reader);
      return value;
    });

    up.post(
      '/v1/rulesets',
      {
        bodyLimit: lf.config.bodyLimit,
        schema: {
          summary: 'Upload a node dump',
          description:
            'A JSON bundle, a node snapshot (what `landfall collect` writes, told apart by its `format`), or the output of iptables-save as text/plain. The id is the SHA-256 of the normalized input, so the same dump gets the same id on any replica.',
          tags: ['rulesets'],
          querystring: UploadOptions,
          // Per-media-type bodies: JSON is the bundle, text/plain is the iptables-save text itself.
          body: {
            content: {
              'application/json': { schema: Type.Union([ref(RulesetBundle), ref(NodeSnapshot)]) },
              'text/plain': { schema: Type.String({ description: 'iptables-save (or iptables -S) output, or nft list ruleset text, told apart by content' }) },
            },
          } as unknown as typeof RulesetBundle,
          response: { 201: ref(RulesetSummary), ...errors(...COMMON, 413, 415, 422) },
        },
      },
      async (req, reply) => {
        // text/plain arrived as the canonical bytes already (streamed: upload-stream.ts); JSON as the
        // validated bundle, its dumps waiting in the reader's shared memory.
        let input = streamed.get(req);
        if (!input) {
          const body = req.body as RulesetBundle | NodeSnapshot;
          // A snapshot as the whole body is stored as the bundle that holds it: one input shape for the workers.
          const bundle: RulesetBundle = 'format' in body ? { snapshot: body } : (body as RulesetBundle);
          checkNode(bundle.node, 'body/node');
          // The canonical bytes and their one hash: the id, known before any parsing.
          input = readers.get(req)!.encode(bundle, { lenient: req.query.lenient === 'true' });
        }
        const id = idOf(input);
        const entry = await lf.uploads.once(id, async () => {
          // The same node again: answer from the store without parsing.
          const known = await lf.store.get(id);
          if (known) return withCompiled(lf, known);
          const fresh = await compileInput(lf, id, input);
          await lf.store.put(fresh);
          // Every worker opens it now, so the first answer each gives after 201 pays no open.
          await lf.pool.openEverywhere(refOf(fresh));
          return fresh;
        });
        // Once the answer is out, the body, its canonical bytes and the whole compiled form are
        // garbage; collected a little later, so the collection does not delay the first requests.
        reply.raw.once('finish', () => setTimeout(collectIfExposed, 2000).unref());
        return reply.status(201).send(summary(entry));
      },
    );
  });

  app.get(
    '/v1/rulesets/:id',
    {
      schema: {
        summary: 'A stored ruleset',
        tags: ['rulesets'],
        params: IdParams,
        response: { 200: ref(RulesetSummary), ...errors(...COMMON, 404) },
      },
    },
    async (req) => summary(await lf.ruleset(req.params.id)),
  );

  app.delete(
    '/v1/rulesets/:id',
    {
      schema: {
        summary: 'Forget a ruleset',
        description: 'Removes it from memory and the data directory. The alias `example` can be deleted until the next start.',
        tags: ['rulesets'],
        params: IdParams,
        response: { 200: Deleted, ...errors(...COMMON, 404) },
      },
    },
    async (req) => {
      const entry = await lf.ruleset(req.params.id);
      await lf.store.delete(entry.id);
      return { id: entry.id, deleted: true as const };
    },
  );

  app.get(
    '/v1/rulesets/:id/services',
    {
      schema: {
        summary: 'kube-proxy services found in the rules',
        tags: ['rulesets'],
        params: IdParams,
        response: { 200: Type.Object({ services: Type.Array(ref(Service)) }), ...errors(...COMMON, 404) },
      },
    },
    async (req, reply) => {
      const entry = await lf.ruleset(req.params.id);
      // Computed once, when the ruleset was compiled, and kept in its shared form: sent as those
      // bytes from here (memory, or the compiled file once the store keeps only the resident
      // part), without a worker round trip or a copy.
      if (isWholeShared(entry.shared!)) return sendJsonBytes(reply, sharedServicesJson(entry.shared!));
      const { at, length } = sharedSection(entry.shared!, 'blob');
      return sendJsonStream(reply, createReadStream(entry.compiledFile!, { start: at, end: at + length - 1 }), length);
    },
  );

  app.post(
    '/v1/rulesets/:id/explain',
    {
      preValidation: requireJson,
      schema: {
        summary: 'Where does this packet land?',
        description: 'Every path the packet can take, with probabilities, rule lines, NAT and verdict.',
        tags: ['explain'],
        params: IdParams,
        body: ref(Query),
        response: { 200: ref(ExplainResult), ...errors(...COMMON, 404, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      checkQuery(req.body, 'body');
      const entry = await lf.ruleset(req.params.id);
      const key = `${entry.id} ${canonicalJson(req.body)}`;
      const cached = lf.answers.get(key);
      if (cached !== undefined) return sendJson(reply, cached);
      const { json } = await lf.run({ op: 'explain', ruleset: refOf(entry), query: req.body }, 'body');
      lf.answers.set(key, json);
      return sendJson(reply, json);
    },
  );

  // Columnar batch trace travels as raw bytes (src/engine/columns-wire.ts).
  app.addContentTypeParser(PACKETS_TYPE, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/rulesets/:id/trace',
    {
      preValidation: requireJsonOr(PACKETS_TYPE),
      schema: {
        summary: 'Sample one outcome per packet',
        description:
          'The hot path: a batch of packets walked with one seeded PRNG stream (mulberry32), nth counters and recent lists carried across the batch in order. ' +
          `Many packets cheaply: send \`${PACKETS_TYPE}\` (packets as little-endian columns: a 16-byte header "LFP1", count, seed, 0; then u8 family[n], u8 protocol[n], u8 origin[n] (0 external, 1 pod, 2 host), pad to 4, u16 sourcePort[n], u16 port[n], pad to 4, u32×4 source[n], u32×4 destination[n]) ` +
          `and get \`${RESULTS_TYPE}\` back ("LFR1", count, 0, 0; u8 verdict[n] (0 accept, 1 drop, 2 reject), u8 masquerade[n], pad, u16 port[n], pad, u32 rulesEvaluated[n], u32×4 endpoint address[n], u32×4 source[n]), the same answers as the JSON form for the same packets and seed.`,
        tags: ['explain'],
        params: IdParams,
        body: {
          content: {
            'application/json': { schema: ref(TraceBody) },
            [PACKETS_TYPE]: { schema: { description: 'Packets as columns (see the description); every packet names its source and ports.' } },
          },
        } as unknown as typeof TraceBody,
        response: {
          200: {
            description: 'One result per packet, in order',
            content: {
              'application/json': { schema: Type.Object({ results: Type.Array(ref(TraceResult)) }) },
              [RESULTS_TYPE]: { schema: { description: 'Results as columns (see the description)' } },
            },
          },
          ...errors(...COMMON, 404, 413, 415),
        } as unknown as Record<number, unknown>,
      },
    },
    async (req, reply) => {
      if (Buffer.isBuffer(req.body)) return traceColumnsRoute(lf, req.params.id, req.body, reply);
      const body = req.body as { packets: Query[]; seed?: number };
      body.packets.forEach((q, i) => checkQuery(q, `body/packets/${i}`));
      const entry = await lf.ruleset(req.params.id);
      const { json } = await lf.run({
        op: 'trace',
        ruleset: refOf(entry),
        packets: body.packets,
        ...(body.seed === undefined ? {} : { seed: body.seed }),
      }, 'body/packets');
      return sendJson(reply, json);
    },
  );
};
