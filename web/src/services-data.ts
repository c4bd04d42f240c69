// Services of a rule set: fetched once per id and kept (a 20k-service answer is several MB), with
// each service's kind and search text computed once so filtering a keystroke is one pass.
import { api, type Service } from './api.js';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalIP';

export interface Row {
  s: Service;
  type: ServiceType;
  haystack: string;
  noEndpoints: boolean;
}

export function serviceType(s: Service): ServiceType {
  if (s.loadBalancerIPs.length > 0) return 'LoadBalancer';
  if (s.nodePort !== undefined) return 'NodePort';
  if (s.externalIPs.length > 0) return 'ExternalIP';
  return 'ClusterIP';
}

export interface ServiceData {
  rows: Row[];
  namespaces: string[];
  byName: Map<string, Row>;
}

const cache = new Map<string, Promise<ServiceData>>();

export function loadServices(rs: string): Promise<ServiceData> {
  let p = cache.get(rs);
  if (!p) {
    p = api<{ services: Service[] }>('GET', `/v1/rulesets/${encodeURIComponent(rs)}/services`).then(({ services }) => {
      const rows = services.map((s) => ({
        s,
        type: serviceType(s),
        noEndpoints: s.endpoints.length === 0,
        haystack: [s.name, s.clusterIP, s.port, s.nodePort ?? '', ...s.externalIPs, ...s.loadBalancerIPs, ...s.endpoints.map((e) => e.endpoint)].join(' ').toLowerCase(),
      }));
      rows.sort((a, b) => (a.s.name < b.s.name ? -1 : a.s.name > b.s.name ? 1 : 0));
      const namespaces = [...new Set(rows.map((r) => r.s.namespace))].sort();
      return { rows, namespaces, byName: new Map(rows.map((r) => [r.s.name, r])) };
    });
    p.catch(() => cache.delete(rs));
    cache.set(rs, p);
  }
  return p;
}

export interface Filters {
  q: string;
  ns: string;
  type: string;
  policy: string;
  noep: boolean;
}

export function applyFilters(rows: Row[], f: Filters): Row[] {
  const terms = f.q.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((r) => {
    if (f.ns && r.s.namespace !== f.ns) return false;
    if (f.type && r.type !== f.type) return false;
    if (f.policy === 'etp-local' && r.s.externalTrafficPolicy !== 'Local') return false;
    if (f.policy === 'etp-cluster' && r.s.externalTrafficPolicy !== 'Cluster') return false;
    if (f.policy === 'itp-local' && r.s.internalTrafficPolicy !== 'Local') return false;
    if (f.policy === 'affinity' && r.s.affinitySeconds === undefined) return false;
    if (f.noep && !r.noEndpoints) return false;
    for (const t of terms) if (!r.haystack.includes(t)) return false;
    return true;
  });
}
