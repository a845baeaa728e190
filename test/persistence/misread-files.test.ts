/**
 * Files that are not what a load expects, or are damaged where a load looks first, are reported as
 * what they are: another format is UNSUPPORTED_FORMAT pointing to import, damage is CORRUPT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { tempDir } from '../support/db.js';

async function smallDb(n = 5): Promise<VectorDB> {
  const db = new VectorDB({ dimension: 3, metric: 'euclidean' });
  for (let i = 0; i < n; i++) await db.insert({ id: `doc-${i}`, vector: [i, i / 2, -i], metadata: { i } });
  return db;
}

const code = (c: string) => (e: unknown) => e instanceof QuiverError && e.code === c;

test('load() of a JSON Lines export (plain, gzip) or of foreign JSON Lines is UNSUPPORTED_FORMAT pointing to import, not damage', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = new DatabasePersistence(await smallDb(), { baseDir: dir });
    const files = [join(dir, 'x.jsonl'), join(dir, 'x.jsonl.gz')];
    for (const f of files) await p.export({ path: f });
    const foreign = join(dir, 'foreign.jsonl');
    writeFileSync(foreign, '{"id":"a","vector":[1,2,3]}\n{"id":"b","vector":[4,5,6]}\n');
    for (const f of [...files, foreign]) {
      const target = new DatabasePersistence(await smallDb(2), { baseDir: dir });
      await assert.rejects(target.load({ path: f }), (e: unknown) => code('UNSUPPORTED_FORMAT')(e) && /import/.test((e as Error).message) && /JSON Lines/.test((e as Error).message), f);
      assert.equal(target.db.len(), 2, 'the database is unchanged');
      // import() reads them for what they are.
      await target.import({ path: f, clear: true });
      assert.ok(target.db.len() >= 2);
    }
    // A state file of ours with something after its end is still damage, and so is one whose first
    // object a flipped byte closed early (`{}format": ...`): no member, nothing like a next document.
    const state = join(dir, 'state.json');
    await p.save({ path: state });
    const text = readFileSync(state);
    writeFileSync(state, Buffer.concat([text, Buffer.from('{"more":1}\n')]));
    await assert.rejects(new DatabasePersistence(await smallDb(1), { baseDir: dir }).load({ path: state }), code('CORRUPT'));
    const closed = Buffer.from(text);
    closed[1] = 0x7d;
    writeFileSync(state, closed);
    await assert.rejects(new DatabasePersistence(await smallDb(1), { baseDir: dir }).load({ path: state }), code('CORRUPT'));
  } finally {
    cleanup();
  }
});

test('a small gzip file cut short, or with a flipped bit, is CORRUPT (the gzip stream), not an unknown or empty file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = new DatabasePersistence(await smallDb(), { baseDir: dir, compression: 'gzip', format: 'json' });
    const good = await p.save({ path: join(dir, 'db.json.gz') });
    const bytes = readFileSync(good);
    assert.ok(bytes.length < 4096, 'small enough to be read whole by the format probe');
    const cut = join(dir, 'cut.json.gz');
    writeFileSync(cut, bytes.subarray(0, 30));
    const flipped = join(dir, 'flipped.json.gz');
    const f = Buffer.from(bytes);
    // Inside the first deflate block (some later bytes, such as the time field of a later gzip member's
    // header, can change without changing what decompresses).
    f[20] ^= 0x10;
    assert.throws(() => gunzipSync(f));
    writeFileSync(flipped, f);
    for (const path of [cut, flipped]) {
      const target = new DatabasePersistence(await smallDb(2), { baseDir: dir });
      await assert.rejects(target.load({ path }), (e: unknown) => code('CORRUPT')(e) && /gzip/.test((e as Error).message), path);
      await assert.rejects(target.import({ path }), (e: unknown) => code('CORRUPT')(e), path);
      assert.equal(target.db.len(), 2);
    }
    // An empty file compressed is still an empty file, not damage.
    const empty = join(dir, 'empty.gz');
    writeFileSync(empty, gzipSync(Buffer.alloc(0)));
    await assert.rejects(new DatabasePersistence(await smallDb(1), { baseDir: dir }).import({ path: empty }), code('UNSUPPORTED_FORMAT'));
  } finally {
    cleanup();
  }
});

test('a JSON delta whose chain link names another base than its header does is CORRUPT even without checksum verification', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await smallDb();
    const p = new DatabasePersistence(db, { baseDir: dir, format: 'json' });
    const base = await p.save();
    await db.insert({ id: 'late', vector: [9, 9, 9] });
    const delta = await p.saveIncremental();
    assert.ok(delta && delta !== base);
    const text = readFileSync(delta, 'utf8');
    const link = /"base":"([0-9a-f]{64})"/.exec(text);
    assert.ok(link, 'the delta carries its chain link');
    const digit = link[1][0] === '0' ? '1' : '0';
    writeFileSync(delta, text.replace(`"base":"${link[1]}"`, `"base":"${digit}${link[1].slice(1)}"`));
    const target = new DatabasePersistence(new VectorDB({ dimension: 3, metric: 'euclidean' }), { baseDir: dir });
    // Before the fix the delta passed for another base's leftover and the load returned the older state.
    await assert.rejects(target.load({ path: base, verifyChecksum: false }), (e: unknown) => code('CORRUPT')(e) && /chain link/.test((e as Error).message));
    await assert.rejects(target.load({ path: base }), (e: unknown) => e instanceof QuiverError && ['CORRUPT', 'CHECKSUM_MISMATCH'].includes(e.code));
    assert.equal(target.db.len(), 0);
  } finally {
    cleanup();
  }
});

test('a save file whose first bytes are damaged (a flipped bit in its magic, or cut to nothing) is CORRUPT naming its header when its name says it is a save file; a delta too', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await smallDb();
    const files: string[] = [];
    for (const [format, compression] of [['binary', 'none'], ['json', 'none'], ['json', 'gzip'], ['json', 'brotli'], ['sqlite', 'none']] as const) {
      files.push(await new DatabasePersistence(db, { baseDir: join(dir, `${format}-${compression}`), format, compression }).save());
    }
    const chained = new DatabasePersistence(db, { baseDir: join(dir, 'chain'), format: 'json', incremental: true });
    await chained.save();
    await db.insert({ id: 'late', vector: [9, 9, 9] });
    const delta = await chained.saveIncremental();
    assert.match(String(delta), /\.delta-000001$/);
    files.push(delta!);
    for (const file of files) {
      const good = readFileSync(file);
      for (const damage of ['flip', 'empty'] as const) {
        const bytes = damage === 'flip' ? Buffer.from(good) : Buffer.alloc(0);
        if (damage === 'flip') bytes[0] ^= 0x01;
        writeFileSync(file, bytes);
        const target = new DatabasePersistence(await smallDb(2), { baseDir: dir });
        await assert.rejects(target.load({ path: delta === file ? chained.defaultPath() : file }), (e: unknown) => {
          assert.ok(e instanceof CorruptionError && e.code === 'CORRUPT', `${file} (${damage}): ${String(e)}`);
          assert.equal(e.file, file);
          assert.equal(e.section, 'header');
          assert.match(e.message, damage === 'flip' ? /first bytes are not those of a (binary|json|sqlite)/ : /the file is empty/);
          return true;
        });
        assert.equal(target.db.len(), 2, 'the database is unchanged');
      }
      writeFileSync(file, good);
    }
    // A file whose name says nothing of a save format is still "not a save file; use import()".
    const other = join(dir, 'data.bin');
    writeFileSync(other, Buffer.from('hello'));
    await assert.rejects(new DatabasePersistence(await smallDb(1), { baseDir: dir }).load({ path: other }), (e: unknown) => code('UNSUPPORTED_FORMAT')(e) && /import\(\)/.test((e as Error).message));
  } finally {
    cleanup();
  }
});

test('load() or import() of a FIFO, a directory or another non-regular file is UNSUPPORTED_FORMAT saying so (a FIFO nobody writes to blocked the open forever; a pipe failed with ESPIPE)', async () => {
  const { dir, cleanup } = tempDir();
  const fifo = join(dir, 'stream.jsonl');
  execFileSync('mkfifo', [fifo]);
  try {
    const p = new DatabasePersistence(await smallDb(2), { baseDir: dir });
    const inTime = <T>(what: string, op: Promise<T>): Promise<T> => Promise.race([op, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish`)), 5000).unref())]);
    for (const [what, op] of [['load', () => p.load({ path: fifo })], ['import', () => p.import({ path: fifo })]] as const) {
      await assert.rejects(inTime(what, op()), (e: unknown) => code('UNSUPPORTED_FORMAT')(e) && /is not a regular file \(a pipe, socket or device\).*write the stream to a file first/.test((e as Error).message), what);
    }
    await assert.rejects(p.load({ path: dir }), (e: unknown) => code('UNSUPPORTED_FORMAT')(e) && /is a directory/.test((e as Error).message));
    assert.equal(p.db.len(), 2, 'the database is unchanged');
  } finally {
    // An open still blocked in the FIFO (the old behaviour) is released by a writer's open.
    for (let i = 0; i < 4; i++) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        break;
      }
    }
    cleanup();
  }
});
