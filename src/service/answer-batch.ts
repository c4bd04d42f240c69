// A batch of explain answers as UTF-8 in one transferable buffer (the worker's explainBatch): one
// allocation and one transfer per batch, not one per answer (each costs more than encoding the
// answer; src/service/answer-cache.ts keeps the views as they are).

import { JsonBytes } from '../engine/explain-json.js';
import { toFault, type WorkerFault } from './errors.js';
import type { BatchAnswers } from './protocol.js';

/**
 * Where a batch's answers are encoded, reused from batch to batch (grown for a large batch, and
 * given back after one over STAGING_KEEP): the batch's answers are then copied at once into one
 * buffer of its own.
 */
const STAGING_KEEP = 4 << 20;
let staging = new JsonBytes();

/**
 * Each query's JSON answer, written by `write` at out.at (it throws for a query it cannot answer:
 * that query's fault, the others still run), as views into one buffer made for the batch (not
 * Node's shared pool: it is transferred).
 */
export function encodeAnswers<Q>(queries: readonly Q[], write: (out: JsonBytes, q: Q) => void): BatchAnswers {
  const out = staging;
  out.at = 0;
  const ends: number[] = [];
  const faults: (WorkerFault | null)[] = [];
  for (const q of queries) {
    const start = out.at;
    try {
      write(out, q);
      ends.push(out.at);
      faults.push(null);
    } catch (err) {
      out.at = start;
      ends.push(-1);
      faults.push(toFault(err));
    }
  }
  const bytes = Buffer.allocUnsafeSlow(out.at);
  out.buf.copy(bytes, 0, 0, out.at);
  if (out.buf.length > STAGING_KEEP) staging = new JsonBytes();
  let start = 0;
  const answers = ends.map((end) => {
    if (end < 0) return null;
    const view = bytes.subarray(start, end);
    start = end;
    return view;
  });
  return { answers, faults };
}

/** One answer, written by `write`, as UTF-8 in a buffer of its own (transferred); throws what `write` throws. */
export function encodeAnswer(write: (out: JsonBytes) => void): Uint8Array {
  const out = staging;
  out.at = 0;
  write(out);
  const bytes = Buffer.allocUnsafeSlow(out.at);
  out.buf.copy(bytes, 0, 0, out.at);
  if (out.buf.length > STAGING_KEEP) staging = new JsonBytes();
  return bytes;
}
