// Prometheus text exposition (version 0.0.4), written by hand: three metric kinds and a dozen
// series do not justify a client library on the request path.

export class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  /** Label text by the label values (this runs on every request: no escaping each time). */
  private readonly keys = new Map<string, string>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}

  observe(labels: Record<string, string>, value: number): void {
    const values = Object.values(labels).join('\u0000');
    let key = this.keys.get(values);
    if (key === undefined) this.keys.set(values, (key = labelText(labels)));
    let s = this.series.get(key);
    if (!s) {
      s = { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, s] of this.series) {
      const sep = key ? ',' : '';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${key}${sep}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${key}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${key ? `{${key}}` : ''} ${s.sum}`);
      out.push(`${this.name}_count${key ? `{${key}}` : ''} ${s.count}`);
    }
    return out.join('\n');
  }
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

export function gauge(name: string, help: string, value: number, type: 'gauge' | 'counter' = 'gauge'): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}`;
}

export interface Metrics {
  requests: Histogram;
  loads: Histogram;
}

export function createMetrics(): Metrics {
  return {
    requests: new Histogram(
      'landfall_http_request_duration_seconds',
      'HTTP request duration by route, method and status.',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ),
    loads: new Histogram(
      'landfall_ruleset_load_seconds',
      'Time to make a ruleset usable in a worker, by phase (load = parse + compile).',
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
  };
}
