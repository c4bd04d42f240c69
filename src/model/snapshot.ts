// The node snapshot (DESIGN.md "A node snapshot"): its schema lives with the other contracts.
export { NodeSnapshot, SNAPSHOT_FORMAT } from './contracts.js';
export type { NodeSnapshot as NodeSnapshotT } from './contracts.js';
