// Big MessagePack, JSONL and JSON documents are hashed on the helper thread: their checksums verify,
// a thread that dies mid-document makes the writer start over hashing here (the file still verifies),
// and an I/O fault at any step leaves no temp file and the previous file intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { settleRetired, TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import type { FileSystem } from '../../src/env/fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { QuiverError } from '../../src/errors.js';
import { OFFLOAD_MIN_BYTES } from '../../src/util/hash-worker.js';
import { exportImage, importFile } from '../../src/interchange/index.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { clusteredDataset } from '../../support/datasets.js';
import { assertSameDb } from '../support/db.js';
import { hashThreadReady, threadKilling } from '../support/hash-thread.js';

const DIM = 32;
const N = Math.ceil(OFFLOAD_MIN_BYTES / (DIM * 4)) + 77;

function bigDb(seed: number): VectorDB {
  const data = clusteredDataset(N, DIM, seed, 8);
  const db = new VectorDB({ dimension: DIM, metric: 'cosine' });
  db.replaceAll({ ...data, vectors: data.vectors.slice() });
  return db;
}

async function exportTo(fs: FileSystem, path: string, db: VectorDB, format: string): Promise<void> {
  const image = db.openImage();
  try {
    await exportImage(fs, path, image, { format: format as 'msgpack' });
  } finally {
    image.release();
  }
}

async function importInto(fs: FileSystem, path: string, format: string): Promise<VectorDB> {
  const db = new VectorDB({ dimension: DIM, metric: 'cosine' });
  db.replaceAll((await importFile(fs, path, { format: format as 'msgpack', verifyChecksum: true })).columns);
  return db;
}

for (const format of ['msgpack', 'jsonl']) {
  test(`a big ${format} export hashed on the helper thread verifies on import`, async () => {
    await hashThreadReady();
    const fs = new MemoryFileSystem();
    const db = bigDb(1);
    await exportTo(fs, `/big.${format}`, db, format);
    assertSameDb(await importInto(fs, `/big.${format}`, format), db);
  });

  for (const at of [1, 3]) {
    test(`${format}: the helper thread dying at page ${at} of a big export still gives a file that verifies`, async () => {
      await hashThreadReady();
      const mem = new MemoryFileSystem();
      const db = bigDb(2);
      await exportTo(threadKilling(mem, at), `/big.${format}`, db, format);
      assertSameDb(await importInto(mem, `/big.${format}`, format), db);
      await hashThreadReady();
    });
  }
}

for (const at of [0, 2]) {
  test(`a big JSON state save ${at === 0 ? 'hashed on the helper thread' : `whose helper thread dies at page ${at}`} loads and verifies`, async () => {
    await hashThreadReady();
    const mem = new MemoryFileSystem();
    await mem.mkdir('/data', { recursive: true });
    const db = bigDb(3);
    const fs = at === 0 ? mem : threadKilling(mem, at);
    await new DatabasePersistence(db, { baseDir: '/data', fs, format: 'json' }).save({ path: '/data/db.json' });
    const back = new VectorDB({ dimension: DIM, metric: 'cosine' });
    await new DatabasePersistence(back, { baseDir: '/data', fs: mem }).load({ path: '/data/db.json' });
    assertSameDb(back, db);
    await hashThreadReady();
  });
}

test('EIO at every operation of a big MessagePack export keeps the previous file and leaves no temp file', async () => {
  await hashThreadReady();
  const before = bigDb(4);
  const after = bigDb(5);
  let completed = false;
  for (let n = 1; n < 300 && !completed; n++) {
    const mem = new MemoryFileSystem();
    await exportTo(mem, '/x.msgpack', before, 'msgpack');
    const faulty = new FaultFileSystem(mem);
    faulty.failAt(n, 'EIO');
    let saved = false;
    let failed: string | undefined;
    try {
      await exportTo(faulty, '/x.msgpack', after, 'msgpack');
      saved = true;
      completed = faulty.faultsInjected === 0;
    } catch (err) {
      assert.ok(err instanceof QuiverError && err.code === 'EIO', `op ${n}: ${String(err)}`);
      failed = faulty.ops.find((o) => o.failed)?.kind;
    }
    await settleRetired();
    const back = await importInto(mem, '/x.msgpack', 'msgpack');
    if (saved) assertSameDb(back, after);
    else if (failed && !['rename', 'syncDir'].includes(failed)) assertSameDb(back, before);
    if (!saved && failed !== 'syncDir') assert.deepEqual((await mem.readdir('/')).filter((f) => f.endsWith(TEMP_SUFFIX)), [], `temp file left after op ${n} (${failed})`);
  }
  assert.ok(completed, 'the export eventually completed');
});
