// `landfall scale`: the chain-scaling lab from the command line (DESIGN.md "CLI"). stdout carries
// nothing but the JSON answer (with --json); the progress bar and the table go to stderr, so
//   landfall scale --services 1000,5000 --endpoints 10 --modes iptables,ipvs --json > scale.json
// shows progress while it writes a clean file. Ctrl-C cancels: the running point's worker is
// terminated and the kernel lab's namespaces are removed; a second Ctrl-C exits at once.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runScale, ScaleCancelled } from './run.js';
import { parseMixSpec, ScaleOptionsError } from './options.js';
import { progressLine, scaleTable } from './report.js';
import { scaleSvg } from './svg.js';
import type { ScaleMode, ScaleOptions, ScalePoint, ScaleProgress } from './types.js';

export const SCALE_USAGE = `landfall scale --services 1000,4000 --endpoints 5 --modes iptables,ipvs,nftables [--packets N] [--seed S]
               [--kernel] [--kernel-connects N] [--json] [--svg FILE]
               [--mix clusterip=..,nodeport=..,lb=..,etplocal=..,affinity=..]

For each service count and mode: generate a kube-proxy rule set, parse and compile it, drive a
packet mix (cluster IPs from pods and the host, node ports, LB/external IPs, misses) through both
engines, and report the rules the kernel walks per first packet (exact, from the walk) and our time
per packet. --kernel (root, network namespaces, iptables) also loads each dump into a namespace and
times iptables-restore and real TCP connects against an empty rule set.
Progress and the table go to stderr; --json prints only {"points":[...]} on stdout.`;

/** A bad command line: the lead's cli.ts turns ERR_PARSE_ARGS* errors into exit code 2 with the message. */
function usage(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
}

function intList(name: string, v: string): number[] {
  const out = v.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n))) throw usage(`--${name} takes comma-separated integers, got ${JSON.stringify(v)}`);
  return out;
}

function intArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n)) throw usage(`--${name} takes an integer, got ${JSON.stringify(v)}`);
  return n;
}

/** argv → options (exported for tests: parsing is where most CLI mistakes live). */
export function parseScaleArgs(args: string[]): { options: ScaleOptions; json: boolean; svg?: string; help: boolean } {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      services: { type: 'string' },
      endpoints: { type: 'string' },
      modes: { type: 'string' },
      packets: { type: 'string' },
      seed: { type: 'string' },
      mix: { type: 'string' },
      kernel: { type: 'boolean' },
      'kernel-connects': { type: 'string' },
      json: { type: 'boolean' },
      svg: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return { options: { services: [], endpoints: 0, modes: [] }, json: false, help: true };
  if (v.services === undefined) throw usage('--services N[,N…] is required');
  if (v.endpoints === undefined) throw usage('--endpoints M is required');
  const options: ScaleOptions = {
    services: intList('services', v.services),
    endpoints: intArg('endpoints', v.endpoints) as number,
    modes: (v.modes ?? 'iptables,ipvs').split(',').map((s) => s.trim()).filter(Boolean) as ScaleMode[],
    kernel: v.kernel === true,
  };
  const packets = intArg('packets', v.packets);
  if (packets !== undefined) options.packets = packets;
  const seed = intArg('seed', v.seed);
  if (seed !== undefined) options.seed = seed;
  const connects = intArg('kernel-connects', v['kernel-connects']);
  if (connects !== undefined) options.kernelConnects = connects;
  if (v.mix !== undefined) {
    try {
      options.mix = parseMixSpec(v.mix);
    } catch (e) {
      throw usage(`--mix: ${(e as Error).message}`);
    }
  }
  return { options, json: v.json === true, ...(v.svg !== undefined ? { svg: v.svg } : {}), help: false };
}

/** Redraws one status line on a terminal; elsewhere prints a line per phase change, not per percent. */
class StatusLine {
  private shown = false;
  private lastPlain = '';
  constructor(private readonly tty: boolean) {}

  draw(p: ScaleProgress, elapsedMs: number): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${progressLine(p, elapsedMs)}`);
      this.shown = true;
      return;
    }
    const key = `${p.point} ${p.phase}`;
    if (key === this.lastPlain) return;
    this.lastPlain = key;
    process.stderr.write(`${progressLine(p, elapsedMs)}\n`);
  }

  /** Prints text above the bar (the bar is redrawn by the next progress event). */
  print(text: string): void {
    if (this.tty && this.shown) process.stderr.write('\r\x1b[2K');
    this.shown = false;
    process.stderr.write(`${text}\n`);
  }
}

export async function runScaleCli(args: string[]): Promise<void> {
  const parsed = parseScaleArgs(args);
  if (parsed.help) {
    process.stdout.write(`${SCALE_USAGE}\n`);
    return;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\ncancelling (Ctrl-C again to quit at once)…\n');
      controller.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);

  const status = new StatusLine(process.stderr.isTTY === true);
  const started = performance.now();
  const done: ScalePoint[] = [];
  let headerShown = false;
  try {
    const result = await runScale(parsed.options, {
      signal: controller.signal,
      onProgress: (p) => status.draw(p, performance.now() - started),
      onPoint: (p) => {
        done.push(p);
        // Each finished point's row right away: the table so far, header printed once.
        const lines = scaleTable(done).split('\n');
        status.print(headerShown ? lines[lines.length - 1] : lines.join('\n'));
        headerShown = true;
      },
    });
    status.print(`done: ${result.points.length} point(s), ${result.points.filter((p) => p.error).length} failed, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // The answer first: an unwritable chart path must not cost a run's figures.
    if (parsed.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (parsed.svg) {
      const cmd = `landfall scale ${args.filter((a) => a !== '--json').join(' ')}`;
      try {
        writeFileSync(parsed.svg, scaleSvg(result.points, { subtitle: cmd }));
      } catch (e) {
        throw usage(`--svg ${parsed.svg}: ${(e as Error).message}`);
      }
      status.print(`chart written to ${parsed.svg}`);
    }
  } catch (e) {
    if (e instanceof ScaleOptionsError) throw usage(e.message);
    if (e instanceof ScaleCancelled) {
      status.print(`cancelled after ${done.length} point(s)`);
      // The lead's main() would report success for a resolved promise; a cancelled run is not one.
      process.exit(130);
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
