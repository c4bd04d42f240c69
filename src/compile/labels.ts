// The labels that name an unknown condition's test (src/engine/assume.ts): the reference walk
// builds them at match time, the compiler interns them as string ids for the wasm walk, so both
// key a condition by the same text.

import type { Match } from '../model/rule.js';

/** An ipset test: name, flags, --return-nomatch ("A|src,dst|0"). */
export function setLabel(name: string, dirs: readonly string[], returnNomatch: boolean): string {
  return `${name}|${dirs.join(',')}|${returnNomatch ? 1 : 0}`;
}

/** An unknown match: its text with the module it belongs to. */
export function matchLabel(module: string, text: string): string {
  if (module === '' || text.startsWith('-m ')) return text;
  return `-m ${module} ${text}`;
}

/** The owner test of a host packet's socket. */
export function ownerLabel(m: Extract<Match, { kind: 'owner' }>): string {
  const parts: string[] = [];
  const range = (c: { lo: number; hi: number }): string => (c.lo === c.hi ? `${c.lo}` : `${c.lo}-${c.hi}`);
  if (m.uid) parts.push(`${m.uid.invert ? '! ' : ''}--uid-owner ${range(m.uid)}`);
  if (m.gid) parts.push(`${m.gid.invert ? '! ' : ''}--gid-owner ${range(m.gid)}`);
  if (m.socketExists) parts.push(`${m.socketExists.invert ? '! ' : ''}--socket-exists`);
  return `the sending socket matches -m owner ${parts.join(' ')}`;
}

/** policy with an unmodelled option: the options are not kept, so the rule's line tells tests apart. */
export function policyLabel(m: Extract<Match, { kind: 'policy' }>, line: number): string {
  return `-m policy --dir ${m.dir} --pol ${m.pol} (an option not modelled, line ${line})`;
}

export function ipvsLabel(line: number): string {
  return `-m ipvs (an option not modelled, line ${line})`;
}

export const ADDRTYPE_LIMIT_REASON = 'addrtype --limit-iface: which interface holds the local address is not known';
export const OWNER_HOST_REASON = 'owner: the sending socket of a host packet is not known';
