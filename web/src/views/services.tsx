// Services: every kube-proxy service of the rule set, searchable and filtered client-side over a
// virtual list (usable at 20,000), the chosen one's addresses and endpoints with probability bars.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { toProblem, type ApiProblem, type Service } from '../api.js';
import { href, navigate } from '../route.js';
import { applyFilters, loadServices, type Filters, type ServiceData } from '../services-data.js';
import { ErrorBox, ProbBar, Spinner } from '../ui.js';
import { VirtualList } from '../vlist.js';

const ROW = 52;

export function ServicesView({ rs, params }: { rs: string; params: Record<string, string> }) {
  const [data, setData] = useState<ServiceData | null>(null);
  const [err, setErr] = useState<ApiProblem | null>(null);
  useEffect(() => {
    setData(null);
    setErr(null);
    if (!rs) return;
    let live = true;
    loadServices(rs).then(
      (d) => live && setData(d),
      (e: unknown) => live && setErr(toProblem(e)),
    );
    return () => {
      live = false;
    };
  }, [rs]);

  const f: Filters = { q: params.q ?? '', ns: params.ns ?? '', type: params.type ?? '', policy: params.policy ?? '', noep: params.noep === '1' };
  const set = (patch: Partial<Record<keyof Filters | 'sel', string | boolean>>): void => {
    const next = { ...params, ...patch } as Record<string, string | boolean>;
    navigate('services', { ...next, noep: next.noep === true || next.noep === '1' ? '1' : '' }, true);
  };
  const rows = useMemo(() => (data ? applyFilters(data.rows, f) : []), [data, f.q, f.ns, f.type, f.policy, f.noep]);
  // 20k services can span hundreds of namespaces: build the options once, not per keystroke.
  const nsOptions = useMemo(() => data?.namespaces.map((n) => <option key={n}>{n}</option>), [data]);
  const selName = params.sel ?? '';
  const selIndex = rows.findIndex((r) => r.s.name === selName);
  const selRow = data?.byName.get(selName);

  if (!rs) return <NoRuleset view="services" />;
  return (
    <div class="view">
      <h1>Services</h1>
      <ErrorBox problem={err} />
      {!data && !err && <Spinner label="loading services…" />}
      {data && (
        <>
          <form class="filters" role="search" aria-label="Filter services" onSubmit={(e) => e.preventDefault()}>
            <label>
              Search
              <input type="search" value={f.q} placeholder="name, IP, port, endpoint" onInput={(e) => set({ q: e.currentTarget.value })} />
            </label>
            <label>
              Namespace
              <select value={f.ns} onChange={(e) => set({ ns: e.currentTarget.value })}>
                <option value="">all</option>
                {nsOptions}
              </select>
            </label>
            <label>
              Type
              <select value={f.type} onChange={(e) => set({ type: e.currentTarget.value })}>
                <option value="">all</option>
                <option>ClusterIP</option>
                <option>NodePort</option>
                <option>LoadBalancer</option>
                <option>ExternalIP</option>
              </select>
            </label>
            <label>
              Traffic policy
              <select value={f.policy} onChange={(e) => set({ policy: e.currentTarget.value })}>
                <option value="">any</option>
                <option value="etp-local">external: Local</option>
                <option value="etp-cluster">external: Cluster</option>
                <option value="itp-local">internal: Local</option>
                <option value="affinity">ClientIP affinity</option>
              </select>
            </label>
            <label class="check">
              <input type="checkbox" checked={f.noep} onChange={(e) => set({ noep: e.currentTarget.checked })} />
              no endpoints
            </label>
          </form>
          <p class="muted" role="status" aria-live="polite" data-testid="service-count">
            {rows.length} of {data.rows.length} services
          </p>
          <div class="split">
            <VirtualList
              items={rows}
              rowHeight={ROW}
              label="Services"
              idPrefix="svc"
              selected={selIndex}
              onSelect={(i) => set({ sel: rows[i].s.name })}
              itemLabel={(r) => `${r.s.name} ${r.type} ${r.s.clusterIP}:${r.s.port}/${r.s.protocol}, ${r.s.endpoints.length} endpoints`}
              render={(r) => (
                <>
                  <span class="vname">{r.s.name}</span>
                  <span class="vmeta">
                    <span class={`tag t-${r.type}`}>{r.type}</span> {r.s.clusterIP || '—'}:{r.s.port}/{r.s.protocol}
                    {r.s.nodePort !== undefined ? ` · node :${r.s.nodePort}` : ''} ·{' '}
                    <span class={r.noEndpoints ? 'bad' : ''}>{r.s.endpoints.length} endpoints</span>
                  </span>
                </>
              )}
            />
            <div class="detail">{selRow ? <ServiceDetail rs={rs} s={selRow.s} /> : <p class="muted">Choose a service (click, or arrow keys and Enter) to see its endpoints.</p>}</div>
          </div>
        </>
      )}
    </div>
  );
}

export function NoRuleset({ view }: { view: string }) {
  return (
    <div class="view">
      <h1>{view === 'services' ? 'Services' : 'Explain'}</h1>
      <p>
        No rule set chosen. <a href={href('rulesets', {})}>Upload or open one</a>, or use the <a href={href(view === 'services' ? 'services' : 'explain', { rs: 'example' })}>bundled example</a>.
      </p>
    </div>
  );
}

function Addr({ label, values }: { label: string; values: (string | number | undefined)[] }) {
  const v = values.filter((x) => x !== undefined && x !== '');
  if (v.length === 0) return null;
  return (
    <div>
      <dt>{label}</dt>
      <dd class="mono">{v.join(', ')}</dd>
    </div>
  );
}

export function ServiceDetail({ rs, s }: { rs: string; s: Service }) {
  const explain = (origin: string, target: string): string => href('explain', { rs, svc: s.name, origin, target });
  return (
    <article aria-labelledby="svc-h" data-testid="service-detail">
      <h2 id="svc-h" class="break">
        {s.name}
      </h2>
      <dl class="kv">
        <Addr label="protocol / port" values={[`${s.protocol} ${s.port}`]} />
        <Addr label="cluster IP" values={[s.clusterIP]} />
        <Addr label="node port" values={[s.nodePort]} />
        <Addr label="health-check node port" values={[s.healthCheckNodePort]} />
        <Addr label="external IPs" values={s.externalIPs} />
        <Addr label="load-balancer IPs" values={s.loadBalancerIPs} />
        <Addr label="source ranges" values={s.sourceRanges} />
        <Addr label="traffic policy" values={[`external ${s.externalTrafficPolicy}, internal ${s.internalTrafficPolicy}`]} />
        <Addr label="session affinity" values={[s.affinitySeconds !== undefined ? `ClientIP, ${s.affinitySeconds}s` : undefined]} />
        <Addr label="status" values={[s.status]} />
      </dl>
      <h3>Endpoints ({s.endpoints.length})</h3>
      {s.endpoints.length === 0 ? (
        <p class="bad">No endpoints: kube-proxy rejects or drops new connections.</p>
      ) : (
        <ul class="endpoints">
          {s.endpoints.map((e) => (
            <li key={e.endpoint}>
              <span class="mono">{e.endpoint}</span>
              <span>{e.local && <span class="tag">local</span>}</span>
              <ProbBar p={e.probability} label={`${e.endpoint}: probability ${e.probability}`} />
            </li>
          ))}
        </ul>
      )}
      <h3>Explain a packet to it</h3>
      <p class="row wrap">
        <a class="button" href={explain('pod', 'cluster')}>
          from a pod
        </a>
        <a class="button" href={explain('host', 'cluster')}>
          from the host
        </a>
        <a class="button" href={explain('external', s.loadBalancerIPs.length ? 'lb' : s.nodePort !== undefined ? 'nodeport' : s.externalIPs.length ? 'external' : 'cluster')}>
          from outside
        </a>
      </p>
    </article>
  );
}
