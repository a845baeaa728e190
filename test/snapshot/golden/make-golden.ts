/**
 * Writes the golden snapshot set of format version 1 into the source tree (run once per format
 * version, never to "fix" a failing golden test): `node build/test/snapshot/golden/make-golden.js`.
 * For each compression, a chain of a full snapshot and two incrementals (the second after a clear),
 * and expected.json with the exact contents each one restores to.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { VectorDB } from '../../../src/engine/vector-db.js';
import { SnapshotManager } from '../../../src/snapshot/manager.js';
import { expectedEntries } from './expected.js';

const DIR = fileURLToPath(new URL('../../../../test/snapshot/golden/v1/', import.meta.url));
// Goldens are history: replacing them would hide a reader that no longer loads what v1 wrote.
if (existsSync(DIR) && !process.argv.includes('--new-format-version')) {
  process.stderr.write(`${DIR} exists; golden files of a released format are never rewritten. Pass --new-format-version only when creating a new version's set.\n`);
  process.exit(1);
}
rmSync(DIR, { recursive: true, force: true });
mkdirSync(DIR, { recursive: true });
const expected: Record<string, Record<string, unknown>> = {};
for (const compression of ['none', 'gzip'] as const) {
  const m = new SnapshotManager({ snapshotDir: `${DIR}${compression}`, compression });
  const db = new VectorDB({ dimension: 3, metric: 'cosine' });
  await db.insert({ id: 'alpha', vector: [0.1, -0.2, 0.3], metadata: { title: 'Grüße 👋', tags: ['a', 'ß'], n: 1.5 } });
  await db.insert({ id: 42, vector: [-0, 1.401298464324817e-45, -3.4028234663852886e38] });
  await db.insert({ id: '42', vector: [1, 2, 3], metadata: { nested: { deep: [null, true, { x: 'y' }] }, z: 1, a: 2 } });
  await db.insert({ id: 'ünïcødé-🚀', vector: [0.5, 0.25, 0.125], metadata: JSON.parse('{"__proto__": {"p": 1}, "b": 2}') as Record<string, unknown> });
  await db.insert({ id: 0, vector: [7, 8, 9], metadata: {} });
  const full = await m.createSnapshot(db, 'golden full', { purpose: 'golden' }, { tags: ['golden'], pinned: true });
  expected[full.id] = { compression, name: full.name, type: 'full', entries: expectedEntries(db) };
  await db.insert({ id: 'alpha', vector: [0.9, 0.8, 0.7], metadata: { title: 'changed' } });
  await db.delete(42);
  await db.updateMetadata('42', { only: 'metadata' });
  await db.insert({ id: 'new', vector: [3, 2, 1] });
  const inc = await m.createIncrementalSnapshot(db, 'golden incremental', full.id);
  expected[inc.id] = { compression, name: inc.name, type: 'incremental', baseId: full.id, entries: expectedEntries(db) };
  await db.clear();
  await db.insert({ id: 'after-clear', vector: [1, 1, 1], metadata: { k: 'v' } });
  const inc2 = await m.createIncrementalSnapshot(db, 'golden after clear', inc.id);
  expected[inc2.id] = { compression, name: inc2.name, type: 'incremental', baseId: inc.id, entries: expectedEntries(db) };
}
writeFileSync(`${DIR}expected.json`, JSON.stringify(expected, null, 2) + '\n');
process.stdout.write(`golden snapshots written to ${DIR}\n`);
