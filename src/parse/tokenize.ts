// Splits one rule line into shell-like words, the way iptables-restore does: whitespace separates,
// double (and single) quotes group, a backslash escapes the next character inside quotes.
// Each word keeps its 1-based column so errors can point at it.

import { ColumnError } from './errors.js';

export interface Words {
  words: string[];
  cols: number[];
}

export function tokenize(line: string, start = 0): Words {
  const words: string[] = [];
  const cols: number[] = [];
  const n = line.length;
  let i = start;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === 32 || c === 9) {
      i++;
      continue;
    }
    const col = i + 1;
    // Fast path: an unquoted word.
    let j = i;
    while (j < n) {
      c = line.charCodeAt(j);
      if (c === 32 || c === 9 || c === 34 || c === 39) break;
      j++;
    }
    if (j === n || c === 32 || c === 9) {
      words.push(line.slice(i, j));
      cols.push(col);
      i = j;
      continue;
    }
    // Slow path: a word with quotes in it.
    let w = line.slice(i, j);
    i = j;
    while (i < n) {
      c = line.charCodeAt(i);
      if (c === 32 || c === 9) break;
      if (c === 34 || c === 39) {
        const q = c;
        const open = i + 1;
        i++;
        // Slice runs between escapes instead of appending character by character.
        let run = i;
        let closed = false;
        while (i < n) {
          const d = line.charCodeAt(i);
          if (d === 92 /* \ */ && i + 1 < n) {
            w += line.slice(run, i) + line[i + 1];
            i += 2;
            run = i;
            continue;
          }
          if (d === q) {
            w += line.slice(run, i);
            closed = true;
            i++;
            break;
          }
          i++;
        }
        if (!closed) throw new ColumnError('unterminated quoted string', open);
      } else {
        w += line[i];
        i++;
      }
    }
    words.push(w);
    cols.push(col);
  }
  return { words, cols };
}
