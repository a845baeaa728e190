// A delta written over a prepared spare is published without a directory fsync (the spare's name was
// made durable when it was prepared): after a power loss it may be found under the spare's temp name,
// and loading takes it from there when it verifies and links, never a spare that was not written, a
// save cut short, or a file that belongs elsewhere in the chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import type { FileSystem } from '../../src/env/fs.js';
import { dropSpares } from '../../src/env/spares.js';
import { settleRetired, TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { digestDb } from '../fixtures/digest.js';
import { change, DIM, N } from './delta-fixtures.js';

const BASE = '/data/database.qvdb';

/** A base and delta 1 saved durably, with the spare for delta 2 prepared; then 800 more changes in `db`. */
async function chainWithSpare(): Promise<{ mem: MemoryFileSystem; fs: FaultFileSystem; db: VectorDB; p: DatabasePersistence; before: string }> {
  const mem = new MemoryFileSystem();
  await mem.mkdir('/data', { recursive: true });
  await mem.syncDir('/');
  const fs = new FaultFileSystem(mem);
  const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  change(db, N * 2, 1);
  const p = new DatabasePersistence(db, { baseDir: '/data', fs });
  await p.save();
  change(db, 800, 2);
  await p.saveIncremental();
  await settleRetired();
  const before = digestDb(db);
  change(db, 800, 3);
  return { mem, fs, db, p, before };
}

async function load(fs: FileSystem, verifyChecksum?: boolean): Promise<string> {
  const db = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  await new DatabasePersistence(db, { baseDir: '/data', fs }).load({ path: BASE, verifyChecksum });
  return digestDb(db);
}

const tempsOf = async (fs: FileSystem): Promise<string[]> => (await fs.readdir('/data')).filter((n) => n.endsWith(TEMP_SUFFIX));

test('a delta over a prepared spare is linked without a directory fsync; after a power loss the load finds it under the temp name and names it', async () => {
  const { mem, fs, db, p } = await chainWithSpare();
  const [spare] = await tempsOf(mem);
  assert.ok(spare?.startsWith('.database.qvdb.delta-000002.'), `the spare of delta 2: ${spare}`);
  fs.reset();
  assert.equal(await p.saveIncremental(), `${BASE}.delta-000002`);
  const kinds = fs.ops.map((o) => o.kind);
  // Linked (a delta never replaces a file), no directory fsync; the temp name stays until one.
  assert.ok(kinds.includes('link') && !kinds.includes('rename') && !kinds.includes('syncDir') && !kinds.includes('unlink') && !kinds.includes('rm'), `linked, no directory fsync: ${kinds.join(' ')}`);
  assert.ok(!kinds.includes('open'), 'the spare was opened ahead');
  const after = digestDb(db);
  // Power lost at once (before the spare of delta 3, whose preparation fsyncs the directory, is made):
  // only what was made durable survives. The rename is lost, the content is not.
  mem.crash();
  await dropSpares();
  assert.deepEqual(await tempsOf(mem), [spare]);
  assert.ok(!(await mem.readdir('/data')).includes('database.qvdb.delta-000002'));
  assert.equal(await load(mem), after, 'delta 2 is loaded from its temp name');
  assert.deepEqual(await tempsOf(mem), [], 'and renamed to its own name');
  mem.crash();
  assert.ok((await mem.readdir('/data')).includes('database.qvdb.delta-000002'), 'durably');
  assert.equal(await load(mem), after);
});

test('a power cut at any operation of a delta written over a spare: the load gives the state before it or after it, after it once acknowledged', async () => {
  const violations: string[] = [];
  let acknowledgedAt = 0;
  for (let n = 1; acknowledgedAt === 0; n++) {
    const { mem, fs, db, p, before } = await chainWithSpare();
    const start = fs.ops.length === 0 ? 0 : fs.ops[fs.ops.length - 1].n;
    fs.beforeOp = (op) => {
      if (op.n >= start + n) throw new Error(`power cut before op ${n} of the save`);
    };
    const acknowledged = await p.saveIncremental().then(() => true, () => false);
    const after = digestDb(db);
    await dropSpares();
    const images: [string, MemoryFileSystem][] = [['durable only', mem.snapshotDurable()]];
    for (let seed = 0; seed < 8; seed++) images.push([`seed ${seed}`, mem.snapshotDurable({ seed })]);
    for (const [how, img] of images) {
      const where = `cut before op ${n}, ${how}`;
      let got: string;
      try {
        got = await load(img);
      } catch (err) {
        violations.push(`${where}: load failed: ${(err as Error).message}`);
        continue;
      }
      if (got !== before && got !== after) violations.push(`${where}: neither the state before nor after the save`);
      if (acknowledged && got !== after) violations.push(`${where}: acknowledged, yet the delta is missing`);
    }
    if (acknowledged) acknowledgedAt = n;
    assert.ok(n < 40, 'the save ends within 40 operations');
  }
  assert.deepEqual(violations, []);
  assert.ok(acknowledgedAt >= 4, `${acknowledgedAt - 1} cut points inside the save`);
});

test('a temp file that verifies but belongs elsewhere in the chain is not taken, and a missing link under its temp name fills the gap', async () => {
  const { mem, db, p } = await chainWithSpare();
  await p.saveIncremental();
  change(db, 500, 4);
  await p.saveIncremental();
  const three = digestDb(db);
  await dropSpares();
  const d2 = `${BASE}.delta-000002`;
  const bytes2 = mem.readFileSync(d2);

  // Delta 2's bytes under a temp name for delta 4: its link says index 2, so the chain ends at 3.
  const misplaced = `/data/.database.qvdb.delta-000004.0123456789ab${TEMP_SUFFIX}`;
  mem.writeFileSync(misplaced, bytes2);
  assert.equal(await load(mem), three);
  assert.ok((await mem.readdir('/data')).includes(misplaced.slice(6)), 'left where it was');
  await mem.rm(misplaced);

  // Delta 2 only under a temp name while delta 3 kept its name (a rename lost, a later one not).
  const temp2 = `/data/.database.qvdb.delta-000002.abcdef012345${TEMP_SUFFIX}`;
  await mem.rename(d2, temp2);
  assert.equal(await load(mem), three, 'the gap is filled from the temp name');
  assert.deepEqual(mem.readFileSync(d2), bytes2);

  // A temp file holding only part of delta 2 (a save cut short) does not fill the gap, also when the
  // pages never written lie inside the vectors, past an intact manifest, and the load skips checksums.
  const missing = (err: unknown): boolean => (err as { code?: string }).code === 'CORRUPT' && /delta 2 of the chain is missing/.test((err as Error).message);
  await mem.rm(d2);
  mem.writeFileSync(temp2, bytes2.subarray(0, Math.floor(bytes2.length / 2)));
  await assert.rejects(load(mem), missing);
  const holed = bytes2.slice();
  holed.fill(0, 64 * 1024, 68 * 1024);
  mem.writeFileSync(temp2, holed);
  await assert.rejects(load(mem, false), missing);
  mem.writeFileSync(temp2, bytes2);
  assert.equal(await load(mem, false), three, 'the whole delta still does');
});

test("a delta left under its temp name survives another database's first save into the directory, and goes with the next full save of its own", async () => {
  const { mem, db, p } = await chainWithSpare();
  await p.saveIncremental();
  const after = digestDb(db);
  mem.crash();
  await dropSpares();
  const [temp] = await tempsOf(mem);
  assert.ok(temp?.startsWith('.database.qvdb.delta-000002.'), `delta 2 is only under its temp name: ${temp}`);
  mem.writeFileSync(`/data/.other.qvdb.0123456789ab${TEMP_SUFFIX}`, new Uint8Array(10));
  // Its first save cleans the directory's leftover temp files: not the delta.
  await new DatabasePersistence(new VectorDB({ dimension: DIM }), { baseDir: '/data', fs: mem }).save({ path: '/data/other.qvdb' });
  assert.deepEqual(await tempsOf(mem), [temp]);
  assert.equal(await load(mem), after);

  // A spare a crash left for the next delta stays too, until the full save of its base.
  const leftover = `/data/.database.qvdb.delta-000003.abcdef012345${TEMP_SUFFIX}`;
  mem.writeFileSync(leftover, new Uint8Array(4096));
  const db2 = new VectorDB({ dimension: DIM, metric: 'euclidean' });
  const p2 = new DatabasePersistence(db2, { baseDir: '/data', fs: mem });
  await p2.load({ path: BASE });
  assert.deepEqual(await tempsOf(mem), [leftover.slice(6)]);
  await p2.save();
  await settleRetired();
  assert.deepEqual(await tempsOf(mem), [], 'the full save removed it');
  assert.deepEqual((await mem.readdir('/data')).filter((n) => n.includes('.delta-')), []);
  assert.equal(await load(mem), after);
});

test('a link under its temp name is taken even where a leftover of an older base holds its number, and read in place where the directory cannot be changed', async () => {
  const { mem, db, p } = await chainWithSpare();
  await p.saveIncremental();
  await dropSpares();
  const d2 = `${BASE}.delta-000002`;
  const oldTwo = mem.readFileSync(d2);
  // A new base, then two deltas of it; the second one's rename is lost and a leftover of the old base
  // (its delta 2, as after a crash between a full save and its cleanup) holds the number.
  await p.save();
  change(db, 300, 21);
  await p.saveIncremental();
  change(db, 300, 22);
  await p.saveIncremental();
  const now = digestDb(db);
  await dropSpares();
  const temp2 = `/data/.database.qvdb.delta-000002.00000000abcd${TEMP_SUFFIX}`;
  await mem.rename(d2, temp2);
  mem.writeFileSync(d2, oldTwo);
  assert.equal(await load(mem), now);
  assert.deepEqual(await tempsOf(mem), [], 'named in place of the leftover');

  // Read-only: naming it fails (a link, or a rename where there are no hard links), the link is read where it is.
  await mem.rename(d2, temp2);
  const ro = new FaultFileSystem(mem);
  ro.failAt(1, 'EROFS', { mode: 'persistent', kinds: ['rename', 'link'] });
  assert.equal(await load(ro), now);
  assert.deepEqual(await tempsOf(mem), [temp2.slice(6)], 'left under its temp name');
});
