// Route helpers: the error responses every route documents, and the media-type gate.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../errors.js';
import { Problem, ref } from '../schemas.js';

const P = () => ref(Problem);

/** Error responses for the OpenAPI document, by status (each an application/problem+json Problem). */
export function errors(...statuses: number[]): Record<number, ReturnType<typeof P>> {
  const out: Record<number, ReturnType<typeof P>> = {};
  for (const s of statuses) out[s] = P();
  return out;
}

/** Errors any /v1 route can give besides its own. */
export const COMMON = [400, 401, 500, 503] as const;

/** Routes whose body must be JSON: another parseable type (text/plain) is still a 415 here. */
export async function requireJson(req: FastifyRequest): Promise<void> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError('unsupported-media-type', `this route takes application/json, not ${type || 'no content type'}`);
  }
}

/** Sends JSON the worker already serialized. */
export function sendJson(reply: FastifyReply, json: string, status = 200): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(json);
}

export const Deleted = Type.Object({ id: Type.String(), deleted: Type.Literal(true) });
