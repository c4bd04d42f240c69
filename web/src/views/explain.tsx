// Explain: a packet form with presets (origin: pod / host / outside; destination: the chosen
// service's cluster IP, NodePort, LB or external IP) → the outcome distribution as a chart, the
// NAT applied, and the chosen outcome's path. With assumptions, one tab per case. The question
// lives in the URL, so a reload or a shared link asks it again.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, toProblem, type ApiProblem, type ExplainResult, type Query, type RulesetSummary, type Service } from '../api.js';
import { casesOf, cliFor, curlFor, natKind } from '../answer.js';
import { OutcomeChart } from '../chart.js';
import { knownRuleset } from '../inputs.js';
import { PathView } from '../path.js';
import { navigate } from '../route.js';
import { loadServices, type ServiceData } from '../services-data.js';
import { CopyButton, ErrorBox, pct, Spinner } from '../ui.js';
import { NoRuleset } from './services.js';

type Params = Record<string, string>;

/** The query a URL asks, or null when it names no destination yet. */
export function queryOf(p: Params): Query | null {
  if (!p.dst) return null;
  const q: Query = { protocol: (p.proto as Query['protocol']) || 'tcp', destination: p.dst };
  const num = (s: string | undefined): number | undefined => (s !== undefined && s !== '' && /^\d+$/.test(s) ? Number(s) : undefined);
  const port = num(p.port);
  if (port !== undefined) q.port = port;
  if (p.src) q.source = p.src;
  const sport = num(p.sport);
  if (sport !== undefined) q.sourcePort = sport;
  if (p.origin) q.origin = p.origin as Query['origin'];
  if (p.in) q.inInterface = p.in;
  if (p.out) q.outInterface = p.out;
  return q;
}

/** Destination and port for a preset target on a service; null when the service has none. */
export function targetOf(s: Service, target: string, nodeAddress: string | undefined): { dst: string; port: number } | null {
  switch (target) {
    case 'cluster':
      return s.clusterIP ? { dst: s.clusterIP, port: s.port } : null;
    case 'nodeport':
      return s.nodePort !== undefined ? { dst: nodeAddress ?? '', port: s.nodePort } : null;
    case 'lb':
      return s.loadBalancerIPs.length ? { dst: s.loadBalancerIPs[0], port: s.port } : null;
    case 'external':
      return s.externalIPs.length ? { dst: s.externalIPs[0], port: s.port } : null;
  }
  return null;
}

const FORM_KEYS = ['proto', 'dst', 'port', 'src', 'sport', 'origin', 'in', 'out'] as const;

export function ExplainView({ rs, params }: { rs: string; params: Params }) {
  const [form, setForm] = useState<Params>(() => pick(params));
  const [services, setServices] = useState<ServiceData | null>(null);
  const [summary, setSummary] = useState<RulesetSummary | null>(null);
  const [result, setResult] = useState<ExplainResult | null>(null);
  const [err, setErr] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const [hint, setHint] = useState('');
  const query = queryOf(params);
  const qKey = query ? JSON.stringify(query) : '';
  const known = knownRuleset(summary?.id ?? rs);
  const nodeAddress = known?.nodeAddresses[0];

  useEffect(() => setForm(pick(params)), [FORM_KEYS.map((k) => params[k] ?? '').join('\u0000')]);

  useEffect(() => {
    setSummary(null);
    setServices(null);
    if (!rs) return;
    let live = true;
    api<RulesetSummary>('GET', `/v1/rulesets/${encodeURIComponent(rs)}`).then(
      (s) => live && setSummary(s),
      (e: unknown) => live && setErr(toProblem(e)),
    );
    loadServices(rs).then(
      (d) => live && setServices(d),
      () => undefined, // the explain form works without the service list
    );
    return () => {
      live = false;
    };
  }, [rs]);

  // A preset link (svc + target, no destination yet): fill the question in from the service.
  useEffect(() => {
    if (!services || params.dst || !params.svc || !params.target) return;
    const s = services.byName.get(params.svc)?.s;
    if (!s) return setHint(`no service ${params.svc} in this rule set`);
    const t = targetOf(s, params.target, nodeAddress);
    if (!t) return setHint(`${s.name} has no ${params.target} address`);
    const next = { ...params, proto: s.protocol, port: String(t.port), dst: t.dst };
    delete (next as Partial<Params>).target;
    if (!t.dst) {
      setHint('A NodePort is reached on a node address: this browser does not know the node\'s addresses, so type one in.');
      setForm(pick(next));
      return;
    }
    navigate('explain', next, true);
  }, [services, params.svc, params.target, params.dst]);

  useEffect(() => {
    setResult(null);
    setErr(null);
    if (!rs || !query) return;
    const ctl = new AbortController();
    setBusy(true);
    api<ExplainResult>('POST', `/v1/rulesets/${encodeURIComponent(rs)}/explain`, query, ctl.signal)
      .then(setResult, (e: unknown) => (e as Error).name !== 'AbortError' && setErr(toProblem(e)))
      .finally(() => setBusy(false));
    return () => ctl.abort();
  }, [rs, qKey]);

  if (!rs) return <NoRuleset view="explain" />;

  const svc = params.svc ? services?.byName.get(params.svc)?.s : undefined;
  const submit = (e: Event): void => {
    e.preventDefault();
    setHint('');
    navigate('explain', { rs, svc: params.svc, ...form });
  };
  const preset = (patch: Params): void => {
    setHint('');
    const next = { ...form, ...patch };
    // A new origin takes the server's default source for it.
    if ('origin' in patch) next.src = '';
    setForm(next);
  };
  const target = (t: string): void => {
    if (!svc) return;
    const v = targetOf(svc, t, nodeAddress);
    if (!v) return;
    preset({ proto: svc.protocol, dst: v.dst, port: String(v.port) });
    if (!v.dst) setHint('A NodePort is reached on a node address: type one in.');
  };
  const set = (k: string) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });

  return (
    <div class="view">
      <h1>Explain</h1>
      <form class="card qform" onSubmit={submit} aria-label="Packet">
        <ServicePicker data={services} value={params.svc ?? ''} onPick={(name) => navigate('explain', { rs, svc: name, ...form }, true)} />
        <fieldset>
          <legend>From</legend>
          <div class="row wrap" role="group" aria-label="origin presets">
            {(
              [
                ['pod', 'a pod'],
                ['host', 'the host'],
                ['external', 'outside'],
              ] as const
            ).map(([o, l]) => (
              <button type="button" key={o} aria-pressed={(form.origin || 'external') === o} onClick={() => preset({ origin: o })}>
                from {l}
              </button>
            ))}
          </div>
        </fieldset>
        <fieldset>
          <legend>To</legend>
          <div class="row wrap" role="group" aria-label="destination presets">
            <button type="button" disabled={!svc?.clusterIP} onClick={() => target('cluster')}>
              cluster IP
            </button>
            <button type="button" disabled={svc?.nodePort === undefined} onClick={() => target('nodeport')}>
              NodePort
            </button>
            <button type="button" disabled={!svc?.loadBalancerIPs.length} onClick={() => target('lb')}>
              LB IP
            </button>
            <button type="button" disabled={!svc?.externalIPs.length} onClick={() => target('external')}>
              external IP
            </button>
          </div>
        </fieldset>
        <div class="grid">
          <label>
            Protocol
            <select value={form.proto || 'tcp'} onChange={set('proto')}>
              {['tcp', 'udp', 'sctp', 'icmp'].map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
          <label>
            Destination
            <input required value={form.dst ?? ''} onInput={set('dst')} class="mono" placeholder="10.96.0.10" />
          </label>
          <label>
            Port
            <input value={form.port ?? ''} onInput={set('port')} inputMode="numeric" pattern="\d*" class="mono" />
          </label>
          <label>
            Origin
            <select value={form.origin || 'external'} onChange={set('origin')}>
              <option value="external">external</option>
              <option value="pod">pod</option>
              <option value="host">host</option>
            </select>
          </label>
          <label>
            Source <span class="muted">(default by origin)</span>
            <input value={form.src ?? ''} onInput={set('src')} class="mono" />
          </label>
          <label>
            Source port
            <input value={form.sport ?? ''} onInput={set('sport')} inputMode="numeric" pattern="\d*" class="mono" placeholder="40000" />
          </label>
          <label>
            In interface
            <input value={form.in ?? ''} onInput={set('in')} class="mono" />
          </label>
          <label>
            Out interface
            <input value={form.out ?? ''} onInput={set('out')} class="mono" />
          </label>
        </div>
        {hint && (
          <p class="hint" role="status">
            {hint}
          </p>
        )}
        <div class="row wrap">
          <button type="submit" class="primary">
            Explain
          </button>
          {query && (
            <>
              <CopyButton label="Copy as curl" text={curlFor(summary?.id ?? rs, query)} />
              <CopyButton label="Copy as CLI" text={cliFor(rs, query, known, summary?.aliases ?? [])} />
            </>
          )}
        </div>
        {query && (
          <details class="commands">
            <summary>The same question as curl and CLI</summary>
            <pre class="mono" data-testid="curl">{curlFor(summary?.id ?? rs, query)}</pre>
            <pre class="mono" data-testid="cli">{cliFor(rs, query, known, summary?.aliases ?? [])}</pre>
          </details>
        )}
      </form>
      {busy && <Spinner label="walking the rules…" />}
      <ErrorBox problem={err} />
      {result && <Answer result={result} params={params} rs={rs} />}
    </div>
  );
}

function pick(p: Params): Params {
  const out: Params = {};
  for (const k of FORM_KEYS) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

function ServicePicker({ data, value, onPick }: { data: ServiceData | null; value: string; onPick: (name: string) => void }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  // A datalist of every one of 20,000 names would be slow to build: offer the first matches.
  const options = useMemo(() => {
    if (!data) return [];
    const t = text.toLowerCase();
    const out: string[] = [];
    for (const r of data.rows) {
      if (!t || r.s.name.toLowerCase().includes(t)) out.push(r.s.name);
      if (out.length >= 200) break;
    }
    return out;
  }, [data, text]);
  return (
    <div class="row wrap">
      <label class="grow">
        Service <span class="muted">(for the destination presets)</span>
        <input
          list="svc-names"
          value={text}
          placeholder={data ? `one of ${data.rows.length} services` : 'loading services…'}
          onInput={(e) => {
            const v = e.currentTarget.value;
            setText(v);
            if (data?.byName.has(v)) onPick(v);
          }}
        />
      </label>
      <datalist id="svc-names">
        {options.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
    </div>
  );
}

function Answer({ result, params, rs }: { result: ExplainResult; params: Params; rs: string }) {
  const cases = useMemo(() => casesOf(result), [result]);
  const caseIdx = Math.min(Number(params.case ?? 0) || 0, cases.length - 1);
  const c = cases[caseIdx];
  const selRaw = params.o !== undefined ? Number(params.o) : NaN;
  const selected = c?.outcomes.some((x) => x.index === selRaw) ? selRaw : (c?.outcomes[0]?.index ?? -1);
  const outcome = result.outcomes[selected];
  const tabs = useRef<HTMLDivElement>(null);
  const goCase = (i: number): void => navigate('explain', { ...params, rs, case: i, o: '' }, true);
  const q = result.query;
  return (
    <section class="card answer" aria-labelledby="ans-h">
      <h2 id="ans-h">Where it lands</h2>
      <p class="muted">
        {q.protocol} {q.source}
        {q.sourcePort !== undefined ? `:${q.sourcePort}` : ''} → {q.destination}
        {q.port !== undefined ? `:${q.port}` : ''}, from {q.origin}
        {q.inInterface ? ` (in ${q.inInterface})` : ''}
      </p>
      {result.warnings.length > 0 && (
        <ul class="warnings" aria-label="warnings">
          {result.warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
      {result.uncertain.length > 0 && (
        <details open class="uncertain">
          <summary>{result.uncertain.length} condition(s) the input does not settle</summary>
          <ul>
            {result.uncertain.map((u, i) => (
              <li key={i}>
                <span class="ln">{u.line}</span> <code>{u.rule}</code> <span class="muted">— {u.reason}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
      {cases.length > 1 && (
        <div
          class="tabs"
          role="tablist"
          aria-label="Cases"
          ref={tabs}
          onKeyDown={(e) => {
            const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
            if (!d) return;
            e.preventDefault();
            const n = (caseIdx + d + cases.length) % cases.length;
            goCase(n);
            setTimeout(() => tabs.current?.querySelectorAll<HTMLElement>('[role=tab]')[n]?.focus(), 0);
          }}
        >
          {cases.map((k, i) => (
            <button type="button" role="tab" key={k.key} id={`case-tab-${i}`} aria-selected={i === caseIdx} aria-controls="case-panel" tabIndex={i === caseIdx ? 0 : -1} onClick={() => goCase(i)}>
              Case {i + 1}
            </button>
          ))}
        </div>
      )}
      {c && (
        <div id="case-panel" role={cases.length > 1 ? 'tabpanel' : undefined} aria-labelledby={cases.length > 1 ? `case-tab-${caseIdx}` : undefined}>
          {c.assumes.length > 0 && (
            <div class="assumes">
              <p>Assuming:</p>
              <ul>
                {c.assumes.map((a, i) => (
                  <li key={i}>
                    <span class="ln">{a.line}</span> {a.condition} <strong>{a.holds ? 'holds' : 'does not hold'}</strong>
                  </li>
                ))}
              </ul>
            </div>
          )}
          {c.either.length > 0 && (
            <div class="assumes either">
              <p>The same either way:</p>
              <ul>
                {c.either.map((a, i) => (
                  <li key={i}>
                    <span class="ln">{a.line}</span> {a.condition}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <div class="answer-grid">
            <div>
              <OutcomeChart outcomes={c.outcomes} selected={selected} onSelect={(i) => navigate('explain', { ...params, rs, o: i }, true)} />
              <ul class="outcomes" aria-label="Outcomes">
                {c.outcomes.map(({ o, index }) => {
                  const nat = natKind(o);
                  return (
                    <li key={index}>
                      <button type="button" aria-pressed={index === selected} onClick={() => navigate('explain', { ...params, rs, o: index }, true)} data-outcome={index}>
                        <span class={`tag v-${o.verdict}`}>{o.verdict}</span> <span class="mono">{o.endpoint}</span>
                        <span class="prob-text"> {pct(o.probability)}</span>
                        {nat && (
                          <span class="nat" data-testid="nat">
                            {' '}
                            · {nat} → source <span class="mono">{o.source}</span>
                          </span>
                        )}
                        {o.rulesEvaluated !== undefined && <span class="muted"> · {o.rulesEvaluated} rules walked</span>}
                      </button>
                    </li>
                  );
                })}
              </ul>
            </div>
            <div>
              {outcome && (
                <>
                  <h3>
                    Path to <span class="mono">{outcome.endpoint}</span> ({outcome.verdict}
                    {outcome.rejectWith ? ` with ${outcome.rejectWith}` : ''})
                  </h3>
                  <p class="muted">
                    source after NAT: <span class="mono">{outcome.source}</span>
                    {outcome.masquerade ? ` (${natKind(outcome)})` : ' (not rewritten)'}
                    {outcome.outInterface ? `, leaves on ${outcome.outInterface}` : ''}
                  </p>
                  {outcome.notes && outcome.notes.length > 0 && (
                    <ul class="notes">
                      {outcome.notes.map((n, i) => (
                        <li key={i}>{n}</li>
                      ))}
                    </ul>
                  )}
                  <PathView path={outcome.path} />
                </>
              )}
            </div>
          </div>
        </div>
      )}
      {result.outcomes.length === 0 && <p>No outcome.</p>}
    </section>
  );
}
