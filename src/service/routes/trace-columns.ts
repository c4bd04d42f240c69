// The binary form of POST /v1/rulesets/{id}/trace (src/engine/columns-wire.ts): the body is
// copied once into shared memory, checked, and walked by a worker as typed-array views; the
// answer goes back as bytes. No JSON and no object per packet on either side.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';
import type { Landfall } from '../landfall.js';
import { refOf } from '../protocol.js';
import { packetsProblem, RESULTS_TYPE } from '../../engine/columns-wire.js';

export async function traceColumnsRoute(lf: Landfall, id: string, body: Buffer, reply: FastifyReply): Promise<FastifyReply> {
  const problem = packetsProblem(body.buffer, body.byteOffset, body.byteLength);
  if (problem) throw new ApiError('invalid-field', problem, { field: 'body' });
  const packets = new SharedArrayBuffer(body.byteLength);
  new Uint8Array(packets).set(body);
  const entry = await lf.ruleset(id);
  const { binary } = await lf.run({ op: 'traceColumns', ruleset: refOf(entry), packets }, 'body');
  return reply.status(200).type(RESULTS_TYPE).send(Buffer.from(binary!.buffer, binary!.byteOffset, binary!.byteLength));
}

/** Like requireJson, but also lets one other media type through. */
export function requireJsonOr(other: string) {
  return async (req: FastifyRequest): Promise<void> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json' && type !== other) {
      throw new ApiError('unsupported-media-type', `this route takes application/json or ${other}, not ${type || 'no content type'}`);
    }
  };
}
