// The dashboard's only way to the server: the documented REST API (openapi/openapi.json).
// Every failure becomes an ApiProblem (RFC 9457 fields when the server sent them), so views
// show a message instead of breaking.

// The shapes are the server's own definitions (src/model/contracts.ts and the HTTP-only ones),
// imported as types only: they are erased from the bundle, so no TypeBox reaches the browser.
import type { Assumption, ExplainResult, Outcome, PathStep, Query, Service, ServiceEndpoint } from '../../src/model/contracts.js';
import type { ProblemT, RulesetSummaryT } from '../../src/service/schemas.js';
import type { JobState, JobStatus, ScaleOptions } from '../../src/scale/types.js';

export type { Assumption, ExplainResult, JobState, JobStatus, Outcome, PathStep, Query, Service, ServiceEndpoint };
export type RulesetSummary = RulesetSummaryT;
/** POST /v1/scale's body: the lab's options as HTTP takes them. */
export type ScaleRequest = Pick<ScaleOptions, 'services' | 'endpoints' | 'packets' | 'seed' | 'mix' | 'kernel' | 'kernelConnects'> & Partial<Pick<ScaleOptions, 'modes'>>;

/**
 * A failure as views show it: the server's problem details (RFC 9457), or one the page made
 * itself (status 0: the server could not be reached or answered nonsense).
 */
export type ApiProblem = Pick<ProblemT, 'status' | 'title' | 'detail'> & Partial<Omit<ProblemT, 'status' | 'title' | 'detail'>>;

export function isProblem(e: unknown): e is ApiProblem {
  return typeof e === 'object' && e !== null && 'status' in e && 'title' in e && 'detail' in e;
}

export function toProblem(e: unknown): ApiProblem {
  if (isProblem(e)) return e;
  return { status: 0, title: 'Request failed', detail: e instanceof Error ? e.message : String(e) };
}

const TOKEN_KEY = 'landfall.token';
export const token = {
  get: (): string => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t: string): void => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY)),
};

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json, application/problem+json' };
  if (json) h['content-type'] = 'application/json';
  const t = token.get();
  if (t) h.authorization = `Bearer ${t}`;
  return h;
}

function problemFrom(status: number, bodyText: string, statusText: string): ApiProblem {
  try {
    const p = JSON.parse(bodyText) as Partial<ApiProblem>;
    if (typeof p === 'object' && p && typeof p.detail === 'string') {
      return { ...p, status, title: p.title ?? statusText, detail: p.detail } as ApiProblem;
    }
  } catch {
    /* not JSON: fall through */
  }
  return { status, title: statusText || `HTTP ${status}`, detail: bodyText.slice(0, 500) || `HTTP ${status}` };
}

/** The base URL the page was served from (the API lives beside it). */
export function apiBase(): string {
  return new URL('.', location.href).href.replace(/\/$/, '');
}

export async function api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiBase() + path, {
      method,
      headers: headers(body !== undefined),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw { status: 0, title: 'Cannot reach the server', detail: (e as Error).message } satisfies ApiProblem;
  }
  const text = await res.text();
  if (!res.ok) throw problemFrom(res.status, text, res.statusText);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw { status: res.status, title: 'Unreadable answer', detail: 'the server answered with something that is not JSON' } satisfies ApiProblem;
  }
}

/**
 * POST /v1/rulesets through XMLHttpRequest: fetch() cannot report upload progress, and a
 * 20k-service dump is tens of megabytes. `onProgress(sent, total)`; sent === total once the
 * bytes are out and the server is parsing.
 */
export function uploadRuleset(body: string, onProgress: (sent: number, total: number) => void): Promise<RulesetSummary> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiBase() + '/v1/rulesets');
    for (const [k, v] of Object.entries(headers(true))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : body.length);
    xhr.upload.onload = () => onProgress(1, 1);
    xhr.onerror = () => reject({ status: 0, title: 'Cannot reach the server', detail: 'the upload failed (network error)' } satisfies ApiProblem);
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 200) {
        try {
          resolve(JSON.parse(xhr.responseText) as RulesetSummary);
        } catch {
          reject({ status: xhr.status, title: 'Unreadable answer', detail: 'not JSON' } satisfies ApiProblem);
        }
      } else reject(problemFrom(xhr.status, xhr.responseText, xhr.statusText));
    };
    xhr.send(body);
  });
}
