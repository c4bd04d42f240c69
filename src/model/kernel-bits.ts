// Kernel bit values that both the TypeScript model and the AssemblyScript walk use, written once.
// assembly/ imports this very file (as `../src/model/kernel-bits`), so it is written in the
// common subset of both languages, like src/compile/layout.ts: plain `export const NAME = <int>;`.

// Conntrack state bits (conntrack --ctstate / state --state; SNAT/DNAT are the virtual states).
export const CT_INVALID = 1;
export const CT_NEW = 2;
export const CT_ESTABLISHED = 4;
export const CT_RELATED = 8;
export const CT_UNTRACKED = 16;
export const CT_SNAT = 32;
export const CT_DNAT = 64;

// addrtype type bits: the kernel's RTN_* values as a bitmask (1 << RTN_x).
export const ADDRTYPE_UNSPEC = 1;
export const ADDRTYPE_UNICAST = 2;
export const ADDRTYPE_LOCAL = 4;
export const ADDRTYPE_BROADCAST = 8;
export const ADDRTYPE_ANYCAST = 16;
export const ADDRTYPE_MULTICAST = 32;
export const ADDRTYPE_BLACKHOLE = 64;
export const ADDRTYPE_UNREACHABLE = 128;
export const ADDRTYPE_PROHIBIT = 256;
export const ADDRTYPE_THROW = 512;
export const ADDRTYPE_NAT = 1024;
export const ADDRTYPE_XRESOLVE = 2048;
