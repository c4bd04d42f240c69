// The landfall dashboard: four views over the REST API, the state in the URL hash.
import { Component, render, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { token } from './api.js';
import type { InputPiece } from './inputs.js';
import { href, navigate, useRoute, type View } from './route.js';
import { ExplainView } from './views/explain.js';
import { readFiles, RulesetsView } from './views/rulesets.js';
import { ScaleView } from './views/scale.js';
import { ServicesView } from './views/services.js';
import './style.css';

const TITLES: Record<View, string> = { rulesets: 'Rule sets', services: 'Services', explain: 'Explain', scale: 'Scaling lab' };
const LAST_RS = 'landfall.rs';

/** A rendering bug shows a message and a way back, never a blank page. */
class Boundary extends Component<{ children: ComponentChildren; view: string }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static override getDerivedStateFromError(error: Error) {
    return { error };
  }
  override componentDidUpdate(prev: { view: string }) {
    if (prev.view !== this.props.view && this.state.error) this.setState({ error: null });
  }
  override render() {
    if (this.state.error) {
      return (
        <div class="error" role="alert">
          <strong>This view failed to draw</strong>
          <p>{this.state.error.message}</p>
          <p>
            <a href={href('rulesets', {})}>Back to rule sets</a>
          </p>
        </div>
      );
    }
    return this.props.children;
  }
}

function App() {
  const route = useRoute();
  const [pieces, setPieces] = useState<InputPiece[]>([]);
  const [dragging, setDragging] = useState(false);
  // The rule set follows you between views: from the URL, else the last one used here.
  const rs = route.params.rs ?? (route.view === 'scale' ? '' : (sessionStorage.getItem(LAST_RS) ?? ''));
  useEffect(() => {
    if (route.params.rs) sessionStorage.setItem(LAST_RS, route.params.rs);
  }, [route.params.rs]);
  useEffect(() => {
    document.title = `${TITLES[route.view]} · landfall`;
  }, [route.view]);

  // Drop a file anywhere: it joins the inputs on the Rule sets view.
  useEffect(() => {
    const over = (e: DragEvent): void => {
      if (!e.dataTransfer?.types.includes('Files')) return;
      e.preventDefault();
      setDragging(true);
    };
    const leave = (e: DragEvent): void => {
      if (e.relatedTarget === null) setDragging(false);
    };
    const drop = async (e: DragEvent): Promise<void> => {
      e.preventDefault();
      setDragging(false);
      const files = e.dataTransfer?.files;
      if (!files || files.length === 0) return;
      // An unreadable file (a directory, a vanished file) is skipped rather than breaking the page.
      const added = await readFiles(files).catch(() => []);
      setPieces((p) => [...p, ...added]);
      if (route.view !== 'rulesets') navigate('rulesets', {});
    };
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, [route.view]);

  const link = (v: View): string => href(v, v === 'scale' ? {} : { rs: route.params.rs ?? (rs || undefined) });
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('rulesets', {})}>
          landfall
        </a>
        <nav aria-label="Views">
          {(Object.keys(TITLES) as View[]).map((v) => (
            <a key={v} href={link(v)} aria-current={route.view === v ? 'page' : undefined}>
              {TITLES[v]}
            </a>
          ))}
        </nav>
        {rs && route.view !== 'scale' && (
          <span class="current-rs muted" title={rs}>
            rule set <span class="mono">{rs.length > 12 ? `${rs.slice(0, 12)}…` : rs}</span>
          </span>
        )}
        <TokenField />
      </header>
      {dragging && (
        <div class="dropzone" aria-hidden="true">
          Drop dump files to add them
        </div>
      )}
      <main id="main" tabIndex={-1}>
        <Boundary view={route.view}>
          {route.view === 'rulesets' && <RulesetsView rs={route.params.rs ?? ''} pieces={pieces} setPieces={setPieces} />}
          {route.view === 'services' && <ServicesView rs={rs} params={route.params} />}
          {route.view === 'explain' && <ExplainView rs={rs} params={route.params} />}
          {route.view === 'scale' && <ScaleView params={route.params} />}
        </Boundary>
      </main>
    </>
  );
}

function TokenField() {
  const [value, setValue] = useState(token.get());
  return (
    <details class="token">
      <summary>API token</summary>
      <label>
        Bearer token (when the server sets LANDFALL_TOKEN; kept for this tab only)
        <input
          type="password"
          autocomplete="off"
          value={value}
          onInput={(e) => {
            setValue(e.currentTarget.value);
            token.set(e.currentTarget.value);
          }}
        />
      </label>
    </details>
  );
}

render(<App />, document.getElementById('app')!);
