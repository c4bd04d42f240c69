// Jump/goto targets by name: chain name → chain id within one table (chain names are unique per
// table, model/ruleset.ts numberRules). An open-addressing table over Int32Array built once per
// compile: a JS Map of 100k+ chain names cost more to fill and to probe than the encoding around it.

export class ChainNames {
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(
    private readonly names: readonly string[],
    private readonly tableOf: Int32Array,
  ) {
    let n = 16;
    while (n < names.length * 2) n *= 2;
    this.mask = n - 1;
    this.slots = new Int32Array(n).fill(-1);
    for (let id = 0; id < names.length; id++) {
      let s = hashName(tableOf[id]!, names[id]!) & this.mask;
      for (;;) {
        const at = this.slots[s]!;
        // a repeated (table, name) keeps the last id, as Map.set would
        if (at < 0 || (tableOf[at] === tableOf[id] && names[at] === names[id])) break;
        s = (s + 1) & this.mask;
      }
      this.slots[s] = id;
    }
  }

  /** The id of chain `name` in table `table`, -1 when that table has no such chain. */
  get(table: number, name: string): number {
    let s = hashName(table, name) & this.mask;
    for (;;) {
      const at = this.slots[s]!;
      if (at < 0) return -1;
      if (this.tableOf[at] === table && this.names[at] === name) return at;
      s = (s + 1) & this.mask;
    }
  }
}

function hashName(table: number, name: string): number {
  let h = Math.imul(table ^ 0x9e3779b9, 0x85ebca6b) ^ name.length;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}
