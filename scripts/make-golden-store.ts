/**
 * Generates the checked-in golden durable-store directory and save journal (test/golden/store/) and
 * expected.json describing them: a store whose log holds every record type (upsert with a string and
 * an integer id, metadata or none; delete; update-metadata, set and removed; clear; batch) after its
 * first checkpoint, and a binary save file extended by a save journal. Run once per format version:
 * `npx tsc -p tsconfig.json && node build/scripts/make-golden-store.js`. Existing files are never
 * overwritten (the point of golden files is that bytes written by an older QuiverDB keep reading).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs } from '../src/env/node-fs.js';
import { openVectorDB } from '../src/store/durable-db.js';
import { readWal } from '../src/wal/index.js';
import { VectorDB } from '../src/engine/vector-db.js';
import { DatabasePersistence } from '../src/persistence/database-persistence.js';

const OUT = join('test', 'golden', 'store');

function stateOf(db: VectorDB): unknown[] {
  return [...db].map((e) => ({ id: e.id, vectorHex: Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength).toString('hex'), metadata: e.metadata ?? null }));
}

async function main(): Promise<void> {
  if (existsSync(join(OUT, 'expected.json')) && !process.argv.includes('--force')) {
    console.log(`${OUT} exists; golden files are never regenerated (pass --force only for a new format version)`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'quiver-golden-'));
  try {
    // The store: its first checkpoint (empty), then every record type in the log.
    const storeDir = join(work, 'v1-store');
    const db = await openVectorDB(storeDir, { dimension: 3, metric: 'euclidean', checkpointOnClose: false });
    await db.insert({ id: 'gone', vector: [9, 9, 9] });
    await db.clear();
    await db.insert({ id: 'alpha', vector: [0.1, -0.2, 0.3], metadata: { title: 'first', tags: ['a', 'b'] } });
    await db.insert({ id: 42, vector: [-0, 1.401298464324817e-45, -3.4028234663852886e38] });
    await db.insertBatch([
      { id: 'ünïcødé-🚀', vector: [1, 2, 3], metadata: { 'ключ': 'значение', n: -12 } },
      { id: 7, vector: [4, 5, 6], metadata: { big: 9007199254740991, f: 1.5e-300 } },
      { id: 'doomed', vector: [7, 8, 9] },
    ]);
    await db.updateMetadata('alpha', { title: 'changed', nested: { deep: [1, { x: null }] } });
    await db.updateMetadata(7, {});
    await db.delete('doomed');
    const storeState = stateOf(db);
    await db.close();
    const records = [];
    for await (const { seq, record } of readWal(nodeFs, join(storeDir, 'wal'))) {
      records.push(record.type === 'batch' ? { seq, type: 'batch', ops: record.ops.map((o) => ({ type: o.type, id: 'id' in o ? o.id : null })) } : { seq, type: record.type, id: 'id' in record ? record.id : null });
    }

    // A binary save file extended by its save journal (two journaled saves).
    const saveDir = join(work, 'v1-journal');
    mkdirSync(saveDir);
    const sdb = new VectorDB({ dimension: 2, metric: 'dot' });
    await sdb.insert({ id: 'base', vector: [1, 2], metadata: { v: 1 } });
    const p = new DatabasePersistence(sdb, { baseDir: saveDir, incremental: true, autoSaveInterval: 3_600_000 });
    p.stopAutoSave();
    await p.save();
    await sdb.insert({ id: 'j1', vector: [3, 4] });
    await sdb.delete('base');
    await p.saveIncremental();
    await sdb.clear();
    await sdb.insert({ id: 2, vector: [5, 6], metadata: { after: 'clear' } });
    await p.saveIncremental();
    await p.shutdown();
    const journalState = stateOf(sdb);

    mkdirSync(OUT, { recursive: true });
    cpSync(storeDir, join(OUT, 'v1-store'), { recursive: true });
    cpSync(saveDir, join(OUT, 'v1-journal'), { recursive: true });
    rmSync(join(OUT, 'v1-store', 'LOCK'), { force: true });
    writeFileSync(join(OUT, 'expected.json'), `${JSON.stringify({ store: { dimension: 3, metric: 'euclidean', state: storeState, records }, journal: { dimension: 2, metric: 'dot', state: journalState } }, null, 1)}\n`);
    console.log(`wrote ${OUT}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
