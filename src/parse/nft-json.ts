// `nft -j list ruleset` (libnftables-json, json_schema_version 1) → NftRuleset.
//
// API (stable):
//   parseNftJson(text, { lenient?, source? }) → { ruleset: NftRuleset, warnings: NftWarning[] }
//   throws ParseError; the message names the JSON path (`nftables[12].rule.expr[0]`), `line` is
//   the 1-based index of the object in `nftables` (DESIGN.md: what a JSON path step's line is), or
//   the text line of a JSON syntax error.
//
// Statements and expressions are kept as the document has them (src/model/nft.ts); only the
// containers are checked and typed. Rule text for answers is rendered from the statements.

import type { NftChain, NftElem, NftExpr, NftFamily, NftJson, NftRule, NftRuleset, NftSet, NftTable, NftWarning } from '../model/nft.js';
import { NFT_FAMILIES, recordOf } from '../model/nft.js';
import { ParseError, quote } from './errors.js';
import { renderStatements } from './nft-render.js';
import type { NftParsed, NftParseOptions } from './nft-text.js';

class JsonParser {
  private readonly warnings: NftWarning[] = [];
  private readonly source: string;
  private readonly lenient: boolean;

  constructor(opts: NftParseOptions) {
    this.source = opts.source ?? 'nftables';
    this.lenient = !!opts.lenient;
  }

  private fail(path: string, index: number, message: string): never {
    throw new ParseError(`${path}: ${message}`, index, 1, this.source);
  }

  run(text: string): NftParsed {
    let doc: NftJson;
    try {
      doc = JSON.parse(text) as NftJson;
    } catch (e) {
      const msg = (e as Error).message;
      const m = /position (\d+)/.exec(msg);
      const pos = m ? Number(m[1]) : jsonErrorOffset(text);
      const before = text.slice(0, pos);
      const line = before.split('\n').length;
      throw new ParseError(`malformed JSON: ${msg}`, line, pos - before.lastIndexOf('\n'), this.source);
    }
    const root = recordOf(doc);
    const list = root?.nftables;
    if (!Array.isArray(list)) this.fail('$', 1, 'expected an object {"nftables": [...]} (nft -j list ruleset)');
    const tables = new Map<string, NftTable>();
    const key = (family: string, name: string) => `${family}\0${name}`;
    const tableOf = (o: Record<string, NftJson>, path: string, index: number): NftTable => {
      const t = tables.get(key(this.str(o, 'family', path, index), this.str(o, 'table', path, index)));
      if (!t) this.fail(path, index, `table ${quote(`${o.family} ${o.table}`)} is not declared before it is used`);
      return t;
    };
    const chains = new Map<string, NftChain>();
    list.forEach((item, i) => {
      const index = i + 1;
      const path = `nftables[${i}]`;
      const o = recordOf(item);
      if (!o) this.fail(path, index, 'expected an object');
      const kind = Object.keys(o)[0];
      const body = recordOf(o[kind]);
      if (kind === 'metainfo') {
        const v = body?.json_schema_version;
        if (v !== undefined && v !== 1) this.warnings.push({ line: index, column: 1, message: `json_schema_version ${String(v)} (expected 1)` });
        return;
      }
      if (!body) this.fail(`${path}.${kind}`, index, 'expected an object');
      const p = `${path}.${kind}`;
      switch (kind) {
        case 'table': {
          const family = this.family(body, p, index);
          const name = this.str(body, 'name', p, index);
          const t: NftTable = { family, name, line: index, chains: [], sets: [] };
          if (typeof body.handle === 'number') t.handle = body.handle;
          if (typeof body.comment === 'string') t.comment = body.comment;
          if (Array.isArray(body.flags)) t.flags = body.flags.map(String);
          else if (typeof body.flags === 'string') t.flags = [body.flags];
          tables.set(key(family, name), t);
          return;
        }
        case 'chain': {
          const t = tableOf(body, p, index);
          const name = this.str(body, 'name', p, index);
          const c: NftChain = { name, line: index, rules: [] };
          if (typeof body.handle === 'number') c.handle = body.handle;
          if (typeof body.comment === 'string') c.comment = body.comment;
          if (body.hook !== undefined) {
            const prio = body.prio;
            if (typeof prio !== 'number') this.fail(`${p}.prio`, index, 'a base chain needs a numeric priority');
            const policy = body.policy ?? 'accept';
            if (policy !== 'accept' && policy !== 'drop') this.fail(`${p}.policy`, index, `policy must be accept or drop, not ${quote(String(policy))}`);
            c.base = { type: this.str(body, 'type', p, index), hook: this.str(body, 'hook', p, index), prio, policy };
            if (typeof body.dev === 'string') c.base.device = body.dev;
          }
          t.chains.push(c);
          chains.set(`${t.family}\0${t.name}\0${name}`, c);
          return;
        }
        case 'set':
        case 'map': {
          const t = tableOf(body, p, index);
          t.sets.push(this.set(kind, body, p, index));
          return;
        }
        case 'rule': {
          const t = tableOf(body, p, index);
          const cname = this.str(body, 'chain', p, index);
          const c = chains.get(`${t.family}\0${t.name}\0${cname}`);
          if (!c) this.fail(p, index, `chain ${quote(cname)} is not declared before its rules`);
          const expr = body.expr;
          if (!Array.isArray(expr)) this.fail(`${p}.expr`, index, 'expected an array of statements');
          expr.forEach((s, k) => {
            if (recordOf(s) === undefined || Object.keys(recordOf(s)!).length !== 1) this.fail(`${p}.expr[${k}]`, index, 'expected a statement object with one key');
          });
          const r: NftRule = { line: index, text: '', expr: expr as NftExpr[] };
          if (typeof body.handle === 'number') r.handle = body.handle;
          if (typeof body.comment === 'string') r.comment = body.comment;
          r.text = renderStatements(r.expr, r.comment);
          c.rules.push(r);
          return;
        }
        case 'element': {
          // `add element` commands (nft -j input form): elements of a declared set.
          const t = tableOf(body, p, index);
          const name = this.str(body, 'name', p, index);
          const s = t.sets.find((x) => x.name === name);
          if (!s) this.fail(p, index, `set ${quote(name)} is not declared`);
          s.elems.push(...this.elems(s.kind === 'map', body.elem, `${p}.elem`, index));
          return;
        }
        default: {
          const msg = `${kind} objects are not modelled; skipped`;
          if (['flowtable', 'counter', 'quota', 'ct helper', 'limit', 'ct timeout', 'ct expectation', 'secmark', 'synproxy'].includes(kind)) {
            this.warnings.push({ line: index, column: 1, message: msg });
            return;
          }
          if (!this.lenient) this.fail(path, index, `unknown object ${quote(kind)}`);
          this.warnings.push({ line: index, column: 1, message: `${path}: unknown object ${quote(kind)}; skipped` });
        }
      }
    });
    return { ruleset: { format: 'json', tables: [...tables.values()] }, warnings: this.warnings };
  }

  private str(o: Record<string, NftJson>, k: string, path: string, index: number): string {
    const v = o[k];
    if (typeof v !== 'string') this.fail(`${path}.${k}`, index, 'expected a string');
    return v;
  }

  private family(o: Record<string, NftJson>, path: string, index: number): NftFamily {
    const f = this.str(o, 'family', path, index);
    if (!(NFT_FAMILIES as readonly string[]).includes(f)) this.fail(`${path}.family`, index, `unknown family ${quote(f)}`);
    return f as NftFamily;
  }

  private set(kind: 'set' | 'map', o: Record<string, NftJson>, path: string, index: number): NftSet {
    const name = this.str(o, 'name', path, index);
    const types = (v: NftJson | undefined, what: string): string[] => {
      if (typeof v === 'string') return [v];
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      if (v === undefined) return [];
      this.fail(`${path}.${what}`, index, 'expected a type name or an array of them');
    };
    const s: NftSet = { name, kind, line: index, type: types(o.type, 'type'), flags: [], elems: [] };
    if (o.type === undefined && o.typeof !== undefined) s.typeof = o.typeof;
    if (kind === 'map') s.map = types(o.map, 'map');
    if (typeof o.handle === 'number') s.handle = o.handle;
    if (Array.isArray(o.flags)) s.flags = o.flags.map(String);
    else if (typeof o.flags === 'string') s.flags = [o.flags];
    if (typeof o.timeout === 'number') s.timeout = o.timeout;
    if (typeof o.size === 'number') s.size = o.size;
    if (typeof o.comment === 'string') s.comment = o.comment;
    if (o.elem !== undefined) s.elems = this.elems(kind === 'map', o.elem, `${path}.elem`, index);
    return s;
  }

  private elems(isMap: boolean, v: NftJson, path: string, index: number): NftElem[] {
    if (!Array.isArray(v)) this.fail(path, index, 'expected an array of elements');
    return v.map((e, k) => {
      let key: NftJson = e;
      let data: NftJson | undefined;
      if (isMap) {
        if (!Array.isArray(e) || e.length !== 2) this.fail(`${path}[${k}]`, index, 'expected a [key, value] pair');
        [key, data] = e;
      }
      const el: NftElem = { key, line: index };
      const wrapped = recordOf(recordOf(key)?.elem);
      if (wrapped) {
        el.key = wrapped.val ?? null;
        if (typeof wrapped.timeout === 'number') el.timeout = wrapped.timeout;
        if (typeof wrapped.expires === 'number') el.expires = wrapped.expires;
        if (typeof wrapped.comment === 'string') el.comment = wrapped.comment;
      }
      if (data !== undefined) el.data = data;
      return el;
    });
  }
}

/**
 * Offset of the first JSON syntax error (engines differ in whether their message says where):
 * a small recursive-descent scan that stops where JSON.parse would.
 */
export function jsonErrorOffset(t: string): number {
  let i = 0;
  const ws = () => {
    while (i < t.length && (t[i] === ' ' || t[i] === '\n' || t[i] === '\r' || t[i] === '\t')) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const value = (depth: number): void => {
    if (depth > 512) fail();
    ws();
    const c = t[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (t[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          if (t[i] !== '"') fail();
          str();
          ws();
          if (t[i] !== ':') fail();
          i++;
        }
        value(depth + 1);
        ws();
        if (t[i] === ',') {
          i++;
          continue;
        }
        if (t[i] === close) {
          i++;
          return;
        }
        fail();
      }
    }
    if (c === '"') return str();
    const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(t.slice(i, i + 400));
    if (!m) return fail();
    i += m[0].length;
  };
  const str = () => {
    i++;
    while (i < t.length && t[i] !== '"') {
      if (t[i] === '\\') i++;
      else if (t.charCodeAt(i) < 32) fail();
      i++;
    }
    if (i >= t.length) fail();
    i++;
  };
  try {
    value(0);
    ws();
    return i < t.length ? i : t.length;
  } catch (at) {
    return typeof at === 'number' ? at : 0;
  }
}

/** Parses `nft -j list ruleset` output. */
export function parseNftJson(text: string, opts: NftParseOptions = {}): NftParsed {
  return new JsonParser(opts).run(text);
}
