// Scaling lab: start a chain-scaling job (POST /v1/scale), follow it (GET /v1/scale/{job}) with a
// progress bar, cancel it (DELETE), and at the end draw the chart — the same SVG `landfall scale
// --svg` writes (src/scale/svg.ts, pure string code) — and offer the JSON and SVG.
import { useEffect, useState } from 'preact/hooks';
import { scaleSvg } from '../../../src/scale/svg.js';
import type { ScalePoint } from '../../../src/scale/types.js';
import { api, toProblem, type ApiProblem, type JobStatus, type ScaleRequest } from '../api.js';
import { navigate } from '../route.js';
import { download, ErrorBox } from '../ui.js';

const POLL_MS = 500;
const FINISHED = new Set(['done', 'failed', 'cancelled']);

export function ScaleView({ params }: { params: Record<string, string> }) {
  const [services, setServices] = useState('500,1000,2000');
  const [endpoints, setEndpoints] = useState('5');
  const [modes, setModes] = useState({ iptables: true, ipvs: true });
  const [packets, setPackets] = useState('2000');
  const [err, setErr] = useState<ApiProblem | null>(null);
  const [status, setStatus] = useState<JobStatus | null>(null);
  const job = params.job ?? '';

  useEffect(() => {
    setStatus(null);
    setErr(null);
    if (!job) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async (): Promise<void> => {
      try {
        const s = await api<JobStatus>('GET', `/v1/scale/${encodeURIComponent(job)}`);
        if (!live) return;
        setStatus(s);
        if (!FINISHED.has(s.state)) timer = setTimeout(poll, POLL_MS);
      } catch (e) {
        if (live) setErr(toProblem(e));
      }
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [job]);

  const start = async (e: Event): Promise<void> => {
    e.preventDefault();
    setErr(null);
    const counts = services
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((s) => Number(s));
    if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1)) {
      setErr({ status: 0, title: 'Service counts', detail: 'give whole numbers separated by commas, e.g. 500,1000,2000' });
      return;
    }
    const body: ScaleRequest = {
      services: counts,
      endpoints: Number(endpoints),
      modes: (['iptables', 'ipvs'] as const).filter((m) => modes[m]),
      ...(packets ? { packets: Number(packets) } : {}),
    };
    try {
      const r = await api<{ job: string }>('POST', '/v1/scale', body);
      navigate('scale', { job: r.job });
    } catch (x) {
      setErr(toProblem(x));
    }
  };
  const cancel = async (): Promise<void> => {
    try {
      setStatus(await api<JobStatus>('DELETE', `/v1/scale/${encodeURIComponent(job)}`));
    } catch (x) {
      setErr(toProblem(x));
    }
  };

  const points = (status?.result?.points ?? status?.points ?? []) as ScalePoint[];
  const svg = status?.state === 'done' && points.length > 0 ? scaleSvg(points, { title: 'landfall scale', subtitle: `job ${status.job}` }) : '';
  const running = status !== null && !FINISHED.has(status.state);

  return (
    <div class="view">
      <h1>Scaling lab</h1>
      <form class="card" onSubmit={start} aria-label="Start a scaling job">
        <p class="muted">Generates kube-proxy rule sets of each size, walks a packet mix through them, and reports the rules the kernel walks per first packet and our time per packet.</p>
        <div class="grid">
          <label>
            Services (comma-separated counts)
            <input value={services} onInput={(e) => setServices(e.currentTarget.value)} class="mono" required />
          </label>
          <label>
            Endpoints per service
            <input value={endpoints} onInput={(e) => setEndpoints(e.currentTarget.value)} inputMode="numeric" pattern="\d+" class="mono" required />
          </label>
          <label>
            Packets per point
            <input value={packets} onInput={(e) => setPackets(e.currentTarget.value)} inputMode="numeric" pattern="\d*" class="mono" />
          </label>
          <fieldset>
            <legend>Modes</legend>
            {(['iptables', 'ipvs'] as const).map((m) => (
              <label class="check" key={m}>
                <input type="checkbox" checked={modes[m]} onChange={(e) => setModes({ ...modes, [m]: e.currentTarget.checked })} /> {m}
              </label>
            ))}
          </fieldset>
        </div>
        <div class="row wrap">
          <button type="submit" class="primary" disabled={running || (!modes.iptables && !modes.ipvs)}>
            Start
          </button>
        </div>
      </form>
      <ErrorBox problem={err} />
      {status && (
        <section class="card" aria-labelledby="job-h">
          <h2 id="job-h">
            Job <span class="mono">{status.job.slice(0, 8)}</span>: <span data-testid="job-state">{status.state}</span>
          </h2>
          <div class="row wrap job-progress">
            <progress max={100} value={status.percent} aria-label="job progress" />
            <span role="status" aria-live="polite">
              {Math.round(status.percent)}%
              {status.progress && running
                ? ` · point ${status.progress.point} of ${status.progress.points}${status.progress.mode ? `: ${status.progress.mode}` : ''}${status.progress.services ? `, ${status.progress.services} services` : ''}, ${status.progress.phase}`
                : ''}
            </span>
            {running && (
              <button type="button" onClick={cancel}>
                Cancel
              </button>
            )}
          </div>
          {status.error && <ErrorBox problem={{ status: 0, title: 'The job failed', detail: status.error }} />}
          {points.length > 0 && <PointsTable points={points} done={status.state === 'done'} />}
          {svg && (
            <>
              <div class="scale-chart" data-testid="scale-chart" dangerouslySetInnerHTML={{ __html: svg }} />
              <p class="row wrap">
                <button type="button" onClick={() => download(`landfall-scale-${status.job.slice(0, 8)}.json`, 'application/json', JSON.stringify(status.result, null, 2))}>
                  Download JSON
                </button>
                <button type="button" onClick={() => download(`landfall-scale-${status.job.slice(0, 8)}.svg`, 'image/svg+xml', svg)}>
                  Download SVG
                </button>
              </p>
            </>
          )}
        </section>
      )}
    </div>
  );
}

const fmt = (n: number | null | undefined, d = 0): string => (n === null || n === undefined ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: d }));

function PointsTable({ points, done }: { points: ScalePoint[]; done: boolean }) {
  return (
    <div class="table-wrap">
      <table>
        <caption>{done ? 'Points' : 'Points so far'}</caption>
        <thead>
          <tr>
            <th scope="col">mode</th>
            <th scope="col">services</th>
            <th scope="col">rules</th>
            <th scope="col">rules walked (mean)</th>
            <th scope="col">p99</th>
            <th scope="col">ns/packet (wasm)</th>
            <th scope="col">ns/packet (reference)</th>
          </tr>
        </thead>
        <tbody>
          {points.map((p, i) => (
            <tr key={i}>
              <td>{p.mode}</td>
              <td>{fmt(p.services)}</td>
              <td>{fmt(p.rules)}</td>
              <td>{fmt(p.rulesEvaluated?.mean, 1)}</td>
              <td>{fmt(p.rulesEvaluated?.p99)}</td>
              <td>{fmt(p.nsPerPacket.wasm)}</td>
              <td>{p.error ? <span class="bad">{p.error}</span> : fmt(p.nsPerPacket.reference)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
