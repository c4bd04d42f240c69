// Rule sets: add inputs (file picker, a drop anywhere on the page, pasted text), upload with
// progress, then the stored rule set's stats and warnings. A parse error (422 with line/column)
// is shown on the offending line of the input it names, the column marked.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, toProblem, uploadRuleset, type ApiProblem, type RulesetSummary } from '../api.js';
import { compose, detectKind, forget, INPUT_KINDS, knownRuleset, knownRulesets, pieceForSource, remember, type InputKind, type InputPiece } from '../inputs.js';
import { href, navigate } from '../route.js';
import { bytes, ErrorBox, Spinner } from '../ui.js';

export async function readFiles(files: FileList | File[]): Promise<InputPiece[]> {
  const out: InputPiece[] = [];
  for (const f of Array.from(files)) {
    const text = await f.text();
    out.push({ name: f.name, text, kind: detectKind(text, f.name), bytes: f.size });
  }
  return out;
}

interface Props {
  rs: string;
  pieces: InputPiece[];
  setPieces: (p: InputPiece[]) => void;
}

export function RulesetsView({ rs, pieces, setPieces }: Props) {
  const [paste, setPaste] = useState('');
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [err, setErr] = useState<ApiProblem | null>(null);
  const [errPieces, setErrPieces] = useState<InputPiece[]>([]);
  const [summary, setSummary] = useState<RulesetSummary | null>(null);
  const [loading, setLoading] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setSummary(null);
    if (!rs) return;
    const ctl = new AbortController();
    setLoading(true);
    api<RulesetSummary>('GET', `/v1/rulesets/${encodeURIComponent(rs)}`, undefined, ctl.signal)
      .then((s) => {
        setSummary(s);
        setErr(null);
        const known = knownRuleset(s.id);
        remember({ id: s.id, label: known?.label ?? (rs === 'example' ? 'example (bundled)' : s.id.slice(0, 12)), at: Date.now(), files: known?.files ?? {}, nodeAddresses: known?.nodeAddresses ?? [], rules: s.stats.rules });
      })
      .catch((e: unknown) => {
        if ((e as Error).name !== 'AbortError') setErr(toProblem(e));
      })
      .finally(() => setLoading(false));
    return () => ctl.abort();
  }, [rs]);

  const addPaste = (): void => {
    if (!paste.trim()) return;
    setPieces([...pieces, { name: `pasted ${pieces.length + 1}`, text: paste, kind: detectKind(paste), bytes: new Blob([paste]).size }]);
    setPaste('');
  };

  const upload = async (): Promise<void> => {
    setErr(null);
    let all = pieces;
    if (paste.trim()) {
      all = [...pieces, { name: `pasted ${pieces.length + 1}`, text: paste, kind: detectKind(paste), bytes: new Blob([paste]).size }];
      setPieces(all);
      setPaste('');
    }
    let composed;
    try {
      composed = compose(all);
    } catch (e) {
      setErr({ status: 0, title: 'Nothing to upload yet', detail: (e as Error).message });
      return;
    }
    setProgress({ sent: 0, total: composed.body.length });
    try {
      const s = await uploadRuleset(composed.body, (sent, total) => setProgress({ sent, total }));
      const files: Partial<Record<InputKind, string>> = {};
      for (const p of all) files[p.kind] = p.name;
      remember({ id: s.id, label: all.map((p) => p.name).join(' + '), at: Date.now(), files, nodeAddresses: composed.nodeAddresses, rules: s.stats.rules });
      setPieces([]);
      setErrPieces([]);
      navigate('rulesets', { rs: s.id });
    } catch (e) {
      setErr(toProblem(e));
      setErrPieces(all);
    } finally {
      setProgress(null);
    }
  };

  const errPiece = err?.line !== undefined ? pieceForSource(errPieces, err.source) : undefined;
  const known = knownRulesets();

  return (
    <div class="view">
      <h1>Rule sets</h1>
      <section aria-labelledby="up-h" class="card">
        <h2 id="up-h">Upload a node's dump</h2>
        <p class="muted">
          iptables-save, ip6tables-save, nft list ruleset (text or -j JSON), ipvsadm-save -n, ipset save, a node context JSON or a node snapshot.
          Choose files, drop them anywhere on this page, or paste text.
        </p>
        <div class="row wrap">
          <label class="button">
            Choose files…
            <input
              ref={fileRef}
              class="visually-hidden"
              type="file"
              multiple
              aria-label="Choose dump files"
              onChange={async (e) => {
                const input = e.currentTarget;
                try {
                  if (input.files) setPieces([...pieces, ...(await readFiles(input.files))]);
                } catch (x) {
                  setErr({ status: 0, title: 'Cannot read the file', detail: (x as Error).message });
                }
                input.value = '';
              }}
            />
          </label>
        </div>
        <label for="paste">Paste a dump</label>
        <textarea id="paste" rows={6} spellcheck={false} value={paste} onInput={(e) => setPaste(e.currentTarget.value)} placeholder="*nat&#10;:PREROUTING ACCEPT [0:0]&#10;…" />
        <div class="row wrap">
          <button type="button" onClick={addPaste} disabled={!paste.trim()}>
            Add pasted text
          </button>
        </div>
        {pieces.length > 0 && (
          <table class="pieces">
            <caption>Inputs to upload</caption>
            <thead>
              <tr>
                <th scope="col">input</th>
                <th scope="col">size</th>
                <th scope="col">kind</th>
                <th scope="col">
                  <span class="visually-hidden">remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {pieces.map((p, i) => (
                <tr key={`${p.name}-${i}`}>
                  <td class="mono">{p.name}</td>
                  <td>{bytes(p.bytes ?? p.text.length)}</td>
                  <td>
                    <select
                      aria-label={`kind of ${p.name}`}
                      value={p.kind}
                      onChange={(e) => setPieces(pieces.map((q, j) => (j === i ? { ...q, kind: e.currentTarget.value as InputKind } : q)))}
                    >
                      {INPUT_KINDS.map((k) => (
                        <option value={k.kind} key={k.kind}>
                          {k.label}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <button type="button" aria-label={`remove ${p.name}`} onClick={() => setPieces(pieces.filter((_, j) => j !== i))}>
                      ✕
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div class="row wrap">
          <button type="button" class="primary" onClick={upload} disabled={progress !== null || (pieces.length === 0 && !paste.trim())}>
            Upload
          </button>
        </div>
        {progress && (
          <div class="upload-progress" role="status" aria-live="polite">
            {progress.sent < progress.total ? (
              <>
                <progress max={progress.total} value={progress.sent} aria-label="upload progress" />
                <span>
                  sending {bytes(progress.sent)} of {bytes(progress.total)}
                </span>
              </>
            ) : (
              <>
                <progress aria-label="parsing" />
                <span>sent; the server is parsing and compiling…</span>
              </>
            )}
          </div>
        )}
        <ErrorBox problem={err} />
        {err?.line !== undefined && errPiece && <SourceLines piece={errPiece} line={err.line} column={err.column} />}
      </section>

      {rs && (
        <section aria-labelledby="cur-h" class="card">
          <h2 id="cur-h">Rule set</h2>
          {loading && <Spinner label="loading the rule set…" />}
          {summary && <Summary s={summary} />}
        </section>
      )}

      <section aria-labelledby="known-h" class="card">
        <h2 id="known-h">Open a rule set</h2>
        <ul class="known">
          <li>
            <a href={href('rulesets', { rs: 'example' })}>example</a> <span class="muted">the bundled example node (preloaded by the server)</span>
          </li>
          {known
            .filter((k) => k.id !== 'example')
            .map((k) => (
              <li key={k.id}>
                <a href={href('rulesets', { rs: k.id })} class="mono">
                  {k.id.slice(0, 12)}…
                </a>{' '}
                <span>{k.label}</span>
                {k.rules !== undefined && <span class="muted"> · {k.rules} rules</span>}{' '}
                <button type="button" class="link" aria-label={`forget ${k.label} in this browser`} onClick={() => (forget(k.id), navigate('rulesets', { rs }, true))}>
                  forget
                </button>
              </li>
            ))}
        </ul>
        <form
          class="row wrap"
          onSubmit={(e) => {
            e.preventDefault();
            const v = new FormData(e.currentTarget).get('id');
            if (typeof v === 'string' && v.trim()) navigate('rulesets', { rs: v.trim() });
          }}
        >
          <label for="open-id">Rule set id</label>
          <input id="open-id" name="id" class="mono grow" pattern="[0-9a-f]{64}|example" placeholder="64 hex characters" />
          <button type="submit">Open</button>
        </form>
      </section>
    </div>
  );
}

function Summary({ s }: { s: RulesetSummary }) {
  const tables = Object.entries(s.stats.tables ?? {});
  return (
    <div class="summary">
      <p>
        <span class="mono break" data-testid="ruleset-id">
          {s.id}
        </span>
        {s.aliases.length > 0 && <span class="muted"> (alias {s.aliases.join(', ')})</span>}
      </p>
      <dl class="stats">
        <div>
          <dt>rules</dt>
          <dd>{s.stats.rules}</dd>
        </div>
        <div>
          <dt>chains</dt>
          <dd>{s.stats.chains}</dd>
        </div>
        <div>
          <dt>IPVS services</dt>
          <dd>{s.stats.ipvsServices}</dd>
        </div>
        <div>
          <dt>IPVS real servers</dt>
          <dd>{s.stats.ipvsRealServers}</dd>
        </div>
        <div>
          <dt>ipsets</dt>
          <dd>
            {s.stats.ipsets} ({s.stats.ipsetEntries} entries)
          </dd>
        </div>
        <div>
          <dt>input</dt>
          <dd>{bytes(s.bytes)}</dd>
        </div>
      </dl>
      {tables.length > 0 && (
        <table>
          <caption>Per family and table</caption>
          <thead>
            <tr>
              <th scope="col">table</th>
              <th scope="col">chains</th>
              <th scope="col">rules</th>
            </tr>
          </thead>
          <tbody>
            {tables.map(([k, v]) => (
              <tr key={k}>
                <td class="mono">{k}</td>
                <td>{v.chains}</td>
                <td>{v.rules}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Warnings</h3>
      {s.warnings.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <ul class="warnings">
          {s.warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
      <p class="row wrap">
        <a class="button primary" href={href('services', { rs: s.id })}>
          Services →
        </a>
        <a class="button" href={href('explain', { rs: s.id })}>
          Explain a packet →
        </a>
      </p>
    </div>
  );
}

/** The lines around a parse error, the offending one marked and its column highlighted. */
export function SourceLines({ piece, line, column }: { piece: InputPiece; line: number; column?: number | undefined }) {
  const lines = piece.text.split('\n');
  const from = Math.max(1, line - 6);
  const to = Math.min(lines.length, line + 6);
  const rows = [];
  for (let n = from; n <= to; n++) {
    const text = lines[n - 1] ?? '';
    const isErr = n === line;
    let body: preact.ComponentChildren = text || ' ';
    if (isErr && column !== undefined && column >= 1) {
      const c = Math.min(column - 1, text.length);
      // Mark the token starting at the column (at least one character, a space shown as one).
      const m = /^\S+/.exec(text.slice(c));
      const end = c + (m ? m[0].length : 1);
      body = (
        <>
          {text.slice(0, c)}
          <mark class="err-col" data-column={column}>
            {text.slice(c, end) || ' '}
          </mark>
          {text.slice(end)}
        </>
      );
    }
    rows.push(
      <div class={`src-line${isErr ? ' err-line' : ''}`} data-line={n} key={n} {...(isErr ? { 'aria-current': 'true' } : {})}>
        <span class="ln" aria-hidden="true">
          {n}
        </span>
        <code>{body}</code>
      </div>,
    );
  }
  return (
    <figure class="source" aria-label={`${piece.name} around line ${line}`}>
      <figcaption>
        {piece.name}, line {line}
        {column !== undefined ? `, column ${column}` : ''}
      </figcaption>
      <div class="src">{rows}</div>
    </figure>
  );
}
