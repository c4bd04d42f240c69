// Shared by test/lab and test/kernel: is the kernel lab usable here, and if not, why (printed once,
// and put in the suite's title so the skip explains itself in every report).
import { labAvailability } from '../../src/lab/index.js';

export const availability = await labAvailability();

export function labSuiteTitle(title: string): string {
  return availability.ok ? title : `${title} — skipped: ${availability.reason}`;
}

if (!availability.ok) console.warn(`[kernel lab] tests skipped: ${availability.reason}`);
