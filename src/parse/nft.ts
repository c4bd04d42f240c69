// An nftables listing, either form, told apart by content: `nft -j list ruleset` JSON starts with
// `{` (after blanks); `nft list ruleset` text starts with `table` (after blanks and comments).
//
// API (stable):
//   isNftJson(text) → boolean  (nft text vs iptables-save: looksLikeNft in ./paste.ts)
//   parseNft(text, opts) → NftParsed (src/parse/nft-text.ts / nft-json.ts)
//   loadNft(text, { iptablesTables?, lenient?, source? }) → NftLowered & { format } (parse + lower)

import type { NftRuleset } from '../model/nft.js';
import type { ParseWarning } from '../model/rule.js';
import { parseNftJson } from './nft-json.js';
import type { NftLowered, NftLowerOptions } from './nft-lower.js';
import { lowerNft } from './nft-lower.js';
import type { NftParsed, NftParseOptions } from './nft-text.js';
import { parseNftText } from './nft-text.js';

/** True when the text is a JSON document (nft -j), false for `nft list` text. */
export function isNftJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\ufeff') continue;
    return c === '{';
  }
  return false;
}


export function parseNft(text: string, opts: NftParseOptions = {}): NftParsed {
  return isNftJson(text) ? parseNftJson(text, opts) : parseNftText(text, opts);
}

export interface NftLoaded extends NftLowered {
  format: NftRuleset['format'];
  /** The parsed syntax (for service discovery and tools that read nft tables directly). */
  ruleset: NftRuleset;
}

/** Parses either form and lowers it into the model; warnings of both steps together. */
export function loadNft(text: string, opts: NftLowerOptions = {}): NftLoaded {
  const parsed = parseNft(text, { lenient: opts.lenient, source: opts.source });
  const lowered = lowerNft(parsed.ruleset, opts);
  const warnings: ParseWarning[] = [...parsed.warnings, ...lowered.warnings];
  return { ...lowered, warnings, format: parsed.ruleset.format, ruleset: parsed.ruleset };
}
