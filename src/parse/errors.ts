// A dump that does not parse: where (1-based line and column), what, and the offending text.

import { LandfallError, type ErrorDetails } from '../model/errors.js';

export class ParseError extends LandfallError {
  override readonly name = 'ParseError';
  readonly code = 'parse-error';
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
  override report(): { detail: string; details: ErrorDetails } {
    const details: ErrorDetails = { line: this.line, column: this.column, source: this.source };
    if (this.text !== undefined) details.text = this.text;
    return { detail: this.detail, details };
  }
}

/**
 * A problem at a column of the word or line being read, before the line number is known: thrown
 * by the tokenizer and the match/target/element builders, turned into a ParseError by the parser
 * that knows the line.
 */
export class ColumnError extends Error {
  override readonly name = 'ColumnError';
  constructor(
    message: string,
    /** 1-based column in the line, or the offset inside the word for element builders. */
    readonly column: number,
  ) {
    super(message);
  }
}

/** Quotes a piece of input for an error message, shortened so a hostile line cannot flood it. */
export function quote(s: string, max = 80): string {
  const t = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(t);
}
