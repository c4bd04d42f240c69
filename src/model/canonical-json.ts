// JSON with object keys sorted at every level and undefined members left out, so equal values
// give equal text: ruleset ids (content hashes) and the explain answer cache's keys.

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  let out = '';
  writeCanonicalJson(v, (text) => (out += text));
  return out;
}

/**
 * canonicalJson's text as pieces in order, each given to `put`; strings go to `str` instead when
 * given (which writes their JSON itself: rulesetId escapes a 36 MB dump a slice at a time).
 * `inArray`: an array joins a member JSON leaves undefined (a function, a symbol) as '', an
 * object's member template as 'undefined' (what canonicalJson always wrote).
 */
export function writeCanonicalJson(v: unknown, put: (text: string) => void, str?: (s: string) => void, inArray = false): void {
  if (typeof v === 'string' && str) return str(v);
  if (v === null || typeof v !== 'object') {
    const s = JSON.stringify(v) as string | undefined;
    put(s === undefined && inArray ? '' : `${s}`);
    return;
  }
  if (Array.isArray(v)) {
    put('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) put(',');
      writeCanonicalJson(v[i], put, str, true);
    }
    put(']');
    return;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  put('{');
  for (let i = 0; i < keys.length; i++) {
    put(`${i > 0 ? ',' : ''}${JSON.stringify(keys[i])}:`);
    writeCanonicalJson(o[keys[i]!], put, str, false);
  }
  put('}');
}
