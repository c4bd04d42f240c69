// IP protocol names → numbers (/etc/protocols, as iptables, ipset and nft accept them), written
// once: every parser, generator and compiler that meets a protocol name looks it up here.

export const IP_PROTOCOLS = {
  all: 0, icmp: 1, igmp: 2, ipip: 4, tcp: 6, egp: 8, udp: 17, ipv6: 41, rsvp: 46, gre: 47, esp: 50,
  ah: 51, icmpv6: 58, 'ipv6-icmp': 58, 'ipv6-frag': 44, ospf: 89, vrrp: 112, pim: 103, sctp: 132,
  udplite: 136, dccp: 33, mh: 135, ipencap: 4, ipv4: 4, 'ipv6-route': 43, 'ipv6-nonxt': 59, 'ipv6-opts': 60, encap: 98, l2tp: 115,
} as const satisfies Record<string, number>;

/** A protocol name (any case) or number 0–255 → its number; null when neither. */
export function parseProto(s: string): number | null {
  const v = (IP_PROTOCOLS as Record<string, number>)[s.toLowerCase()];
  if (v !== undefined) return v;
  if (/^[0-9]{1,3}$/.test(s) && Number(s) <= 255) return Number(s);
  return null;
}

/** The number of a transport protocol the model names (tcp, udp, sctp, …). */
export function protoNumber(name: keyof typeof IP_PROTOCOLS): number {
  return IP_PROTOCOLS[name];
}

/** A protocol number → its first name ("tcp"), or the number as text. */
export function protoName(p: number): string {
  for (const [k, v] of Object.entries(IP_PROTOCOLS)) if (v === p) return k;
  return String(p);
}
