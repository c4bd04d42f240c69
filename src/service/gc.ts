// Benchmarks run the server with --expose-gc so its memory figures are measured after a
// collection (bench/load.ts, bench/fleet.ts); production never exposes gc, so this does nothing
// there. Called after the big transient allocations of the load path (an upload stored, a
// ruleset opened in a worker), where a collection gives back the most.

export function collectIfExposed(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
