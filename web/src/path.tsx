// One outcome's path, drawn hook by hook, then chain by chain: every rule with its dump line and
// text; the rules that set the destination (DNAT / IPVS) and the source (SNAT / MASQUERADE) and
// the one that decided the verdict are highlighted; IPVS and nft steps say what they are.
import type { PathStep } from './api.js';
import { groupPath, isNft, keySteps } from './answer.js';

function familyLabel(f: string): string {
  return f === 'ip' ? 'IPv4' : f === 'ip6' ? 'IPv6' : f === 'inet' ? 'inet' : f;
}

export function PathView({ path }: { path: PathStep[] }) {
  if (path.length === 0) return <p class="muted">No rule matched: the packet went through untouched.</p>;
  const groups = groupPath(path);
  const key = keySteps(path);
  return (
    <ol class="path" aria-label="Path, hook by hook" data-testid="path">
      {groups.map((g, gi) => (
        <li key={gi} class={`hook${g.hook === 'IPVS' ? ' ipvs' : ''}`}>
          <h4 class="hook-name">{g.hook === 'IPVS' ? 'IPVS scheduling' : g.hook}</h4>
          <ol>
            {g.runs.map((r, ri) => (
              <li key={ri} class="chain">
                <div class="chain-name">
                  <span class="mono">{r.chain}</span>
                  <span class="muted">
                    {' '}
                    {r.table}
                    {r.family ? ` · ${familyLabel(r.family)}` : ''}
                    {r.steps.some((s) => isNft(s.step)) && g.hook !== 'IPVS' ? ' · nft' : ''}
                  </span>
                </div>
                <ol class="rules">
                  {r.steps.map(({ step, i }) => {
                    const roles = [i === key.dnat && 'sets destination', i === key.snat && 'sets source', i === key.last && 'decides'].filter(Boolean) as string[];
                    return (
                      <li key={i} class={`step${roles.length ? ' key' : ''}${i === key.last ? ' decisive' : ''}${step.policy !== undefined ? ' policy' : ''}`} data-line={step.line} data-step={i}>
                        <span class="ln" title="line in the dump">
                          {step.line}
                        </span>
                        {step.handle !== undefined && <span class="tag">handle {step.handle}</span>}
                        {step.ipvs !== undefined && <span class="tag t-ipvs">IPVS</span>}
                        {step.policy !== undefined && <span class="tag">policy {step.policy}</span>}
                        {/\bvmap\b/.test(step.rule) && <span class="tag">verdict map</span>}
                        <code class="rule">{step.ipvs !== undefined ? `${step.rule} → ${step.ipvs}` : step.rule}</code>
                        {roles.length > 0 && <span class="roles">{roles.join(', ')}</span>}
                      </li>
                    );
                  })}
                </ol>
              </li>
            ))}
          </ol>
        </li>
      ))}
    </ol>
  );
}
