/**
 * Measures the peak RSS of one save or load in a fresh process: prints { baseMB, peakMB, dataMB, vectorMB }.
 * baseMB is the RSS before any data exists; for `save` the data is generated straight into the
 * database's own slab first, so the peak above it is the save's own overhead plus the data.
 */
import { readFileSync, statSync } from 'node:fs';
import { VectorDB } from '../src/engine/vector-db.js';
import { DatabasePersistence } from '../src/persistence/database-persistence.js';
import { clusteredDataset } from '../support/datasets.js';
import type { PersistenceFormat } from '../src/persistence/types.js';

/**
 * Peak RSS in MB. Linux's getrusage maxrss survives execve, so a child forked from a large parent would
 * report the parent's size; VmHWM belongs to the new address space and starts afresh at exec.
 */
function peakMB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1e3;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1e3;
}

const [op, format, file, sizeFile, nArg, dimArg] = process.argv.slice(2);
const n = Number(nArg);
const dim = Number(dimArg);
const baseMB = process.memoryUsage().rss / 1e6;
const db = new VectorDB({ dimension: dim, metric: 'cosine' });
const p = new DatabasePersistence(db, { baseDir: '.', format: format as PersistenceFormat });
if (op === 'save') {
  db.replaceAll(clusteredDataset(n, dim, 7));
  await p.save({ path: `${file}.rss` });
} else {
  await p.load({ path: file });
}
// "Data size" is what the database holds: its binary file (vectors, ids, metadata) is the best measure.
const dataMB = statSync(sizeFile).size / 1e6;
console.log(JSON.stringify({ baseMB, peakMB: peakMB(), dataMB, vectorMB: (n * dim * 4) / 1e6 }));
