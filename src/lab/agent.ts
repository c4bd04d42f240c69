// The in-namespace agent: started by the lab as `ip netns exec <ns> node agent.js`, it listens on
// endpoint addresses and makes probe connections, driven by line-delimited JSON on stdin (one
// request per line, one response per line on stdout; see protocol.ts). One long-lived process per
// namespace keeps a test run fast (no node start-up per probe).
//
// Standalone on purpose: node built-ins only, no imports from the rest of landfall, so that the
// same file runs from src/ under tsx and from dist/ as plain JS.
import dgram from 'node:dgram';
import net from 'node:net';
import { createInterface } from 'node:readline';
import type { ListenRequest, ListenSpec, ProbeRecord, ProbeRequest, Request, Response } from './protocol.js';

/** Hard upper bounds, whatever a request asks for. */
const MAX_PROBES = 100_000;
const MAX_CONCURRENCY = 256;
const MAX_TIMEOUT_MS = 10_000;
/** The agent exits on its own after this long (env LANDFALL_AGENT_TTL_MS), in case its parent died. */
const TTL_MS = Number(process.env.LANDFALL_AGENT_TTL_MS ?? 30 * 60_000);

/** Errors that mean "the network said no" quickly: an ICMP error or a RST, i.e. REJECT. */
const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EACCES']);
/** How long an EPERM send waits for a REJECT's ICMP error before it counts as a DROP. */
const EPERM_GRACE_MS = 100;

const servers: Array<net.Server | dgram.Socket> = [];

function fmt(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// Listening

function answer(local: string, peer: string): string {
  return `${JSON.stringify({ l: local, p: peer })}\n`;
}

function listenTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      sock.on('error', () => undefined);
      // The accepted socket's own address is where the connection landed, even on a wildcard.
      sock.end(answer(fmt(sock.localAddress ?? '?', sock.localPort ?? 0), fmt(sock.remoteAddress ?? '?', sock.remotePort ?? 0)));
    });
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host.includes(':'), backlog: 1024 }, () => {
      server.removeListener('error', reject);
      server.on('error', () => undefined);
      servers.push(server);
      resolve();
    });
  });
}

function listenUdp(ip: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4' });
    sock.once('error', reject);
    sock.on('message', (_msg, rinfo) => {
      sock.send(answer(fmt(ip, port), fmt(rinfo.address, rinfo.port)), rinfo.port, rinfo.address);
    });
    sock.bind({ address: ip, port }, () => {
      sock.removeListener('error', reject);
      sock.on('error', () => undefined);
      servers.push(sock);
      resolve();
    });
  });
}

async function listen(req: ListenRequest): Promise<{ sockets: number }> {
  const seen = new Set<string>();
  const jobs: Array<() => Promise<void>> = [];
  for (const s of req.specs as ListenSpec[]) {
    const host = s.proto === 'tcp' && req.tcpWildcard ? (s.ip.includes(':') ? '::' : '0.0.0.0') : s.ip;
    const key = `${s.proto} ${fmt(host, s.port)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    jobs.push(() => (s.proto === 'tcp' ? listenTcp(host, s.port) : listenUdp(host, s.port)));
  }
  await Promise.all(jobs.map((j) => j()));
  return { sockets: jobs.length };
}

// ---------------------------------------------------------------------------------------------
// Probing

const elapsedUs = (t0: bigint): number => Number((process.hrtime.bigint() - t0) / 1000n);

function parseAnswer(text: string): { l: string; p: string } | null {
  try {
    const v = JSON.parse(text.trim()) as { l?: unknown; p?: unknown };
    return typeof v.l === 'string' && typeof v.p === 'string' ? { l: v.l, p: v.p } : null;
  } catch {
    return null;
  }
}

function failure(e: NodeJS.ErrnoException, t0: bigint): ProbeRecord {
  const code = e.code ?? 'UNKNOWN';
  if (REFUSED.has(code)) return { kind: 'refused', code, us: elapsedUs(t0) };
  if (code === 'EPERM') return { kind: 'blocked', code, us: elapsedUs(t0) };
  return { kind: 'error', code, message: e.message, us: elapsedUs(t0) };
}

function probeTcp(req: ProbeRequest): Promise<ProbeRecord> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let setupUs = 0;
    let client = '';
    let data = '';
    let done = false;
    const finish = (r: ProbeRecord): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const sock = net.connect({ host: req.dst, port: req.port, localAddress: req.src });
    const timer = setTimeout(() => finish({ kind: 'timeout', us: elapsedUs(t0) }), req.timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      setupUs = elapsedUs(t0);
      client = fmt(sock.localAddress ?? '?', sock.localPort ?? 0);
    });
    sock.on('data', (chunk: string) => {
      data += chunk;
      if (data.length > 4096) finish({ kind: 'error', code: 'EPROTO', message: 'answer too long', us: elapsedUs(t0) });
    });
    sock.on('end', () => {
      const a = parseAnswer(data);
      finish(a ? { kind: 'landed', local: a.l, peer: a.p, client, us: setupUs } : { kind: 'error', code: 'EPROTO', message: `bad answer ${JSON.stringify(data.slice(0, 80))}`, us: elapsedUs(t0) });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish(failure(e, t0)));
  });
}

/**
 * UDP source ports come from a counter below the kernel's ephemeral range: a reused port within
 * conntrack's UDP timeout would ride on an existing conntrack entry (and its earlier DNAT choice)
 * instead of walking the rules afresh, skewing distributions.
 */
let nextUdpPort = 20_000;
function takeUdpPort(): number {
  const p = nextUdpPort;
  nextUdpPort = nextUdpPort >= 32_000 ? 20_000 : nextUdpPort + 1;
  return p;
}

function probeUdpOnce(req: ProbeRequest, srcPort: number): Promise<ProbeRecord | 'busy'> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const sock = dgram.createSocket({ type: req.dst.includes(':') ? 'udp6' : 'udp4' });
    let done = false;
    let client = '';
    const finish = (r: ProbeRecord | 'busy'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    let timer = setTimeout(() => finish({ kind: 'timeout', us: elapsedUs(t0) }), req.timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'EADDRINUSE' ? 'busy' : failure(e, t0)));
    // On the node itself a filtered send fails with EPERM at once, for DROP and REJECT alike; a
    // REJECT's ICMP error follows within microseconds and arrives as ECONNREFUSED: wait for it.
    const blocked = (e: NodeJS.ErrnoException): void => {
      const r = failure(e, t0);
      if (r.kind !== 'blocked') return finish(r);
      clearTimeout(timer);
      timer = setTimeout(() => finish(r), EPERM_GRACE_MS);
    };
    sock.on('message', (msg) => {
      const a = parseAnswer(msg.toString('utf8'));
      finish(a ? { kind: 'landed', local: a.l, peer: a.p, client, us: elapsedUs(t0) } : { kind: 'error', code: 'EPROTO', message: 'bad answer', us: elapsedUs(t0) });
    });
    sock.bind({ address: req.src, port: srcPort }, () => {
      // A connected socket receives ICMP errors (port unreachable → ECONNREFUSED) as socket errors.
      sock.connect(req.port, req.dst, () => {
        const a = sock.address();
        client = fmt(a.address, a.port);
        sock.send('probe\n', (e) => {
          if (e) blocked(e as NodeJS.ErrnoException);
        });
      });
    });
  });
}

async function probeUdp(req: ProbeRequest): Promise<ProbeRecord> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await probeUdpOnce(req, takeUdpPort());
    if (r !== 'busy') return r;
  }
  return { kind: 'error', code: 'EADDRINUSE', message: 'no free UDP source port', us: 0 };
}

async function probe(req: ProbeRequest): Promise<ProbeRecord[]> {
  const count = Math.min(Math.max(0, Math.floor(req.count)), MAX_PROBES);
  const conc = Math.min(Math.max(1, Math.floor(req.concurrency)), MAX_CONCURRENCY);
  const bounded: ProbeRequest = { ...req, timeoutMs: Math.min(Math.max(1, req.timeoutMs), MAX_TIMEOUT_MS) };
  const results: ProbeRecord[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = bounded.proto === 'tcp' ? await probeTcp(bounded) : await probeUdp(bounded);
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, count) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------------------
// Request loop

function reply(r: Response): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case 'ping':
      return { pid: process.pid };
    case 'listen':
      return listen(req);
    case 'probe':
      return probe(req);
    default:
      throw new Error(`unknown op ${(req as { op: string }).op}`);
  }
}

const ttl = setTimeout(() => process.exit(3), TTL_MS);
ttl.unref();

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch {
    reply({ id: -1, ok: false, error: `bad request line ${JSON.stringify(line.slice(0, 80))}` });
    return;
  }
  handle(req).then(
    (result) => reply({ id: req.id, ok: true, result }),
    (e: unknown) => reply({ id: req.id, ok: false, error: e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim() : String(e) }),
  );
});
// The parent closing our stdin (or dying) ends the agent and with it every socket it held.
rl.on('close', () => process.exit(0));
