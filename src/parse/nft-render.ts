// libnftables-json statements → `nft list ruleset` text, for the rule text of answers when the
// input was `nft -j` JSON (which carries no text). Listing style: `ip daddr . meta l4proto . th
// dport vmap @service-ips`, `meta mark set meta mark | 0x00004000`, `dnat to 10.180.0.1:80`.
//
// API (stable): renderStatements(expr, comment?) → string; renderExpr(e) → string.

import type { NftExpr, NftJson } from '../model/nft.js';
import { recordOf, tagOf } from '../model/nft.js';

const BARE_META = new Set(['iif', 'iifname', 'oif', 'oifname', 'iiftype', 'oiftype', 'skuid', 'skgid', 'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'nftrace']);

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** Renders a value; `markLike` prints numbers as 0x%08x the way the listing does for marks. */
export function renderExpr(e: NftExpr, markLike = false): string {
  if (e === null) return '';
  if (typeof e === 'number') return markLike ? hex(e) : String(e);
  if (typeof e === 'boolean') return String(e);
  if (typeof e === 'string') return /^[\w./:@*-]+$/.test(e) && e !== '' ? e : JSON.stringify(e);
  if (Array.isArray(e)) return e.map((x) => renderExpr(x, markLike)).join(',');
  const tag = tagOf(e);
  const b = tag !== undefined ? e[tag] : undefined;
  const r = recordOf(b);
  switch (tag) {
    case 'payload':
      return `${String(r?.protocol)} ${String(r?.field)}`;
    case 'meta': {
      const k = String(r?.key);
      return BARE_META.has(k) ? k : `meta ${k}`;
    }
    case 'ct':
      return ['ct', r?.dir, r?.family, r?.key].filter((x) => x !== undefined).map(String).join(' ');
    case 'fib':
      return `fib ${(Array.isArray(r?.flags) ? r!.flags : [r?.flags]).map(String).join(' . ')} ${String(r?.result)}`;
    case 'numgen':
      return `numgen ${String(r?.mode)} mod ${String(r?.mod)}${r?.offset ? ` offset ${String(r.offset)}` : ''}`;
    case 'jhash':
    case 'symhash':
      return `${tag}${r?.expr !== undefined ? ` ${renderExpr(r.expr)}` : ''} mod ${String(r?.mod)}${r?.seed !== undefined ? ` seed ${hex(Number(r.seed))}` : ''}${r?.offset ? ` offset ${String(r.offset)}` : ''}`;
    case 'concat':
      return (b as NftJson[]).map((x) => renderExpr(x, markLike)).join(' . ');
    case 'set': {
      const items = (Array.isArray(b) ? b : [b ?? null]).map((x) => (Array.isArray(x) && x.length === 2 ? `${renderExpr(x[0] ?? null, markLike)} : ${renderVerdictOrValue(x[1] ?? null)}` : renderExpr(x, markLike)));
      return `{ ${items.join(', ')} }`;
    }
    case 'map':
      return `${renderExpr(r?.key ?? null)} map ${renderExpr(r?.data ?? null, markLike)}`;
    case 'prefix':
      return `${String(r?.addr)}/${String(r?.len)}`;
    case 'range':
      return (b as NftJson[]).map((x) => renderExpr(x, markLike)).join('-');
    case 'elem': {
      let s = renderExpr(r?.val ?? null, markLike);
      if (r?.timeout !== undefined) s += ` timeout ${String(r.timeout)}s`;
      if (r?.expires !== undefined) s += ` expires ${String(r.expires)}s`;
      if (r?.comment !== undefined) s += ` comment ${JSON.stringify(r.comment)}`;
      return s;
    }
    case '&': case '|': case '^': case '<<': case '>>': {
      const [l, x] = b as NftJson[];
      const mark = isMark(l);
      return `${renderExpr(l)} ${tag} ${renderExpr(x, mark)}`;
    }
    case 'unknown':
      return String(b);
    default:
      return renderVerdictOrValue(e);
  }
}

function isMark(e: NftJson): boolean {
  const r = recordOf(recordOf(e)?.meta) ?? recordOf(recordOf(e)?.ct);
  return r?.key === 'mark';
}

function renderVerdictOrValue(e: NftJson): string {
  const tag = tagOf(e);
  if (tag === 'accept' || tag === 'drop' || tag === 'continue' || tag === 'return') return tag;
  if (tag === 'jump' || tag === 'goto') return `${tag} ${String(recordOf(recordOf(e)![tag])?.target)}`;
  if (tag === undefined) return renderExpr(e);
  return `${tag} ${JSON.stringify(recordOf(e)![tag])}`;
}

function natTarget(r: Record<string, NftJson>): string {
  const addr = r.addr;
  const port = r.port;
  let s = '';
  if (addr !== undefined) {
    const a = renderExpr(addr);
    s = typeof addr === 'string' && addr.includes(':') && port !== undefined ? `[${a}]` : a;
  }
  if (port !== undefined) s += `:${renderExpr(port)}`;
  return s;
}

/** One statement as the listing shows it. */
export function renderStatement(s: NftExpr): string {
  const tag = tagOf(s);
  if (tag === undefined) return renderExpr(s);
  const b = recordOf(s)![tag];
  const r = recordOf(b);
  switch (tag) {
    case 'match': {
      const op = String(r?.op ?? '==');
      const left = r?.left ?? null;
      const and = recordOf(left)?.['&'];
      const mark = isMark(left) || (Array.isArray(and) && isMark(and[0] ?? null));
      // The listing prints `==` after a binary operation (`meta mark & 0x00004000 == 0x00000000`).
      const binop = ['&', '|', '^', '<<', '>>'].includes(tagOf(left) ?? '');
      const shown = op === 'in' || (op === '==' && !binop) ? '' : `${op} `;
      return `${renderExpr(left)} ${shown}${renderExpr(r?.right ?? null, mark)}`;
    }
    case 'vmap':
      return `${renderExpr(r?.key ?? null)} vmap ${renderExpr(r?.data ?? null)}`;
    case 'mangle':
      return `${renderExpr(r?.key ?? null)} set ${renderExpr(r?.value ?? null, isMark(r?.key ?? null))}`;
    case 'counter':
      return r ? `counter packets ${String(r.packets ?? 0)} bytes ${String(r.bytes ?? 0)}` : `counter name ${String(b)}`;
    case 'log': {
      const parts = ['log'];
      if (r?.prefix !== undefined) parts.push(`prefix ${JSON.stringify(r.prefix)}`);
      if (r?.level !== undefined) parts.push(`level ${String(r.level)}`);
      if (r?.group !== undefined) parts.push(`group ${String(r.group)}`);
      return parts.join(' ');
    }
    case 'limit':
      return `limit rate ${r?.inv ? 'over ' : ''}${String(r?.rate)}${r?.rate_unit ? ` ${String(r.rate_unit)}` : ''}/${String(r?.per)}${r?.burst !== undefined ? ` burst ${String(r.burst)} ${r.burst_unit ? String(r.burst_unit) : 'packets'}` : ''}`;
    case 'quota':
      return r ? `quota ${r.inv ? 'over ' : ''}${String(r.val)} ${String(r.val_unit)}` : `quota name ${String(b)}`;
    case 'reject':
      if (!r) return 'reject';
      if (r.type === 'tcp reset') return 'reject with tcp reset';
      return r.expr === 'port-unreachable' && r.type !== 'icmpx' ? 'reject' : `reject with ${String(r.type)} ${String(r.expr)}`;
    case 'dnat': case 'snat': case 'masquerade': case 'redirect': {
      let out: string = tag;
      if (r?.family !== undefined) out += ` ${String(r.family)}`;
      const t = r ? natTarget(r) : '';
      if (t) out += ` to ${t}`;
      if (r?.flags !== undefined) out += ` ${Array.isArray(r.flags) ? r.flags.map(String).join(',') : String(r.flags)}`;
      return out;
    }
    case 'set':
      return `${String(r?.op)} ${String(r?.set)} { ${renderExpr(r?.elem ?? null)} }`;
    case 'xt':
      return `xt ${String(r?.type)} ${String(r?.name)}`;
    case 'notrack':
      return 'notrack';
    case 'unknown':
      return String(b);
    default:
      return renderVerdictOrValue(s);
  }
}

/** One rule's statements as the listing would show them (plus its comment). */
export function renderStatements(expr: NftExpr[], comment?: string): string {
  const parts = expr.map(renderStatement);
  if (comment !== undefined) parts.push(`comment ${JSON.stringify(comment)}`);
  return parts.join(' ');
}
