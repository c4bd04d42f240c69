// The outcome distribution as a hand-written SVG bar chart: one bar per outcome of a case, the
// probability as length and as text (the text is what screen readers get, through the title).
import type { Outcome } from './api.js';
import { pct } from './ui.js';

export const VERDICT_COLOR: Record<string, string> = { accept: '#1e8449', drop: '#c0392b', reject: '#d35400' };

export function outcomeLabel(o: Outcome): string {
  return o.verdict === 'accept' ? o.endpoint : `${o.verdict} ${o.endpoint}`;
}

export function OutcomeChart({ outcomes, selected, onSelect }: { outcomes: { o: Outcome; index: number }[]; selected: number; onSelect: (index: number) => void }) {
  const BAR = 26;
  const GAP = 8;
  const LABEL = 210;
  const W = 640;
  const h = outcomes.length * (BAR + GAP) + GAP;
  const summary = outcomes.map(({ o }) => `${outcomeLabel(o)} ${pct(o.probability)}`).join('; ');
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${h}`} role="img" aria-label={`Outcome distribution: ${summary}`} data-testid="outcome-chart" preserveAspectRatio="xMinYMin meet">
      <title>Outcome distribution</title>
      {outcomes.map(({ o, index }, i) => {
        const y = GAP + i * (BAR + GAP);
        const w = Math.max(2, (W - LABEL - 70) * o.probability);
        return (
          <g key={index} class={`bar${index === selected ? ' sel' : ''}`} onClick={() => onSelect(index)} data-outcome={index}>
            <text x={LABEL - 8} y={y + BAR / 2 + 5} text-anchor="end" class="bar-label">
              {outcomeLabel(o).length > 28 ? `${outcomeLabel(o).slice(0, 27)}…` : outcomeLabel(o)}
            </text>
            <rect x={LABEL} y={y} width={W - LABEL - 70} height={BAR} class="bar-track" rx="3" />
            <rect x={LABEL} y={y} width={w} height={BAR} fill={VERDICT_COLOR[o.verdict] ?? '#555'} rx="3" />
            <text x={LABEL + w + 6} y={y + BAR / 2 + 5} class="bar-value">
              {pct(o.probability)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
