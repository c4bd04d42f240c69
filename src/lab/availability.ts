// Can this machine run the lab? Answers with a reason a person can act on, for skipping tests
// and for `landfall scale --kernel` refusing cleanly.
import { haveTool, run } from './exec.js';
import { deleteNamespace, newLabPrefix, track } from './cleanup.js';

export type Availability = { ok: true } | { ok: false; reason: string };

let cached: Promise<Availability> | null = null;

/** Checks root, the tools, and that a namespace can really be made and loaded (cached per process). */
export function labAvailability(): Promise<Availability> {
  cached ??= check();
  return cached;
}

async function check(): Promise<Availability> {
  if (process.platform !== 'linux') return { ok: false, reason: `kernel lab needs Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { ok: false, reason: 'kernel lab needs root (network namespaces, iptables-restore)' };
  for (const tool of ['ip', 'iptables-restore', 'iptables-save'])
    if (!haveTool(tool)) return { ok: false, reason: `kernel lab needs ${tool} (apt-get install iproute2 iptables)` };
  // The real test: make a namespace and load a table into it.
  const ns = `${newLabPrefix()}-node`;
  track(ns);
  try {
    const add = await run('ip', ['netns', 'add', ns], { allowFailure: true, timeoutMs: 10_000 });
    if (add.code !== 0) return { ok: false, reason: `cannot create a network namespace: ${add.stderr || `exit ${add.code}`}` };
    const r = await run('ip', ['netns', 'exec', ns, 'iptables-restore'], { input: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', allowFailure: true, timeoutMs: 10_000 });
    if (r.code !== 0) return { ok: false, reason: `iptables-restore does not work in a namespace: ${r.stderr || `exit ${r.code}`}` };
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `kernel lab unavailable: ${(e as Error).message}` };
  } finally {
    await deleteNamespace(ns);
  }
}

/** Optional tools and what the lab does without them. */
export function optionalTools(): { nfacct: boolean; ipset: boolean; conntrack: boolean; ip6tablesRestore: boolean } {
  return {
    nfacct: haveTool('nfacct'),
    ipset: haveTool('ipset'),
    conntrack: haveTool('conntrack'),
    ip6tablesRestore: haveTool('ip6tables-restore'),
  };
}
