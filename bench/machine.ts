/**
 * Two probes of the machine's state, taken at the start and at the end of a run, so that runs can be
 * compared: on a shared virtual machine the speed of plain computation and the cost of touching fresh
 * memory each drift several-fold within minutes, and independently of each other. A ratio to a raw
 * read (whose cost is mostly first touches of a fresh buffer and a copy) moves with both.
 */
import { median, type Report } from './report.js';

const SUITE = 'machine';

/** A fixed floating-point loop (no allocation, no I/O): 5 passes over 7.68M float32 values, ms. */
function cpuProbe(values: Float32Array): number {
  const t0 = performance.now();
  let s = 0;
  for (let r = 0; r < 5; r++) for (let i = 0; i < values.length; i++) s += values[i] * values[i];
  const ms = performance.now() - t0;
  if (!Number.isFinite(s)) throw new Error('cpu probe: the sum is not finite');
  return ms;
}

/** Allocates `bytes` of shared memory and writes one word per 4 KiB page, ms. */
function touchProbe(bytes: number): number {
  const t0 = performance.now();
  const words = new Int32Array(new SharedArrayBuffer(bytes));
  for (let i = 0; i < words.length; i += 1024) words[i] = 1;
  return performance.now() - t0;
}

/** Adds the two probes (median of three each) for moment `when` ('start' or 'end'); `bytes` is the slab size of the run. */
export function probeMachine(report: Report, when: string, bytes: number): void {
  const values = new Float32Array(7_680_000);
  for (let i = 0; i < values.length; i++) values[i] = ((i * 2654435761) % 1000) / 1000;
  const cpu = median([cpuProbe(values), cpuProbe(values), cpuProbe(values)]);
  const touch = median([touchProbe(bytes), touchProbe(bytes), touchProbe(bytes)]);
  report.add({ suite: SUITE, name: `CPU probe: fixed float loop (${when} of the run)`, value: cpu, unit: 'ms' });
  report.add({ suite: SUITE, name: `first touch of ${(bytes / 1e6).toFixed(1)} MB of fresh memory (${when} of the run)`, value: touch, unit: 'ms' });
}
