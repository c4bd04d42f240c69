// IPVS state (`ipvsadm-save -n` / `ipvsadm -Ln`): virtual services and their real servers.

import type { Addr } from './addr.js';

export type IpvsScheduler = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sed' | 'nq' | 'sh' | 'dh' | 'mh' | 'lblc' | 'lblcr' | 'fo' | 'ovf' | 'twos';
export type IpvsForward = 'masq' | 'gate' | 'ipip';

export interface RealServer {
  addr: Addr;
  port: number;
  forward: IpvsForward;
  weight: number;
  upperThreshold?: number;
  lowerThreshold?: number;
  /** ActiveConn / InActConn columns of an `ipvsadm -Ln` listing (absent in ipvsadm-save). */
  activeConns?: number;
  inactiveConns?: number;
  /** True when the dump did not say (an `ipvsadm -Ln --stats/--rate` listing): weight is then 1. */
  weightUnknown?: boolean;
  line: number;
  text: string;
}

export interface VirtualService {
  /** 'fwmark' services match by packet mark instead of address/port. */
  protocol: 'tcp' | 'udp' | 'sctp' | 'fwmark';
  addr?: Addr;
  port?: number;
  fwmark?: number;
  family: 4 | 6;
  /** Scheduler name; 'unknown' when the dump did not say (an `ipvsadm -Ln --stats/--rate` listing). */
  scheduler: string;
  /** -b scheduler flags, e.g. sh-port, sh-fallback, mh-port, mh-fallback. */
  schedFlags: string[];
  /** -p persistence timeout in seconds. */
  persistent?: number;
  /** -M persistence netmask. */
  netmask?: string;
  /** -o / --ops: one-packet scheduling (UDP): every datagram is scheduled on its own. */
  ops?: boolean;
  /** --pe persistence engine (e.g. sip). */
  pe?: string;
  reals: RealServer[];
  line: number;
  text: string;
}

export interface IpvsState {
  services: VirtualService[];
  /**
   * Whether `reals` is in the kernel's own destination order (which the sh, dh and mh tables are
   * built from). ipvsadm sorts real servers by address and port unless --nosort, so a parsed dump
   * whose lists are all in that sorted order is 'sorted': the kernel's order is then unknown.
   * Absent = the kernel's order (a dump that proves --nosort, or a hand-built state).
   */
  realOrder?: 'kernel' | 'sorted';
}
