// The one errors table: its size is part of the contract (a new code is a deliberate change), every
// library error carries a code from it, and the service derives problem type and status from that
// code alone — also after the error crossed the worker boundary as a plain record.
import { describe, expect, it } from 'vitest';
import { ERRORS, LandfallError, WalkError, isErrorCode } from '../../src/model/errors.js';
import { ParseError } from '../../src/parse/errors.js';
import { QueryError } from '../../src/engine/packet.js';
import { PathExplosionError } from '../../src/engine/explain.js';
import { WasmWalkError } from '../../src/engine/wasm.js';
import { ScaleOptionsError } from '../../src/scale/options.js';
import { ScaleCancelled } from '../../src/scale/run.js';
import { JobQueueFull } from '../../src/scale/jobs.js';
import { LabError } from '../../src/lab/exec.js';
import { ApiError, faultToApiError, problem, toFault, toProblem } from '../../src/service/errors.js';
import { loadRuleset } from '../../src/ruleset.js';

describe('the errors table', () => {
  it('has exactly these codes, each with a 4xx/5xx status and a title', () => {
    expect(Object.keys(ERRORS)).toHaveLength(22);
    for (const [code, { status, title }] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(status >= 400 && status < 600, code).toBe(true);
      expect(title.length).toBeGreaterThan(0);
    }
    expect(isErrorCode('parse-error')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('every library error class carries a code from the table', () => {
    const errors: LandfallError[] = [
      new ParseError('bad', 3, 7, 'ipsets', 'add X y'),
      new QueryError('destination', 'not an address'),
      new PathExplosionError(100),
      new WalkError('loop'),
      new WasmWalkError('wasm engine: abort', 3),
      new ScaleOptionsError('services', 'must be positive'),
      new ScaleCancelled(),
      new JobQueueFull('full'),
      new LabError('no netns'),
      new ApiError('not-ready', 'booting'),
    ];
    expect(errors.map((e) => e.code)).toEqual([
      'parse-error',
      'invalid-field',
      'path-explosion',
      'internal',
      'internal',
      'invalid-field',
      'cancelled',
      'overloaded',
      'lab-failed',
      'not-ready',
    ]);
    for (const e of errors) expect(isErrorCode(e.code), e.name).toBe(true);
  });

  it('problem type and status come from the code', () => {
    for (const code of Object.keys(ERRORS) as (keyof typeof ERRORS)[]) {
      const p = problem(code, 'x');
      expect(p).toMatchObject({ type: `urn:landfall:problem:${code}`, status: ERRORS[code].status, title: ERRORS[code].title, code });
    }
  });

  it('a library error crosses the worker boundary by code, with its details', () => {
    let thrown: unknown;
    try {
      loadRuleset({ iptables: '*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp --dport x -j ACCEPT\nCOMMIT\n' });
    } catch (e) {
      thrown = e;
    }
    const fault = structuredClone(toFault(thrown));
    expect(fault).toMatchObject({ code: 'parse-error', details: { line: 3, source: 'iptables' } });
    const p = toProblem(faultToApiError(fault)).problem;
    expect(p).toMatchObject({ status: 422, code: 'parse-error', line: 3 });
    expect(p.detail).not.toMatch(/^iptables:3:/);

    const q = faultToApiError(structuredClone(toFault(new QueryError('source', 'not an address'))), 'body');
    expect(toProblem(q).problem).toMatchObject({ status: 400, code: 'invalid-field', field: 'body/source' });
    expect(toFault(new PathExplosionError(7))).toMatchObject({ code: 'path-explosion', details: { maxPaths: 7 } });
    // Not ours: internal, named, no stack.
    expect(toFault(new TypeError('boom'))).toEqual({ code: 'internal', detail: 'TypeError: boom' });
  });
});
