// Small shared pieces: error messages, progress, probability bars, copy buttons, number formats.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { ApiProblem } from './api.js';

export function ErrorBox({ problem, children }: { problem: ApiProblem | null; children?: ComponentChildren }) {
  if (!problem) return null;
  return (
    <div class="error" role="alert">
      <strong>
        {problem.title}
        {problem.status ? ` (${problem.status})` : ''}
      </strong>
      <p>{problem.detail}</p>
      {problem.field && <p class="muted">field: {problem.field}</p>}
      {problem.line !== undefined && (
        <p class="muted">
          {problem.source ? `${problem.source}, ` : ''}line {problem.line}
          {problem.column !== undefined ? `, column ${problem.column}` : ''}
        </p>
      )}
      {children}
    </div>
  );
}

export function Spinner({ label }: { label: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

/** A probability as a bar and a percentage; the bar is decoration, the text carries the value. */
export function ProbBar({ p, label }: { p: number; label?: string }) {
  return (
    <span class="prob" title={label}>
      <span class="prob-track" aria-hidden="true">
        <span class="prob-fill" style={{ width: `${Math.max(0, Math.min(1, p)) * 100}%` }} />
      </span>
      <span class="prob-text">{pct(p)}</span>
    </span>
  );
}

export function pct(p: number): string {
  const v = p * 100;
  if (v === 0) return '0%';
  if (v < 0.1) return '<0.1%';
  return `${v >= 10 ? v.toFixed(1).replace(/\.0$/, '') : v.toFixed(2).replace(/0$/, '').replace(/\.0$/, '')}%`;
}

export function bytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KB`;
  return `${n} B`;
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<string | null>(null);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      // No clipboard permission (plain http on another host): select the text for a manual copy.
      setDone('select and copy the text below');
    }
    setTimeout(() => setDone(null), 2500);
  };
  return (
    <span class="copy">
      <button type="button" onClick={copy}>
        {label}
      </button>
      <span role="status" aria-live="polite" class="muted">
        {done ?? ''}
      </span>
    </span>
  );
}

export function download(name: string, type: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
