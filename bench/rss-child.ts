/**
 * Measures the peak RSS of one save or load in a fresh process: prints { baseMB, peakMB, dataMB }.
 * baseMB is the RSS before any data exists; for `save` the data is generated straight into the
 * database's own slab first, so the peak above it is the save's own overhead plus the data.
 */
import { VectorDB } from '../src/engine/vector-db.js';
import { DatabasePersistence } from '../src/persistence/database-persistence.js';
import { clusteredDataset } from '../support/datasets.js';
import type { PersistenceFormat } from '../src/persistence/types.js';

const [op, format, file, nArg, dimArg] = process.argv.slice(2);
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
const peakMB = process.resourceUsage().maxRSS / 1e3;
const dataMB = (n * dim * 4) / 1e6;
console.log(JSON.stringify({ baseMB, peakMB, dataMB }));
