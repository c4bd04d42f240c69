// The chain-scaling lab's data shapes (DESIGN.md "landfall scale", POST /v1/scale), shared by the
// point measurer (point.ts, run in a worker), the job runner (run.ts), the CLI, the HTTP
// route and the chart. Types and constants only: every module may import it without pulling in
// worker_threads, the kernel lab or Fastify.

export type ScaleMode = 'iptables' | 'ipvs' | 'nftables';
export const SCALE_MODES: readonly ScaleMode[] = ['iptables', 'ipvs', 'nftables'];

/** The service mix as the CLI's `--mix` and the HTTP body give it (fractions 0..1). */
export interface ScaleMix {
  /** Share of ClusterIP-only services; the rest are NodePort or LoadBalancer. */
  clusterIP?: number;
  nodePort?: number;
  loadBalancer?: number;
  /** Share of externally reachable services with externalTrafficPolicy Local. */
  etpLocal?: number;
  /** Share of services with ClientIP session affinity. */
  affinity?: number;
}

/**
 * Weights of the packet kinds driven through each point (normalised; a kind with nothing to aim
 * at, e.g. node ports in a ClusterIP-only set, gives its weight to the others).
 */
export interface TrafficMix {
  /** A pod connecting to a service's cluster IP. */
  clusterIP?: number;
  /** A process on the node connecting to a cluster IP. */
  hostClusterIP?: number;
  /** A client outside the cluster connecting to NodeIP:nodePort. */
  nodePort?: number;
  /** A client outside the cluster connecting to a LoadBalancer or external IP. */
  external?: number;
  /** Connections to nothing: a pod to an unused service IP, an outsider to a closed node port. */
  miss?: number;
}

export const DEFAULT_TRAFFIC: Required<TrafficMix> = { clusterIP: 0.6, hostClusterIP: 0.1, nodePort: 0.15, external: 0.05, miss: 0.1 };

export type PacketKind = keyof TrafficMix;

export interface ScaleOptions {
  /** Service counts, one point per count and mode. */
  services: number[];
  /** Endpoints per service. */
  endpoints: number;
  modes: ScaleMode[];
  /** Packets driven through each point (default DEFAULT_PACKETS). */
  packets?: number;
  /** Seeds the rule sets, the packet mix and the sampled walks (default 1). */
  seed?: number;
  mix?: ScaleMix;
  /** Also measure the real kernel (root, netns, iptables). */
  kernel?: boolean;
  /** Connections per kernel measurement, loaded and empty each (default 300). */
  kernelConnects?: number;
  /** Packet kinds (programmatic only; the CLI and HTTP use DEFAULT_TRAFFIC). */
  traffic?: TrafficMix;
  /** Wall-clock limit of one point's model measurement (default 10 min); over it the point fails. */
  pointTimeoutMs?: number;
  /** Run points in this thread instead of a worker (tests; cancellation then waits for the point). */
  inline?: boolean;
}

export const DEFAULT_PACKETS = 5_000;
export const DEFAULT_KERNEL_CONNECTS = 300;
export const DEFAULT_POINT_TIMEOUT_MS = 10 * 60_000;

/** Bounds that keep one request from asking for hours of work or tens of GB. */
export const LIMITS = {
  points: 24,
  services: 100_000,
  endpoints: 1_000,
  /** services × endpoints of one point. */
  endpointsPerPoint: 2_000_000,
  packets: 1_000_000,
  kernelConnects: 10_000,
} as const;

export interface CountStats {
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

export interface LatencyStats {
  /** Connections attempted and those that were answered (only answered ones are timed). */
  attempted: number;
  answered: number;
  /** TCP connection setup (SYN to established) in microseconds; null when none was answered. */
  p50Us: number | null;
  p99Us: number | null;
}

export interface KernelFigures {
  /** iptables-restore of the point's dump into an empty namespace (ipsets first in IPVS mode; `nft -f` in nftables mode). */
  restoreMs: number | null;
  /** Pods connecting straight to endpoints with no rules loaded: the floor. */
  empty: LatencyStats | null;
  /** Pods connecting to random services' cluster IPs through the loaded rules. */
  loaded: LatencyStats | null;
  /** loaded.p50 - empty.p50 (µs): what the rules add to a first packet. */
  addedP50Us: number | null;
  /** Why a part was not measured or failed (null when everything was). */
  error: string | null;
}

export interface ScalePoint {
  mode: ScaleMode;
  services: number;
  endpoints: number;
  /** Rules in all tables of the dump. */
  rules: number | null;
  /** Bytes of all dumps (iptables-save, plus ipvsadm-save and ipset save in IPVS mode). */
  dumpBytes: number | null;
  generateMs: number | null;
  /** Parsing every dump into the model (and numbering rules). */
  parseMs: number | null;
  /** Model → the flat binary ruleset the WASM engine walks. */
  compileMs: number | null;
  /** Rules the kernel walks for the first packet of a connection, over the packet mix; exact per packet. */
  rulesEvaluated: CountStats | null;
  /** Our per-packet time over the same mix, nanoseconds; null for an engine that could not run. */
  nsPerPacket: { wasm: number | null; reference: number | null };
  packets: number;
  /** Packets per kind as driven. */
  traffic: Partial<Record<PacketKind, number>>;
  /**
   * Share of the packets the WASM engine handed to the reference walk (it does so per trace batch
   * when a packet reaches a feature evaluated on the host); its ns/packet includes that work.
   */
  wasmHostShare: number | null;
  /** Packets whose WASM trace differed from the reference's (must be 0). */
  mismatches: number | null;
  /**
   * heapBytes: V8 heap the loaded rule set holds (parsed model + both engines' indexes; measured
   * after a collection, before and after loading). compiledBytes: the WASM engine's flat ruleset.
   */
  memory: { heapBytes: number; compiledBytes: number } | null;
  kernel: KernelFigures | null;
  /**
   * The machine's 1-minute load average when the point finished. Times are wall-clock: on a
   * machine busy with other work they stretch, and this says how busy it was.
   */
  loadAverage: number | null;
  /** Things the reader should know about this point's figures (e.g. an engine that fell back). */
  notes: string[];
  /** Why the point failed; its figures are then null. */
  error: string | null;
}

export interface ScaleResult {
  points: ScalePoint[];
}

export type PointPhase = 'queued' | 'generate' | 'parse' | 'compile' | 'trace-reference' | 'trace-wasm' | 'kernel' | 'done';

export interface ScaleProgress {
  /** 0..100 over the whole job, points weighted by their size. */
  percent: number;
  /** Index of the point being measured (points.length when finished). */
  point: number;
  points: number;
  mode: ScaleMode | null;
  services: number | null;
  phase: PointPhase;
}

/** A scaling job as GET /v1/scale/{job} shows it (jobs.ts runs them). */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobStatus {
  job: string;
  state: JobState;
  /** 0..100 over the whole job. */
  percent: number;
  progress: Omit<ScaleProgress, 'percent'> | null;
  /** Points finished so far (all of them once done). */
  points: ScalePoint[];
  /** The answer `landfall scale --json` prints, once the job is done. */
  result: ScaleResult | null;
  /** Why the job failed as a whole (a failed point only has its own `error`). */
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
