// The one table of landfall's errors (as fastify's errors.js): every failure the library, the
// service or the CLI reports has a stable code here, with the HTTP status and title the service
// answers it with. Library errors extend LandfallError and carry their code, so the worker and
// the service map them by code (service/errors.ts derives the problem type from it), never by
// class name. Adding a code is a contract change: test/model/errors.test.ts counts the table.

export const ERRORS = {
  // Requests the service refuses before any work.
  'bad-request': { status: 400, title: 'Request does not match the schema' },
  'invalid-json': { status: 400, title: 'Body is not valid JSON' },
  'invalid-field': { status: 400, title: 'A query field is not valid' },
  'invalid-id': { status: 400, title: 'Not a ruleset id' },
  unauthorized: { status: 401, title: 'Bearer token required' },
  'ruleset-not-found': { status: 404, title: 'No such ruleset' },
  'scale-job-not-found': { status: 404, title: 'No such scale job' },
  'route-not-found': { status: 404, title: 'No such route' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'payload-too-large': { status: 413, title: 'Body too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  // The input: a dump that does not parse, a question with too many answers.
  'parse-error': { status: 422, title: 'The dump does not parse' },
  'path-explosion': { status: 422, title: 'Too many paths to explain' },
  'invalid-ruleset': { status: 422, title: 'The ruleset cannot be loaded' },
  // landfall itself.
  internal: { status: 500, title: 'Internal error' },
  'worker-crashed': { status: 500, title: 'The worker running this request failed' },
  'lab-failed': { status: 500, title: 'The kernel lab failed' },
  overloaded: { status: 503, title: 'Too many requests queued' },
  'task-timeout': { status: 503, title: 'The request took too long' },
  'under-pressure': { status: 503, title: 'Server under pressure' },
  'not-ready': { status: 503, title: 'Not ready' },
  cancelled: { status: 409, title: 'The job was cancelled' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** Members an error report may carry besides its detail (problem+json extension members). */
export interface ErrorDetails {
  line?: number;
  column?: number;
  source?: string;
  text?: string;
  field?: string;
  maxPaths?: number;
}

/** A landfall error: its `code` is in ERRORS; `report()` is what an answer shows of it. */
export abstract class LandfallError extends Error {
  abstract readonly code: ErrorCode;
  /** The detail to show (without any prefix `message` carries) and the members it adds. */
  report(): { detail: string; details: ErrorDetails } {
    return { detail: this.message, details: {} };
  }
}

/** A walk that cannot finish (an engine invariant broke, e.g. nesting past the depth limit). */
export class WalkError extends LandfallError {
  override readonly name: string = 'WalkError';
  readonly code = 'internal';
  constructor(
    message: string,
    /** The wasm engine's status code (layout ST_*); -1 for the reference walk and aborts. */
    readonly status = -1,
  ) {
    super(message);
  }
}
