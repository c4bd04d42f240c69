// Run as a child process by cleanup.test.ts: makes a lab, prints its namespace names, then waits
// to be killed (bounded: it exits by itself after 20 s).
import { KernelLab } from '../../src/lab/index.js';

const lab = await KernelLab.create({ v6: null });
process.stdout.write(`${JSON.stringify(Object.values(lab.ns))}\n`);
setTimeout(() => process.exit(0), 20_000);
