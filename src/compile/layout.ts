// THE binary layout shared by the compiler (TypeScript, src/compile/*.ts) and the walk
// (AssemblyScript, assembly/*.ts, which imports this very file as `../src/compile/layout`).
// It is written in the common subset of both languages: plain `export const NAME = <int>;` and
// nothing else, so asc and tsc read the same numbers. All sizes and offsets are in 32-bit WORDS
// unless the name ends in _BYTES.
//
// The compiled ruleset is one Int32Array (one ArrayBuffer or SharedArrayBuffer). Its first
// HDR_WORDS words are a header of section offsets (word offsets from the start of the buffer),
// so JS can copy the whole thing into wasm memory at RS_BASE_BYTES in one `set` and the walk can
// address every section relative to that base.

export const LAYOUT_VERSION = 7;
export const MAGIC = 0x4c464c31; // "LFL1"

// ---- header (word index → value) ----
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_TOTAL_WORDS = 2;
export const H_NRULES = 3;
// words 4..6: unused since layout 7 (rules live in their chain's region)
export const H_NCHAINS = 7;
export const H_CHAINS = 8; // by flat chain id: the offset of the chain's region (CHAIN_WORDS header, then its rule records)
export const H_HOOKS = 9; // hook plans: [family 0/1][hook 0..4] → 2 words: absolute offset of the first PLAN_WORDS entry, entry count
export const H_NRUNS = 10;
export const H_RUNS = 11; // index runs, RUN_WORDS each
export const H_NODE = 12; // node context block
export const H_NNTH = 13; // number of statistic-nth counters (trace keeps one per nth match)
export const H_FLAGS = 14; // HF_* bits
export const H_STRINGS = 15; // not read by the walk: count of string ids JS keeps beside the buffer
export const H_SETS = 16; // ipset table: count, then count × offsets of set blocks (SB_*)
export const H_IPVS = 17; // IPVS block (IV_*), 0 when the node has no virtual services
export const H_NODEHASH = 18; // node-address hash: offset of NODEHASH_SLOT-word slots [family (0 empty), w0..w3]
export const H_NODEMASK = 19; // its slots - 1
export const H_COSTS = 20; // evalCost prefix sums, nrules + 1 words (cum[id] = costs of the rules before id); 0 when every rule costs 1
export const H_NODEFLAGS = 21; // NF_* bits
export const H_ROUTING = 22; // routing block (RT_*), 0 when the node's routes were not given
export const NODEHASH_SLOT = 5;
export const HDR_WORDS = 24;

/** The node's addresses are known (given, or from its `ip addr`): an address not among them is not local. */
export const NF_ADDRS_KNOWN = 1;

/** The ruleset needs a host-side feature (unencodable interface names, too many nth counters or real servers). */
export const HF_HOST = 1;
/** The ruleset has IPVS virtual services (the IPVS stage runs: assembly/ipvs.ts). */
export const HF_IPVS = 2;

// Assumption records: an unknown condition met by the walk (SEMANTICS.md "Unknown conditions").
// [rule (-1: the routing decision), ASF_* flags, A_* kind, label string id (-1 none), reason string
// id (-1: made from the key), family, KEY_WORDS key words]. Two records with equal kind, label,
// family and key words are the same variable: one value per walk.
export const ASM_WORDS = 30;
export const AS_RULE = 0;
export const AS_FLAGS = 1;
export const AS_KIND = 2;
export const AS_LABEL = 3;
export const AS_REASON = 4;
export const AS_FAMILY = 5;
export const AS_KEY = 6;
export const KEY_WORDS = 24;
// key words: the packet values the condition tests (0 where unused)
export const K_A = 0; // 4 words: an address
export const K_B = 4; // 4 words: a second address
export const K_PA = 8;
export const K_PB = 9;
export const K_PROTO = 10;
export const K_MARK = 11;
export const K_CONNMARK = 12;
export const K_CTSTATE = 13;
export const K_IFA = 14; // 5 words: an interface (IFACE meta + 4 name words; 0 = none)
export const K_IFB = 19; // 5 words
export const ASF_HOLDS = 1; // the value this walk takes
export const ASF_DECIDED = 2; // first meeting: a decision point (weights [1, 1])
export const ASF_REUSED = 4; // a later meeting of a variable already decided in this walk
// neither DECIDED nor REUSED: not a decision (an unmodelled target, a missing chain): the walk goes on
export const A_SET = 1; // label "name|dirs|nomatch": A = src, B = dst (when tested), PA/PB ports, proto, mark, interfaces for ≥ 2 dims
export const A_MATCH = 2; // label = match text: every packet field
export const A_OWNER = 3; // label = the owner test: no packet field
export const A_IFACE = 4; // IFA = the rule's pattern, IFB = the packet's interface (known as a prefix)
export const A_ADDRTYPE_LIMIT = 5; // A = address, IFA = the limiting interface
export const A_LOCAL = 6; // A = address: is it one of the node's?
export const A_NOTE = 7; // reason only
export const A_ORDER = 8; // PA = the base chain that runs first when it holds (-1 IPVS), PB = the other (src/engine/order.ts)
export const MAX_ASM = 512;

// ---- routing (at H_ROUTING): src/compile/routing.ts writes, assembly/routing.ts reads (src/engine/routing.ts semantics) ----
export const RT_NLINKS = 0;
export const RT_LINKS = 1; // LK_WORDS per link, in listing order
export const RT_NROUTES = 2;
export const RT_ROUTES = 3; // RO_WORDS per route, in listing order
export const RT_NRULES = 4;
export const RT_RULES = 5; // PR_WORDS per policy rule, by priority
export const RT_FLAGS = 6; // RTF_*
export const RT_REJ_UNREACH4 = 7; // reject-with string ids of a failed route
export const RT_REJ_UNREACH6 = 8;
export const RT_REJ_PROHIBIT4 = 9;
export const RT_REJ_PROHIBIT6 = 10;
export const RT_WORDS = 12;
export const RTF_ROUTES = 1; // the node's routes were given: the walk routes by them
export const RTF_ADDRS = 2; // the node's interface addresses were given: MASQUERADE picks from them
export const LK_IFACE = 0; // IFACE_WORDS: the link's name
export const LK_NADDR = 6;
export const LK_ADDRS = 7; // offset of LA_WORDS records
export const LK_WORDS = 8;
export const LA_FAMILY = 0;
export const LA_ADDR = 1; // 4 words
export const LA_MASK = 5; // 4 words
export const LA_SCOPE = 9;
export const LA_SECONDARY = 10;
export const LA_WORDS = 11;
export const RO_FAMILY = 0;
export const RO_TABLE = 1;
export const RO_TYPE = 2; // RTYPE_*
export const RO_PREFIX = 3;
export const RO_DST = 4; // 4 words
export const RO_MASK = 8; // 4 words
export const RO_METRIC = 12;
export const RO_DEV = 13; // link index, -1 none
export const RO_HASGW = 14;
export const RO_GW = 15; // 4 words
export const RO_WORDS = 19;
export const RTYPE_UNICAST = 0;
export const RTYPE_LOCAL = 1;
export const RTYPE_BROADCAST = 2;
export const RTYPE_ANYCAST = 3;
export const RTYPE_MULTICAST = 4;
export const RTYPE_BLACKHOLE = 5;
export const RTYPE_UNREACHABLE = 6;
export const RTYPE_PROHIBIT = 7;
export const RTYPE_THROW = 8;
export const RTYPE_NAT = 9;
export const PR_FAMILY = 0;
export const PR_PRIO = 1;
export const PR_FLAGS = 2; // PRF_*
export const PR_ACTION = 3; // PRA_*
export const PR_TABLE = 4;
export const PR_SUPPRESS = 5; // suppress_prefixlength, -1 none
export const PR_SRC = 6; // 4 words
export const PR_SRCMASK = 10; // 4 words
export const PR_DST = 14; // 4 words
export const PR_DSTMASK = 18; // 4 words
export const PR_IIF = 22; // IFACE_WORDS
export const PR_MARK = 28;
export const PR_MARKMASK = 29;
export const PR_WORDS = 30;
export const PRF_NOT = 1;
export const PRF_SRC = 2;
export const PRF_DST = 4;
export const PRF_IIF = 8;
export const PRF_OIF = 16;
export const PRF_MARK = 32;
export const PRA_LOOKUP = 0;
export const PRA_BLACKHOLE = 1;
export const PRA_UNREACHABLE = 2;
export const PRA_PROHIBIT = 3;
export const PRA_NOP = 4;

// ---- chain regions (layout 7) ----
// Each chain is one contiguous region: a CHAIN_WORDS header, then its rules' records in chain
// order, each record followed by its match ops and its target block. Regions are laid out in walk
// order (a depth-first visit of the jump graph: KUBE-SERVICES, KUBE-SVC-A, its KUBE-SEPs,
// KUBE-SVC-B, …), so a packet's visit of a chain reads one stretch of memory, and a service's
// chains sit side by side, instead of touching records, ops and chain tables spread over the buffer.
export const CHAIN_WORDS = 4;
export const C_FIRST = 0; // first rule id (a chain's rules have consecutive ids)
export const C_COUNT = 1; // number of rules
export const C_POLICY = 2; // POLICY_*
export const C_ID = 3; // the chain id (the policy step names it)

// ---- rule record (at a variable offset in its chain's region) ----
export const RULE_WORDS = 3; // words of a record outside index runs; ops follow at rec + RULE_WORDS
export const R_META = 0; // bits 0..15 number of match ops, bits 16..23 target kind, RF_* flags above
export const R_TARG = 1; // target argument: chain region offset (jump/goto) or offset of a target block
export const R_SIZE = 2; // words of the record, its ops and its target block: the next rule's record follows
// a record in an index run (RF_RUN) has three more words; its ops follow at rec + RUN_RULE_WORDS
export const R_RUN = 3; // offset of the run's record (RUN_WORDS)
export const R_NEXT = 4; // record offset of the next rule of the run with the same key, or of the rule one past the run
export const R_NEXTID = 5; // that rule's id
export const R_ID = 6; // the rule's own id (a hash slot names only the record)
export const RUN_RULE_WORDS = 7;
export const RF_RUN = 16777216; // bit 24: the rule is in an index run
export const RF_START = 33554432; // bit 25: the first rule of an index run (the walk looks the packet's key up here)
export const RF_CASCADE = 67108864; // bit 26: in a random cascade: the word after its one op is the count of cascade rules from it on
export const RN_TK_SHIFT = 16;
export const RN_NOPS_MASK = 0xffff;

export const POLICY_NONE = 0; // user chain
export const POLICY_ACCEPT = 1;
export const POLICY_DROP = 2;

// ---- hooks ----
export const HOOK_PREROUTING = 0;
export const HOOK_INPUT = 1;
export const HOOK_FORWARD = 2;
export const HOOK_OUTPUT = 3;
export const HOOK_POSTROUTING = 4;
export const NHOOKS = 5;
// A hook's plan (src/model/hooks.ts hookPlan): the base chains in walk order, nat chains last
// among those that run at one priority (the walk treats them as one group), IPVS as chain -1.
export const PLAN_WORDS = 4;
export const PL_CHAIN = 0; // chain id, -1 for the IPVS stage
export const PL_KIND = 1; // PK_*
export const PL_PRIO = 2; // the chain's own priority
export const PL_AT = 3; // where it runs: its priority, or the NAT core's for nat chains
export const PK_CHAIN = 0;
export const PK_NAT = 1;
export const PK_IPVS = 2;
export const MAX_TIE = 64; // entries at one priority the wasm walk orders; more: the host walks the packet

// ---- index runs: consecutive rules keyed on an exact destination address, or on one
// destination port (KUBE-NODEPORTS) ----
export const RUN_WORDS = 7;
export const RU_START = 0; // first rule id of the run
export const RU_END = 1; // rule id one past the run
export const RU_HASH = 2; // absolute word offset of the hash table
export const RU_MASK = 3; // slots - 1 (power of two)
export const RU_KIND = 4; // KEY_*: what the hash is keyed on
export const RU_ENDREC = 5; // record offset of the rule one past the run (may be the chain region's end)
export const RU_SLOTW = 6; // words per hash slot: SLOT_WORDS, or SLOT_COMPACT when every key's words 1..3 are 0
export const KEY_DST = 0; // the destination address (4 words)
export const KEY_DPORT = 1; // the destination port (word 0; words 1..3 are 0)
// Hash slots name the first candidate's record (0 = empty slot; its id is the record's R_ID).
// Full slots are 8 words on 32-byte boundaries (one probe, one cache line): k0 k1 k2 k3, record, 3 unused.
// Compact slots (port keys, IPv4 addresses) are 2 words, k0 and record, so the table of a
// 20,000-service KUBE-SERVICES stays a few hundred KB: the cache keeps it between packets.
export const SLOT_WORDS = 8;
export const SL_REC = 4;
export const SLOT_COMPACT = 2;
export const SC_REC = 1;
// ---- random cascades: consecutive rules of one chain whose only match is `statistic --mode
// random` (kube-proxy's endpoint choice) and whose records lie CASCADE_WORDS apart (no target
// block), so a sampled walk reads the thresholds as one stride ----
export const RANDOM_OP_WORDS = 2; // head, threshold
// a record whose only op is a random draw: header, op, and one word for the cascade count
export const CASCADE_WORDS = 6;
export const MIN_CASCADE = 2; // rules

// ---- node context block (at H_NODE) ----
export const N_UPLINK = 0; // IFACE_WORDS: the uplink interface
export const N_PODS = 6; // IFACE_WORDS: the pods interface
export const N_NADDR = 12; // node addresses (count), then at N_ADDRS count × 5 words (family, w0..w3)
export const N_NCIDR = 13; // pod CIDRs (count), then after the addresses count × 9 words (family, w0..3, m0..3)
export const N_FIRST4 = 14; // index of the first non-loopback v4 node address or -1
export const N_FIRST6 = 15; // same for v6
export const N_ADDRS = 16;
export const NADDR_WORDS = 5;
export const NCIDR_WORDS = 9;

// An interface as the walk sees it: [len | prefix << 8 | present << 9, 4 words of name bytes (≤16)].
export const IFACE_WORDS = 6;
export const IF_META = 0;
export const IF_BYTES = 1;
export const IF_PREFIX_BIT = 256;
export const IF_PRESENT_BIT = 512;

// ---- match ops: word 0 = kind | invert << 8 | length-in-words << 16 ----
export const OP_INV_BIT = 256;
export const OP_LEN_SHIFT = 16;

export const M_SRC4 = 1; // addr, mask
export const M_DST4 = 2; // addr, mask
export const M_SRC6 = 3; // a0..a3, m0..m3
export const M_DST6 = 4; // a0..a3, m0..m3
export const M_PROTO = 5; // proto
export const M_IN_IFACE = 6; // IFACE block (prefix = pattern ended in '+')
export const M_OUT_IFACE = 7; // IFACE block
export const M_FRAGMENT = 8; //
export const M_SPORT = 9; // lo | hi << 16
export const M_DPORT = 10; // lo | hi << 16
export const M_MULTIPORT = 11; // dir (0 src 1 dst 2 any), n, n × (lo | hi << 16)
export const M_TCPFLAGS = 12; // mask, comp
export const M_ICMPTYPE = 13; // type, code (-1 = any), v6 (0/1)
export const M_MARK = 14; // value, mask
export const M_CONNMARK = 15; // value, mask
export const M_CTSTATE = 16; // states
export const M_CTADDR = 17; // field (0 origsrc 1 origdst 2 replsrc 3 repldst), a0..a3, m0..m3, family
export const M_CTPORT = 18; // field, lo | hi << 16
export const M_CTDIR = 19; // reply (0/1)
export const M_CTPROTO = 20; // proto
export const M_ADDRTYPE = 21; // flags (AT_*), srcTypes, dstTypes, string id of the --limit-iface reason
export const M_RANDOM = 22; // threshold
export const M_NTH = 23; // every, packet, counter index
export const M_IPRANGE = 24; // dir (0 src 1 dst), lo0..3, hi0..3, family
export const M_PHYSDEV = 25; // PD_* bits: which tests are present / inverted
export const M_OWNER = 26; // 1 when every given criterion is inverted, label string id, reason string id
export const M_LIMIT = 27; // string id of the module name (for the note)
export const M_POLICY = 28; // POL_*, string id of the reason when unmodelled, label string id
export const M_UNKNOWN = 29; // string id of the reason, label string id (an A_MATCH condition)
export const M_HOST = 30; // unencodable interface names: evaluated by the host (the walk yields ST_HOST)
export const M_CONST = 31; // value (0/1): a match whose answer the compiler already knows (ipvs without IPVS state)
export const M_SET = 33; // (7 words) set id (-1: not supplied), dir bits (bit d = dst for dimension d), number of dirs, returnNomatch, string id of the 'not supplied' reason, label string id
export const M_NFPROTO = 35; // family (4/6): the packet's family (a v4 op never matches a v6 packet: inet tables)
export const M_IPVS = 34; // (13 words) IPM_* flags, vaddr family, a0..a3, m0..m3, vproto, vport
export const IPM_IPVS = 1;
export const IPM_IPVS_INV = 2;
export const IPM_VADDR = 4;
export const IPM_VADDR_INV = 8;
export const IPM_VPROTO = 16;
export const IPM_VPROTO_INV = 32;
export const IPM_VPORT = 64;
export const IPM_VPORT_INV = 128;
export const IPM_VDIR = 256;
export const IPM_VDIR_INV = 512;
export const IPM_VDIR_REPLY = 1024;
export const M_RECENT = 32; // (10 words) list id, RC_* op, seconds (-1 none), hitcount (-1 none), side (0 src 1 dst), m0..m3
export const RC_RCHECK = 0;
export const RC_UPDATE = 1;
export const RC_SET = 2;
export const RC_REMOVE = 3;

// ---- ipsets (at H_SETS): src/compile/sets.ts writes, assembly/ipset.ts reads (src/engine/ipset-match.ts semantics) ----
export const SET_HASH = 0; // hash:* and bitmap:ip*: prefix groups of hash tables
export const SET_BITMAP_PORT = 1; // 2048-word membership bitmap at SB_DATA
export const SET_LIST = 2; // list:set: SB_N member set ids (-1 = not supplied) after the block
export const SD_ADDR = 0; // ip / net: 4 key words (masked by the group's prefix)
export const SD_PORT = 1; // 1 key word: proto << 16 | port
export const SD_IFACE = 2; // 5 key words: name length (-1 = any interface), 4 words of name bytes
export const SD_MARK = 3; // 1 key word: mark & markmask
export const SD_MAC = 4; // not decidable from a routed packet
export const SB_KIND = 0;
export const SB_FAMILY = 1; // 4 / 6; 0 = any family (hash:mac)
export const SB_NDIMS = 2;
export const SB_DIMS = 3; // 4 words: SD_* per dimension
export const SB_MARKMASK = 7;
export const SB_KW = 8; // key words of a hash slot
export const SB_UNSUPPORTED = 9; // 1: lookups are undecidable (a mac dimension)
export const SB_N = 10; // prefix groups (hash) or members (list)
export const SB_DATA = 11; // bitmap offset (bitmap:port)
export const SB_WORDS = 12; // then SB_N groups of GR_WORDS (hash) or SB_N member ids (list)
export const GR_PREFIX = 0; // 4 words: prefix length per address dimension, in dimension order
export const GR_HASH = 4; // offset of the hash table: slots of KW key words + 1 value word (0 empty)
export const GR_MASK = 5; // slots - 1
export const GR_NWILD = 6; // wildcard-interface entries (hash:net,iface), scanned in order
export const GR_WILD = 7; // offset of them: KW key words (interface part = any) + IFACE_WORDS pattern + nomatch
export const GR_WORDS = 8;
export const SV_MATCH = 1;
export const SV_NOMATCH = 2;
export const SV_ANY_IFACE = 4; // the network exists here with some interface (hash:net,iface shadowing)

// ---- IPVS (at H_IPVS): src/compile/ipvs.ts writes, assembly/ipvs.ts reads (src/engine/ipvs-schedule.ts semantics) ----
export const IV_NSVC = 0;
export const IV_FLAGS = 1; // IVF_*
export const IV_TUPLE = 2; // hash of <family, proto, a0..a3, port> → service: TUPLE_SLOT words per slot (service -1 = empty)
export const IV_TUPLE_MASK = 3;
export const IV_FW = 4; // hash of <family, fwmark> → service: FW_SLOT words per slot
export const IV_FW_MASK = 5;
export const IV_SVCS = 6; // service records, VS_WORDS each
export const IV_REJECT = 7; // string id of icmp-port-unreachable
export const IV_WORDS = 8;
export const IVF_FTP = 1; // a service on port 21 exists (the FTP-data fallback)
export const IVF_NULLPORT = 2; // a port-0 service exists (the catch-all fallback)
export const TUPLE_SLOT = 8;
export const FW_SLOT = 3;
export const VS_SCHED = 0; // SCHED_*
export const VS_FLAGS = 1; // VSF_*
export const VS_NREALS = 2;
export const VS_REALS = 3; // offset of the real server records (RL_WORDS each)
export const VS_TABLE = 4; // offset of the sh/dh/mh table (entries: real index, -1 empty)
export const VS_NOTES0 = 5; // notes when the query has no connection counts: offset of [n, string ids…]
export const VS_NOTES1 = 6; // notes when the query has connection counts
export const VS_NOTE_EMPTY = 7; // string id of the "no real server available" note
export const VS_PROTO = 8; // protocol number, -1 for a fwmark service
export const VS_PORT = 9; // port, -1 when none
export const VS_FAMILY = 10; // family of VS_ADDR, 0 when the service has no address
export const VS_ADDR = 11; // 4 words
export const VS_WORDS = 16;
export const VSF_SH_PORT = 1;
export const VSF_SH_FALLBACK = 2;
export const VSF_MH_PORT = 4;
export const VSF_MH_FALLBACK = 8;
export const VSF_DUMP_CONNS = 16; // the dump has ActiveConn/InActConn columns for this service
export const SCHED_RR = 0; // equal shares among available servers
export const SCHED_WRR = 1; // weight-proportional shares
export const SCHED_LC = 2;
export const SCHED_WLC = 3;
export const SCHED_SED = 4;
export const SCHED_NQ = 5;
export const SCHED_FO = 6;
export const SCHED_OVF = 7;
export const SCHED_SH = 8;
export const SCHED_DH = 9;
export const SCHED_MH = 10;
export const RL_ADDR = 0; // 4 words
export const RL_PORT = 4;
export const RL_FWD = 5; // 0 masq, 1 gate, 2 ipip
export const RL_WEIGHT = 6;
export const RL_UPPER = 7; // upper threshold, 0 none
export const RL_ACT = 8; // ActiveConn of the dump
export const RL_INACT = 9;
export const RL_GLOBAL = 10; // index over all services' real servers (the query's connection pairs name it)
export const RL_WORDS = 11;
export const SH_SIZE = 256;
export const MH_SIZE = 251;

export const AT_HAS_SRC = 1;
export const AT_SRC_INV = 2;
export const AT_HAS_DST = 4;
export const AT_DST_INV = 8;
export const AT_LIMIT_IN = 16;
export const AT_LIMIT_OUT = 32;

export const POL_NONE = 0; // --pol none: matches
export const POL_IPSEC = 1; // --pol ipsec: does not match
export const POL_UNMODELLED = 2; // uncertain

// ---- targets (kind in R_NOPS_TK bits 16..23) ----
export const T_NONE = 0;
export const T_ACCEPT = 1;
export const T_DROP = 2;
export const T_RETURN = 3;
export const T_REJECT = 4; // targ = string id of --reject-with
export const T_JUMP = 5; // targ = chain id
export const T_GOTO = 6; // targ = chain id
export const T_DNAT = 7; // targ = NAT block
export const T_SNAT = 8; // targ = NAT block
export const T_MASQUERADE = 9; // targ = NAT block (ports only)
export const T_REDIRECT = 10; // targ = NAT block (ports only)
export const T_MARK = 11; // targ = block [value, mask]
export const T_CONNMARK_SET = 12; // targ = block [value, mask]
export const T_CONNMARK_SAVE = 13; // targ = block [nfmask, ctmask]
export const T_CONNMARK_RESTORE = 14; // targ = block [nfmask, ctmask]
export const T_NOOP = 15; // LOG, NFLOG, CT without --notrack, …
export const T_NOTRACK = 16;
export const T_UNKNOWN = 17; // targ = string id of the uncertain reason
export const T_MISSING_CHAIN = 18; // jump/goto to a chain the dump lacks; targ = string id of the reason

// NAT block: only the first --to range counts (kernels since 2.6.11); the rest only add a note.
export const NAT_WORDS = 15;
export const NR_NRANGES = 0;
export const NR_FLAGS = 1; // NRF_* bits
export const NR_COUNT = 2; // addresses in lo..hi, capped at NAT_MAX_BRANCHES + 1
export const NR_LO = 3; // 4 words
export const NR_HI = 7; // 4 words
export const NR_PLO = 11;
export const NR_PHI = 12;
export const NR_REASON = 13; // string id of the uncertain reason when COUNT > NAT_MAX_BRANCHES
export const NR_WHAT = 14; // NAT_WHAT_*: the target's name in the port-range note
export const NRF_ADDR = 1;
export const NRF_PORTS = 2;
export const NAT_WHAT_DNAT = 0;
export const NAT_WHAT_SNAT = 1;
export const NAT_WHAT_MASQUERADE = 2;
export const NAT_WHAT_REDIRECT = 3;
export const NAT_MAX_BRANCHES = 256;

// ---- wasm memory regions (bytes; JS owns them) ----
// Static data of the AssemblyScript module lives below IO_BASE_BYTES (checked at load time).
export const IO_BASE_BYTES = 65536;
export const MAX_BATCH = 1024;
export const PKT_WORDS = 32;
// packet record (input)
export const P_FAMILY = 0;
export const P_PROTO = 1;
export const P_SRC = 2; // 4 words
export const P_DST = 6; // 4 words
export const P_SPORT = 10;
export const P_DPORT = 11;
export const P_ICMPTYPE = 12;
export const P_ICMPCODE = 13;
export const P_ORIGIN = 14; // ORIGIN_*
export const P_MARK = 15;
export const P_CONNMARK = 16;
export const P_CTSTATE = 17;
export const P_IN_IFACE = 18; // IFACE block (present bit clear: no input interface)
export const P_OUT_IFACE = 24; // IFACE block (present bit clear: decided by routing)
export const P_CONNQ = 30; // 1 when the query gave active connections (IPVS lc/wlc/sed/nq/ovf)
export const P_CONNS = 31; // first pair index in CONN_BYTES | pair count << 16
export const ORIGIN_EXTERNAL = 0;
export const ORIGIN_POD = 1;
export const ORIGIN_HOST = 2;

export const IN_BYTES = IO_BASE_BYTES; // MAX_BATCH × PKT_WORDS words
export const FORCED_BYTES = IN_BYTES + MAX_BATCH * PKT_WORDS * 4; // forced branches (walk)
export const MAX_FORCED = 4096;
export const TRACE_OUT_BYTES = FORCED_BYTES + MAX_FORCED * 4; // MAX_BATCH × TRACE_WORDS
export const TRACE_WORDS = 14;
export const TR_STATUS = 0;
export const TR_VERDICT = 1;
export const TR_DST = 2;
export const TR_DPORT = 6;
export const TR_SRC = 7;
export const TR_MASQ = 11;
export const TR_RULES = 12;
export const TR_NASM = 13; // decided assumptions of this packet, appended in order at TASM_BYTES

// walk output: a fixed head, then the variable lists at fixed offsets
export const OUT_BYTES = TRACE_OUT_BYTES + MAX_BATCH * TRACE_WORDS * 4;
export const O_STATUS = 0;
export const O_VERDICT = 1; // VERDICT_*
export const O_REJECT = 2; // string id of --reject-with (-1 none)
export const O_DST = 3; // 4 words
export const O_DPORT = 7;
export const O_SRC = 8; // 4 words
export const O_SPORT = 12;
export const O_MASQ = 13;
export const O_OUT_IFACE = 14; // OIF_*
export const O_RULES = 15;
export const O_NPATH = 16;
export const O_NASM = 17;
export const O_NDEC = 18;
export const O_NNOTES = 19;
export const O_NPROBS = 20;
export const O_OUT_LINK = 21; // OIF_LINK: the link index
export const O_HEAD_WORDS = 32;
export const MAX_PATH = 8192;
export const MAX_DEC = 4096;
export const MAX_NOTES = 1024;
export const MAX_PROBS = 16384;
export const O_PATH = O_HEAD_WORDS; // MAX_PATH × 2 words: kind (STEP_*), id
export const O_ASM = O_PATH + MAX_PATH * 2; // MAX_ASM × ASM_WORDS
export const O_DEC = O_ASM + MAX_ASM * ASM_WORDS; // MAX_DEC × 3 words: first prob index, count, taken
export const O_NOTES = O_DEC + MAX_DEC * 3; // MAX_NOTES × NOTE_WORDS
export const O_WORDS = O_NOTES + MAX_NOTES * 7;
export const PROBS_BYTES = OUT_BYTES + O_WORDS * 4; // MAX_PROBS f64
// persistent trace state: nth counters; then the jump stack (MAX_DEPTH × 4 words: record, rule id, chain end)
export const STATE_BYTES = PROBS_BYTES + MAX_PROBS * 8;
export const STACK_BYTES = STATE_BYTES + 65536 * 4;
export const MAX_NTH = 65536; // rules with a statistic-nth match (one counter per rule, as the reference)
// recent lists (open addressing): slot = [list id + 1 (0 empty), a0..a3, secondsAgo, hits (-1 removed), 0]
export const RECENT_BYTES = STACK_BYTES + 1024 * 16;
export const RECENT_SLOTS = 65536;
export const RECENT_WORDS = 8;
export const RECENT_MAX = 32768; // entries before the walk hands the batch to the host (keeps probes short)
// the query's active connections, as (global real index, count) pairs for the packets of a batch
export const CONN_BYTES = RECENT_BYTES + RECENT_SLOTS * RECENT_WORDS * 4;
export const MAX_CONNS = 16384;
// IPVS scheduling scratch: candidate real index (i32) and share (f64) per real server
export const BR_BYTES = CONN_BYTES + MAX_CONNS * 8;
export const MAX_REALS = 65536;
// a trace batch's decided assumptions: ASM_WORDS each, packets in order (TR_NASM per packet)
export const TASM_BYTES = BR_BYTES + MAX_REALS * 12;
export const MAX_TASM = 4096;
// columnar batch trace (traceCols, src/engine/columns.ts): COLS packets a call as columns in,
// results as columns out, each column at a fixed byte address (all 8-byte aligned)
export const COLS = 4096;
export const CI_FAMILY = TASM_BYTES + MAX_TASM * ASM_WORDS * 4; // u8 × COLS: 4 / 6
export const CI_PROTO = CI_FAMILY + COLS; // u8
export const CI_ORIGIN = CI_PROTO + COLS; // u8 (ORIGIN_*)
export const CI_SPORT = CI_ORIGIN + COLS * 2; // u16
export const CI_DPORT = CI_SPORT + COLS * 2; // u16
export const CI_SRC = CI_DPORT + COLS * 2; // u32 × 4 per packet (IPv4: word 0)
export const CI_DST = CI_SRC + COLS * 16; // u32 × 4
export const CO_VERDICT = CI_DST + COLS * 16; // u8 (VERDICT_*)
export const CO_MASQ = CO_VERDICT + COLS; // u8
export const CO_DPORT = CO_MASQ + COLS; // u16 (0 for icmp)
export const CO_RULES = CO_DPORT + COLS * 2; // u32
export const CO_DST = CO_RULES + COLS * 4; // u32 × 4 (IPv4: words 1..3 zero)
export const CO_SRC = CO_DST + COLS * 16; // u32 × 4
// packet templates: i32 index by (origin * 2 + (family 6 ? 1 : 0)) * 256 + protocol → template (-1 none),
// then MAX_TEMPLATES packet records (PKT_WORDS) that the columns fill with addresses and ports
export const CT_INDEX = CO_SRC + COLS * 16;
export const CT_KEYS = 3 * 2 * 256;
export const MAX_TEMPLATES = 32;
export const CT_PKTS = CT_INDEX + CT_KEYS * 4;
export const CO_STATUS = CT_PKTS + MAX_TEMPLATES * PKT_WORDS * 4; // i32: status of the packet traceCols stopped at
export const RS_BASE_BYTES = CO_STATUS + 64; // the compiled ruleset is copied here (64-byte aligned: cache lines)

export const STEP_RULE = 0;
export const STEP_POLICY = 1;
export const STEP_IPVS = 2;

export const VERDICT_ACCEPT = 0;
export const VERDICT_DROP = 1;
export const VERDICT_REJECT = 2;

export const OIF_NONE = 0;
export const OIF_LO = 1;
export const OIF_PODS = 2;
export const OIF_UPLINK = 3;
export const OIF_QUERY = 4;
export const OIF_LINK = 5; // one of the node's links (routing): its index at O_OUT_LINK


// note records: [code, arg, arg2, w0, w1, w2, w3]
export const NOTE_WORDS = 7;
export const NOTE_STRING = 1; // arg = string id of the text
export const NOTE_PHYSDEV = 2;
export const NOTE_MASQ_NOADDR = 3; // arg = family, w = the source left in place
export const NOTE_REDIRECT_NOADDR = 4; // arg = family, w = the destination left in place
export const NOTE_NAT_PORT = 5; // arg = NAT_WHAT_*, arg2 = packet port, w0 = lo, w1 = hi
export const NOTE_NAT_MULTI = 6;
export const NOTE_ROUTE = 8; // arg = ROUTE_FAIL code (src/compile/routing.ts), w = the destination
export const NOTE_IPVS_FWD = 7; // gate/ipip: arg = global real index (RL_GLOBAL), arg2 = endpoint port, w = the destination kept

// status codes returned by the walk (mapped to typed errors in src/engine/wasm.ts)
export const ST_OK = 0;
export const ST_HOST = 1; // needs a host-side feature: JS walks this packet with the reference
export const ST_DEPTH = 2; // chain nesting beyond MAX_DEPTH
export const ST_OVERFLOW = 3; // an output list is full
export const ST_BAD_RULESET = 4;
export const ST_FORCED = 5; // a forced branch out of range
export const ST_LOOP = 6; // more than MAX_STEPS rule evaluations
export const MAX_DEPTH = 1024; // jump frames, as the reference walk
export const MAX_STEPS = 10000000;
