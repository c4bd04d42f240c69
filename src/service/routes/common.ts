// Route helpers: the error responses every route documents, and the media-type gate.

import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ApiError } from '../errors.js';
import { Problem, ref } from '../schemas.js';

const reasons: Record<number, string> = {
  400: 'Schema violation or malformed field (`field` names it)',
  401: 'Missing or wrong bearer token (when LANDFALL_TOKEN is set)',
  404: 'Unknown ruleset id',
  413: 'Body over LANDFALL_BODY_LIMIT',
  415: 'Unsupported media type',
  422: 'The dump does not parse (`line`, `column`, `text`), or explain hit its path cap (`maxPaths`)',
  500: 'Internal error or the worker running the request died',
  503: 'Queue full, task time limit, event loop under pressure, or still starting (Retry-After)',
};

/** An error response: application/problem+json with the Problem schema. */
type ErrorResponse = { description: string; content: { 'application/problem+json': { schema: ReturnType<typeof ref> } } };

/** Error responses for the OpenAPI document, by status. */
export function errors(...statuses: number[]): Record<number, ErrorResponse> {
  const out: Record<number, ErrorResponse> = {};
  for (const s of statuses) {
    out[s] = { description: reasons[s] ?? 'Error', content: { 'application/problem+json': { schema: ref(Problem) } } };
  }
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

/** Sends JSON the worker already serialized (a string, or UTF-8 bytes sent as they are). */
export function sendJson(reply: FastifyReply, json: string | Buffer, status = 200): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(json);
}

/**
 * Sends JSON that already exists as UTF-8 bytes, a view into shared memory included: nothing is
 * copied or decoded. (Fastify sends only ArrayBuffer-backed bytes as they are and would serialize a
 * SharedArrayBuffer view as an object, so the bytes go as a one-chunk stream of known length.)
 */
export function sendJsonBytes(reply: FastifyReply, bytes: Uint8Array, status = 200): FastifyReply {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return sendJsonStream(reply, Readable.from([buf], { objectMode: false }), buf.byteLength, status);
}

/** Sends JSON bytes from a stream (a file range) of known length. */
export function sendJsonStream(reply: FastifyReply, body: Readable, length: number, status = 200): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').header('content-length', String(length)).send(body);
}

export const Deleted = Type.Object({ id: Type.String(), deleted: Type.Literal(true) });
