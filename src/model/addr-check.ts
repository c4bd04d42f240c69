// Address strings from users (queries, node context) checked with ip-num, the one place that
// imports it. ip-num is thorough but ~30× slower than model/addr.ts's parser: used at the edges
// for a handful of fields, never on dumps. test/model/addr.test.ts holds the two to each other.

import { Validator } from 'ip-num';

/** A dotted-quad IPv4 or an IPv6 address (no prefix). */
export function isIpAddress(s: string): boolean {
  return s.includes(':') ? Validator.isValidIPv6String(s)[0] : Validator.isValidIPv4String(s)[0];
}

/** "a.b.c.d/len" or "v6/len"; host bits may be set (kubelet prints them that way sometimes). */
export function isCidrNotation(s: string): boolean {
  return s.includes(':') ? Validator.isValidIPv6CidrNotation(s)[0] : Validator.isValidIPv4CidrNotation(s)[0];
}
