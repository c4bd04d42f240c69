// The one table of errors the API can answer with. Every failure leaves as RFC 9457
// application/problem+json carrying a stable `code`; nothing ever serializes a stack trace.
// Library errors cross the worker boundary as plain `WorkerFault` records (structured clone
// drops Error subclasses), and are turned into problems here, on the main thread.

import type { FastifyError } from 'fastify';

export const errorTable = {
  'bad-request': { status: 400, title: 'Request does not match the schema' },
  'invalid-json': { status: 400, title: 'Body is not valid JSON' },
  'invalid-field': { status: 400, title: 'A query field is not valid' },
  'invalid-id': { status: 400, title: 'Not a ruleset id' },
  unauthorized: { status: 401, title: 'Bearer token required' },
  'ruleset-not-found': { status: 404, title: 'No such ruleset' },
  'route-not-found': { status: 404, title: 'No such route' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'payload-too-large': { status: 413, title: 'Body too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'parse-error': { status: 422, title: 'The dump does not parse' },
  'path-explosion': { status: 422, title: 'Too many paths to explain' },
  'invalid-ruleset': { status: 422, title: 'The ruleset cannot be loaded' },
  internal: { status: 500, title: 'Internal error' },
  'worker-crashed': { status: 500, title: 'The worker running this request failed' },
  overloaded: { status: 503, title: 'Too many requests queued' },
  'task-timeout': { status: 503, title: 'The request took too long' },
  'under-pressure': { status: 503, title: 'Server under pressure' },
  'not-ready': { status: 503, title: 'Not ready' },
} as const;

export type ErrorCode = keyof typeof errorTable;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  line?: number;
  column?: number;
  source?: string;
  text?: string;
  field?: string;
  maxPaths?: number;
}

/** Extra members a problem may carry (RFC 9457 extension members). */
export type ProblemExtras = Partial<Pick<Problem, 'line' | 'column' | 'source' | 'text' | 'field' | 'maxPaths'>>;

/** An error the service raises on purpose: it knows its code, so the answer is exact. */
export class ApiError extends Error {
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
    return errorTable[this.code].status;
  }
}

export function problem(code: ErrorCode, detail: string, extras: ProblemExtras = {}): Problem {
  const { status, title } = errorTable[code];
  return { type: `urn:landfall:problem:${code}`, title, status, detail, code, ...extras };
}

/** A library error as it crosses the worker boundary. */
export type WorkerFault =
  | { kind: 'parse'; message: string; line: number; column: number; source: string; text?: string }
  | { kind: 'query'; message: string; field?: string }
  | { kind: 'paths'; message: string; maxPaths?: number }
  | { kind: 'internal'; message: string };

/** `fieldPrefix` places a query error's field in the request ("body/query" + "/destination"). */
export function faultToApiError(f: WorkerFault, fieldPrefix?: string): ApiError {
  switch (f.kind) {
    case 'parse':
      return new ApiError('parse-error', f.message, {
        line: f.line,
        column: f.column,
        source: f.source,
        ...(f.text !== undefined ? { text: f.text } : {}),
      });
    case 'query':
      return new ApiError('invalid-field', f.message, f.field ? { field: fieldPrefix ? `${fieldPrefix}/${f.field}` : f.field } : {});
    case 'paths':
      return new ApiError('path-explosion', f.message, f.maxPaths !== undefined ? { maxPaths: f.maxPaths } : {});
    case 'internal':
      // The message came from our own code in the worker, not from a stack: safe to show.
      return new ApiError('internal', f.message);
  }
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
  if (err instanceof ApiError) {
    // Overload, timeouts and "not ready" are the service working as designed; only internal
    // errors and dead workers are unexpected.
    const expected = err.code !== 'internal' && err.code !== 'worker-crashed';
    return { problem: problem(err.code, err.message, err.extras), retryAfter: err.retryAfter, expected };
  }
  const fe = err as Partial<FastifyError> & { validation?: { instancePath?: string; params?: Record<string, unknown> }[]; validationContext?: string };
  if (fe && typeof fe === 'object') {
    if (fe.validation && fe.validation.length > 0) {
      const field = validationField(fe.validationContext ?? 'body', fe.validation[0]!);
      return { problem: problem('bad-request', fe.message ?? 'invalid request', { field }), expected: true };
    }
    const code = fe.code ? fastifyCodes[fe.code] : undefined;
    if (code) return { problem: problem(code, fe.message ?? errorTable[code].title), expected: true };
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

/** "body/packets/3/destination" from an ajv error, so a 400 names the field. */
function validationField(context: string, v: { instancePath?: string; params?: Record<string, unknown> }): string {
  let path = v.instancePath ?? '';
  const missing = v.params?.missingProperty ?? v.params?.additionalProperty;
  if (typeof missing === 'string') path += `/${missing}`;
  return `${context}${path}`;
}
