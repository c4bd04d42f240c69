// The kernel lab: load a dump into throwaway network namespaces and watch where real connections
// land. Powers the kernel differential tests (test/kernel) and `landfall scale --kernel`.
export { labAvailability, optionalTools, type Availability } from './availability.js';
export { sweepStaleNamespaces } from './cleanup.js';
export { canonicalEndpoint, canonicalHost, compareOutcomes, outcomeKey, type Comparison, type ComparisonRow, type PredictedOutcome } from './compare.js';
export { ipsetNames, nfacctNames, scanDnatTargets, scanNftDnatTargets, stripNfacct, type DnatScan } from './dump.js';
export { LabError } from './exec.js';
export {
  KernelLab,
  type LabDump,
  type LabOptions,
  type LabOrigin,
  type LabProbe,
  type LatencyReport,
  type LatencyTarget,
  type LoadOptions,
  type LoadReport,
} from './netns.js';
export type { LabProtocol, ListenSpec, ProbeRecord } from './protocol.js';
export { chiSquare, gammaQ, type ChiSquare } from './stats.js';
export { hostOf, percentile, summarize, type ObservedOutcome, type ObservedVerdict, type ProbeSummary } from './summary.js';
export { DEFAULT_TOPOLOGY, type FamilyPlan, type LabTopology } from './topology.js';
