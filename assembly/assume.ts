// Unknown conditions as variables: the AssemblyScript twin of src/engine/assume.ts and the
// reference walk's unknown(). A condition's key (kind, label string id, family, KEY_WORDS words)
// is built in KEY by the caller; the first meeting in a walk is a decision with weights [1, 1]
// (trace: one draw, u < 0.5 holds), later meetings reuse the value. Records go to the walk
// output's assumption list (layout AS_*), which is also the table the lookups scan.

import * as L from '../src/compile/layout';
import * as S from './state';

/** The key being built (KEY_WORDS words). */
export const KEY: usize = memory.data(L.KEY_WORDS * 4);

export function clearKey(): void {
  memory.fill(KEY, 0, L.KEY_WORDS * 4);
}

@inline export function keyPut(i: i32, v: i32): void {
  store<i32>(KEY + (<usize>i << 2), v);
}

/** A 4-word address block into key words i..i+3. */
export function keyAddr(i: i32, a: usize): void {
  for (let k = 0; k < 4; k++) keyPut(i + k, load<i32>(a + (<usize>k << 2)));
}

/** An interface block (meta + 4 name words) into key words i..i+4; nothing when absent. */
export function keyIface(i: i32, b: usize): void {
  if (b == 0 || (load<i32>(b) & L.IF_PRESENT_BIT) == 0) return;
  for (let k = 0; k < 5; k++) keyPut(i + k, load<i32>(b + (<usize>k << 2)));
}

@inline function rec(i: i32): usize {
  return L.OUT_BYTES + (<usize>(L.O_ASM + i * L.ASM_WORDS) << 2);
}

function push(rule: i32, flags: i32, kind: i32, label: i32, reason: i32): void {
  if (S.nasm >= L.MAX_ASM) {
    S.setStatus(L.ST_OVERFLOW);
    return;
  }
  const b = rec(S.nasm);
  store<i32>(b + (<usize>L.AS_RULE << 2), rule);
  store<i32>(b + (<usize>L.AS_FLAGS << 2), flags);
  store<i32>(b + (<usize>L.AS_KIND << 2), kind);
  store<i32>(b + (<usize>L.AS_LABEL << 2), label);
  store<i32>(b + (<usize>L.AS_REASON << 2), reason);
  store<i32>(b + (<usize>L.AS_FAMILY << 2), S.family);
  memory.copy(b + (<usize>L.AS_KEY << 2), KEY, L.KEY_WORDS * 4);
  S.setNasm(S.nasm + 1);
}

/** The value of the unknown condition keyed (kind, label, family, KEY) in this walk. */
export function unknown(rule: i32, kind: i32, label: i32, reason: i32): bool {
  for (let i = 0; i < S.nasm; i++) {
    const b = rec(i);
    const f = load<i32>(b + (<usize>L.AS_FLAGS << 2));
    if ((f & L.ASF_DECIDED) == 0) continue;
    if (load<i32>(b + (<usize>L.AS_KIND << 2)) != kind || load<i32>(b + (<usize>L.AS_LABEL << 2)) != label) continue;
    if (load<i32>(b + (<usize>L.AS_FAMILY << 2)) != S.family) continue;
    let same = true;
    for (let k = 0; k < L.KEY_WORDS; k++) {
      if (load<i32>(b + (<usize>(L.AS_KEY + k) << 2)) != load<i32>(KEY + (<usize>k << 2))) {
        same = false;
        break;
      }
    }
    if (!same) continue;
    const holds = (f & L.ASF_HOLDS) != 0;
    if (S.recording) push(rule, L.ASF_REUSED | (holds ? L.ASF_HOLDS : 0), kind, label, reason);
    return holds;
  }
  let holds: bool;
  if (S.recording) {
    S.beginDecision();
    S.stageProb(1.0);
    S.stageProb(1.0);
    holds = S.decide() == 0;
  } else {
    holds = <f64>S.nextRandom() / 4294967296.0 < 0.5;
  }
  push(rule, L.ASF_DECIDED | (holds ? L.ASF_HOLDS : 0), kind, label, reason);
  return holds;
}

/** Something assumed without a decision (an unmodelled target, a missing chain): a note record. */
export function assumeNote(rule: i32, reason: i32): void {
  if (!S.recording) return;
  clearKey();
  push(rule, L.ASF_HOLDS, L.A_NOTE, reason, reason);
}
