// A dump that does not parse: where (1-based line and column), what, and the offending text.

export class ParseError extends Error {
  override readonly name = 'ParseError';
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
    /** Which input the error is in: iptables, ip6tables, ipvs, ipsets. */
    readonly source: string = 'iptables',
    /** The offending line, for quoting in error answers. */
    readonly text?: string,
  ) {
    super(`${source}:${line}:${column}: ${message}`);
  }
  /** The message without the position prefix. */
  get detail(): string {
    return this.message.slice(this.message.indexOf(': ') + 2);
  }
}

/** Quotes a piece of input for an error message, shortened so a hostile line cannot flood it. */
export function quote(s: string, max = 80): string {
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(t);
}
