// The syntax of an nftables rule set, as both `nft list ruleset` (text) and `nft -j list ruleset`
// (libnftables-json, json_schema_version 1) give it. Both parsers produce this one shape, and it
// is libnftables-json's own: a statement or expression is the JSON object `nft -j` prints
// (`{"match": {"op", "left", "right"}}`, `{"payload": {"protocol", "field"}}`, `{"vmap": …}`, …),
// so the text parser is checked against the kernel's own JSON listing of the same rule set, and
// src/parse/nft-lower.ts reads one form only. Around the expressions the containers are typed and
// carry where each piece came from: for text the listing line, for JSON the 1-based index of the
// object in the document's `nftables` array (DESIGN.md "path step").

/** A JSON value: the expression / statement syntax of libnftables-json. */
export type NftJson = null | boolean | number | string | NftJson[] | { [key: string]: NftJson };

/** An expression or statement: one-key objects, strings (values, `@set` references), numbers, arrays. */
export type NftExpr = NftJson;

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';
export const NFT_FAMILIES: readonly NftFamily[] = ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'];

export type NftHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress';

export interface NftRule {
  /** Text: the listing line. JSON: 1-based index of the rule object in `nftables`. */
  line: number;
  /** `# handle N` (text with `nft -a`) or the JSON rule's handle. */
  handle?: number;
  /** The rule as listed (text), or rendered from the JSON statements (src/parse/nft-render.ts). */
  text: string;
  /** Statements in order, libnftables-json form (`{"match": …}`, `{"jump": …}`, `{"counter": …}`, …). */
  expr: NftExpr[];
  comment?: string;
}

export interface NftBase {
  type: string;
  hook: string;
  /** The numeric priority (`dstnat - 10` → -110; names resolved per family and hook). */
  prio: number;
  policy: 'accept' | 'drop';
  device?: string;
}

export interface NftChain {
  name: string;
  line: number;
  handle?: number;
  /** Present on base chains. */
  base?: NftBase;
  comment?: string;
  rules: NftRule[];
}

export interface NftElem {
  /** Set elements: the key; map elements: the key (value in `data`). */
  key: NftExpr;
  data?: NftExpr;
  /** Text: the line the element is listed on. JSON: index of its set object in `nftables`. */
  line: number;
  /** Seconds. */
  timeout?: number;
  /** Seconds left (a live dynamic set's element). */
  expires?: number;
  comment?: string;
}

export interface NftSet {
  name: string;
  kind: 'set' | 'map';
  line: number;
  handle?: number;
  /** Key type, one entry per concatenated field (`ipv4_addr . inet_proto . inet_service` → three). */
  type: string[];
  /** `typeof EXPR` declarations: the key expression instead of type names. */
  typeof?: NftExpr;
  /** Maps: the data type (`verdict`, `ipv4_addr`, `mark`, or a concatenation). */
  map?: string[];
  flags: string[];
  timeout?: number;
  size?: number;
  comment?: string;
  elems: NftElem[];
}

export interface NftTable {
  family: NftFamily;
  name: string;
  line: number;
  handle?: number;
  comment?: string;
  flags?: string[];
  chains: NftChain[];
  sets: NftSet[];
}

export interface NftRuleset {
  /** Which listing it came from (JSON: `nft -j`). */
  format: 'text' | 'json';
  tables: NftTable[];
}

/** A problem worth telling the user that did not stop the parse. */
export interface NftWarning {
  line: number;
  column: number;
  message: string;
}

/** Standard priority names (libnftables: std_prio_table) by family; bridge has its own numbers. */
export const NFT_PRIORITIES: Record<string, number> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
  out: 100,
};
export const NFT_BRIDGE_PRIORITIES: Record<string, number> = { dstnat: -300, filter: -200, out: 100, srcnat: 300 };

/** The one key of a one-key object (libnftables-json's tagged union), or undefined. */
export function tagOf(e: NftExpr): string | undefined {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return undefined;
  const keys = Object.keys(e);
  return keys.length === 1 ? keys[0] : undefined;
}

/** The body of a one-key object when its key is `tag`. */
export function bodyOf(e: NftExpr, tag: string): NftJson | undefined {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return undefined;
  return Object.hasOwn(e, tag) ? e[tag] : undefined;
}

/** A body as a record (for `{"payload": {"protocol": …}}`-style bodies). */
export function recordOf(e: NftJson | undefined): Record<string, NftJson> | undefined {
  return e !== null && typeof e === 'object' && !Array.isArray(e) ? e : undefined;
}
