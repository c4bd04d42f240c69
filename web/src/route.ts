// Deep links: the whole state worth sharing lives in the hash, `#/<view>?k=v&…`, so a reload
// or a pasted link shows the same answer, and the static server needs no fallback routes.
import { useEffect, useState } from 'preact/hooks';

export type View = 'rulesets' | 'services' | 'explain' | 'scale';
export const VIEWS: View[] = ['rulesets', 'services', 'explain', 'scale'];

export interface Route {
  view: View;
  params: Record<string, string>;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const qi = h.indexOf('?');
  const name = qi < 0 ? h : h.slice(0, qi);
  const params: Record<string, string> = {};
  if (qi >= 0) for (const [k, v] of new URLSearchParams(h.slice(qi + 1))) params[k] = v;
  const view = (VIEWS as string[]).includes(name) ? (name as View) : 'rulesets';
  return { view, params };
}

export function href(view: View, params: Record<string, string | number | undefined | null | false>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  const s = q.toString();
  return `#/${view}${s ? `?${s}` : ''}`;
}

/** Moves to a view; `replace` for state tweaks (filters) that should not pile up history. */
export function navigate(view: View, params: Record<string, string | number | undefined | null | false>, replace = false): void {
  const h = href(view, params);
  if (h === location.hash) return;
  if (replace) {
    history.replaceState(null, '', h);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else location.hash = h;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
