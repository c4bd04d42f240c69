// POST /v1/explain: upload and explain in one request, for a one-off question. The ruleset is
// not stored; the worker that parses it keeps it cached like any other.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { encodeInput } from '../store.js';
import { ExplainResult, OneShotExplainBody, ref } from '../schemas.js';
import { checkNode, checkQuery } from '../validate.js';
import { COMMON, errors, requireJson, sendJson } from './common.js';

export const explainRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const lf = app.landfall;
  app.post(
    '/v1/explain',
    {
      bodyLimit: lf.config.bodyLimit,
      preValidation: requireJson,
      schema: {
        summary: 'One-shot: a ruleset and a query',
        tags: ['explain'],
        body: ref(OneShotExplainBody),
        response: { 200: ref(ExplainResult), ...errors(...COMMON, 413, 415, 422) },
      },
    },
    async (req, reply) => {
      checkNode(req.body.ruleset.node, 'body/ruleset/node');
      checkQuery(req.body.query, 'body/query');
      const input = encodeInput(req.body.ruleset);
      const { json } = await lf.run({ op: 'explain', ruleset: { id: null, input }, query: req.body.query }, 'body/query');
      return sendJson(reply, json);
    },
  );
};
