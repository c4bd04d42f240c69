// What tests read and build their input from, written once: files under test/fixtures/ and
// test/corpus/, the ParseError a call must throw, and kube-proxy service truth (the services a
// fixture's rules were written for, as src/kube/cluster.ts GeneratedService records).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GeneratedEndpoint, GeneratedService } from '../../src/kube/cluster.js';
import { ParseError } from '../../src/parse/errors.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const CORPUS = fileURLToPath(new URL('../corpus/', import.meta.url));

/** test/fixtures/<path>. */
export function fixture(path: string): string {
  return readFileSync(FIXTURES + path, 'utf8');
}

/** test/corpus/<name>/<file>, or undefined when that paste has no such file. */
export function corpusFile(name: string, file: string): string | undefined {
  const p = `${CORPUS}${name}/${file}`;
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

/** The ParseError f throws; anything else it throws is rethrown, and not throwing fails. */
export function parseErrorOf(f: () => unknown): ParseError {
  try {
    f();
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
  throw new Error('expected a ParseError');
}

export function endpointOf(ip: string, port: number, local = false): GeneratedEndpoint {
  return { ip, port, endpoint: `${ip}:${port}`, local };
}

/** A tcp ClusterIP service port named "ns/name:port", with everything else at kube's defaults unless given. */
export function serviceOf(p: Partial<GeneratedService> & Pick<GeneratedService, 'name' | 'clusterIP' | 'port'>): GeneratedService {
  const [ns, rest] = p.name.split('/');
  const [serviceName, portName = ''] = rest.split(':');
  return {
    namespace: ns,
    serviceName,
    portName,
    protocol: 'tcp',
    externalIPs: [],
    loadBalancerIPs: [],
    sourceRanges: [],
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    endpoints: [],
    status: 'ok',
    ...p,
  };
}
