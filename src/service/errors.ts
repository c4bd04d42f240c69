// Errors as HTTP answers. Every failure leaves as RFC 9457 application/problem+json carrying a
// stable `code` from the one errors table (src/model/errors.ts); its problem type and status are
// derived from that code; nothing ever serializes a stack trace. Library errors cross the worker
// boundary as plain `WorkerFault` records keyed by code, and become problems on the main thread.

import type { FastifyError } from 'fastify';
import { ERRORS, LandfallError, isErrorCode, type ErrorCode, type ErrorDetails } from '../model/errors.js';

export { ERRORS, type ErrorCode };

export interface Problem extends ProblemExtras {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
}

/** Extra members a problem may carry (RFC 9457 extension members). */
export type ProblemExtras = ErrorDetails;

/** An error the service raises on purpose: it knows its code, so the answer is exact. */
export class ApiError extends LandfallError {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ErrorCode,
    detail: string,
    readonly extras: ProblemExtras = {},
    /** Seconds, for 503s: sent as Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(detail);
  }
  get status(): number {
    return ERRORS[this.code].status;
  }
  override report(): { detail: string; details: ErrorDetails } {
    return { detail: this.message, details: this.extras };
  }
}

/** The problem type of a code: a stable URN, one per row of the errors table. */
export function problemType(code: ErrorCode): string {
  return `urn:landfall:problem:${code}`;
}

export function problem(code: ErrorCode, detail: string, extras: ProblemExtras = {}): Problem {
  const { status, title } = ERRORS[code];
  return { type: problemType(code), title, status, detail, code, ...extras };
}

/**
 * A library error as it crosses the worker boundary (structured clone drops Error subclasses):
 * its code from the errors table, the detail to show, and the members the problem adds.
 */
export interface WorkerFault {
  code: ErrorCode;
  detail: string;
  details?: ErrorDetails;
}

/** A thrown error as a WorkerFault: landfall errors by their code; anything else is internal. */
export function toFault(err: unknown): WorkerFault {
  if (err instanceof LandfallError && isErrorCode(err.code)) {
    const { detail, details } = err.report();
    return { code: err.code, detail, details };
  }
  const e = err as { name?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // Not an error we know: report without internals; the main thread logs the message.
  return { code: 'internal', detail: `${typeof e?.name === 'string' ? e.name : 'Error'}: ${message}`.slice(0, 500) };
}

/** `fieldPrefix` places a query error's field in the request ("body/query" + "/destination"). */
export function faultToApiError(f: WorkerFault, fieldPrefix?: string): ApiError {
  const details: ProblemExtras = { ...f.details };
  if (details.field !== undefined && fieldPrefix) details.field = `${fieldPrefix}/${details.field}`;
  // Parse errors quote the offending line: bounded, so a hostile megabyte line stays out of answers.
  if (details.text !== undefined && details.text.length > 200) details.text = `${details.text.slice(0, 200)}…`;
  return new ApiError(f.code, f.detail, details);
}

/** Fastify's own error codes (body parsing, limits, validation) → our table. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad-request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid-json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid-json',
  FST_ERR_VALIDATION: 'bad-request',
};

/**
 * Any error thrown while handling a request → a problem. Unknown errors become a bare 500 whose
 * detail is generic: their message may quote internals, and it goes to the log instead.
 */
export function toProblem(err: unknown): { problem: Problem; retryAfter?: number; expected: boolean } {
  if (err instanceof LandfallError && isErrorCode(err.code)) {
    // Overload, timeouts and "not ready" are the service working as designed; only internal
    // errors, dead workers and a failing lab are unexpected.
    const expected = ERRORS[err.code].status < 500 || ERRORS[err.code].status === 503;
    const { detail, details } = err.report();
    return { problem: problem(err.code, detail, details), retryAfter: err instanceof ApiError ? err.retryAfter : undefined, expected };
  }
  const fe = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (fe && typeof fe === 'object') {
    if (fe.validation && fe.validation.length > 0) {
      const context = fe.validationContext ?? 'body';
      const choice = closedChoice(context, fe.validation);
      if (choice) return { problem: problem('bad-request', choice.detail, { field: choice.field }), expected: true };
      const field = validationField(context, fe.validation[0]!);
      return { problem: problem('bad-request', fe.message ?? 'invalid request', { field }), expected: true };
    }
    const code = fe.code ? fastifyCodes[fe.code] : undefined;
    if (code) return { problem: problem(code, fe.message ?? ERRORS[code].title), expected: true };
    // JSON.parse failures in a content-type parser surface as SyntaxError with statusCode 400.
    if (fe instanceof SyntaxError || (fe.statusCode === 400 && fe.name === 'SyntaxError')) {
      return { problem: problem('invalid-json', fe.message ?? 'invalid JSON'), expected: true };
    }
    if (fe.statusCode === 413) return { problem: problem('payload-too-large', fe.message ?? 'body too large'), expected: true };
    if (fe.statusCode === 415) return { problem: problem('unsupported-media-type', fe.message ?? 'unsupported'), expected: true };
    if (fe.statusCode === 400) return { problem: problem('bad-request', fe.message ?? 'bad request'), expected: true };
  }
  return { problem: problem('internal', 'unexpected error; see the server log'), expected: false };
}

interface AjvError {
  keyword?: string;
  instancePath?: string;
  params?: Record<string, unknown>;
}

/**
 * A field with a closed set of values (a union of literals, an enum) fails as one ajv error per
 * literal: say it once, with the values allowed ("body/protocol must be one of tcp, udp, sctp, icmp").
 */
function closedChoice(context: string, errs: AjvError[]): { field: string; detail: string } | null {
  const first = errs.find((e) => e.keyword === 'const' || e.keyword === 'enum');
  if (!first) {
    // Otherwise an unknown field, when that is the first complaint (in a union, the first branch's).
    const extra = errs[0]?.keyword === 'additionalProperties' ? errs[0] : undefined;
    if (!extra || typeof extra.params?.additionalProperty !== 'string') return null;
    const field = `${context}${extra.instancePath ?? ''}/${extra.params.additionalProperty}`;
    return { field, detail: `${field} is not a field of this object` };
  }
  const at = first.instancePath ?? '';
  const allowed: unknown[] = [];
  for (const e of errs) {
    if ((e.instancePath ?? '') !== at) continue;
    if (e.keyword === 'const') allowed.push(e.params?.allowedValue);
    else if (e.keyword === 'enum' && Array.isArray(e.params?.allowedValues)) allowed.push(...(e.params.allowedValues as unknown[]));
  }
  const field = `${context}${at}`;
  const values = [...new Set(allowed.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))))];
  return { field, detail: `${field} must be ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}` };
}

/** "body/packets/3/destination" from an ajv error, so a 400 names the field. */
function validationField(context: string, v: { instancePath?: string; params?: Record<string, unknown> }): string {
  let path = v.instancePath ?? '';
  const missing = v.params?.missingProperty ?? v.params?.additionalProperty;
  if (typeof missing === 'string') path += `/${missing}`;
  return `${context}${path}`;
}
