// The line-delimited JSON protocol between the lab (parent) and its agents (one node process per
// namespace, see agent.ts). Types only: both sides import it, nothing of it exists at run time.

export type LabProtocol = 'tcp' | 'udp';

/** One listening address; TCP ones may be collapsed to a wildcard per port (see ListenRequest). */
export interface ListenSpec {
  proto: LabProtocol;
  ip: string;
  port: number;
}

export interface ListenRequest {
  op: 'listen';
  specs: ListenSpec[];
  /**
   * Listen on the wildcard address for TCP, one socket per port: an accepted socket still knows the
   * address it was reached on, and 50k endpoints would otherwise need 50k descriptors. UDP always
   * binds each address, because a wildcard UDP socket cannot tell which address a datagram hit.
   */
  tcpWildcard: boolean;
}

export interface ProbeRequest {
  op: 'probe';
  proto: LabProtocol;
  dst: string;
  port: number;
  /** Source address to bind (must be local in the agent's namespace); the kernel picks when absent. */
  src?: string;
  count: number;
  /** Connections in flight at once; 1 makes them strictly sequential (affinity needs that). */
  concurrency: number;
  /** Per connection: no answer within this = timeout (a DROP, or nowhere to go). */
  timeoutMs: number;
}

export type Request = (ListenRequest | ProbeRequest | { op: 'ping' }) & { id: number };

/** How one connection ended. */
export type ProbeRecord =
  | {
      kind: 'landed';
      /** Address the server was reached on (= where the packet landed after DNAT). */
      local: string;
      /** Peer address the server saw (differs from `client` when SNAT/MASQUERADE applied). */
      peer: string;
      /** The client's own address (getsockname). */
      client: string;
      /** Connection setup time (TCP: SYN to established; UDP: request to answer), microseconds. */
      us: number;
    }
  /** ECONNREFUSED / EHOSTUNREACH / ENETUNREACH quickly: an ICMP error or RST, i.e. REJECT. */
  | { kind: 'refused'; code: string; us: number }
  /** Nothing within the timeout: DROP (or a packet that went nowhere). */
  | { kind: 'timeout'; us: number }
  /** EPERM on send: the node's own OUTPUT path dropped it (host origin). */
  | { kind: 'blocked'; code: string; us: number }
  /** Anything else (bind failure, a connection closed without an answer…). */
  | { kind: 'error'; code: string; message: string; us: number };

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
