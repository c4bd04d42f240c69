// Memory access helpers. JS owns every region (src/compile/layout.ts): the compiled ruleset is
// copied to RS_BASE_BYTES, packets arrive in IN_BYTES, results go to OUT_BYTES/TRACE_OUT_BYTES.
// Word offsets inside the ruleset are relative to its first word, as the compiler wrote them.

import { RS_BASE_BYTES } from '../src/compile/layout';

/** Ruleset word at word offset `off`. */
@inline export function rw(off: i32): i32 {
  return load<i32>(RS_BASE_BYTES + (<usize>off << 2));
}

/** Word `i` of the region starting at byte address `base`. */
@inline export function ld(base: usize, i: i32): i32 {
  return load<i32>(base + (<usize>i << 2));
}

@inline export function st(base: usize, i: i32, v: i32): void {
  store<i32>(base + (<usize>i << 2), v);
}

/** Byte address of ruleset word `off` (for blocks compared in place, such as interface names). */
@inline export function rsAddr(off: i32): usize {
  return RS_BASE_BYTES + (<usize>off << 2);
}
