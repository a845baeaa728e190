import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readSqliteState } from '../../../src/format/sqlite/index.js';
import { bytesOf, inTempDir, reseal, surgery, vectorBlob, writeSample } from './helpers.js';

type Check = (err: unknown) => boolean;

/** An error check: a QuiverError with `code` (and class `cls`) whose message names the file and matches `re`. */
function fails(path: string, code: string, re: RegExp, cls: abstract new (...args: never[]) => QuiverError = CorruptionError): Check {
  return (err) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    assert.equal((err as QuiverError).code, code, (err as Error).message);
    assert.ok((err as Error).message.includes(path), `message names the file: ${(err as Error).message}`);
    assert.match((err as Error).message, re);
    // README, "Error codes": a message about a checksum contains the word.
    if (code === 'CHECKSUM_MISMATCH') assert.match((err as Error).message, /checksum/);
    return true;
  };
}

/** Writes the sample, applies `edit`, optionally reseals, and expects `read` to fail as described. */
async function expectBroken(edit: (db: Database.Database) => void, code: string, re: RegExp, opts: { reseal?: boolean; verify?: boolean; cls?: abstract new (...args: never[]) => QuiverError } = {}): Promise<void> {
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    surgery(path, edit);
    if (opts.reseal) reseal(path);
    await assert.rejects(readSqliteState(nodeFs, path, { verifyChecksum: opts.verify ?? true }), fails(path, code, re, opts.cls));
  });
}

test('a file that is not SQLite (JSON, random bytes, empty, a short header) is a CorruptionError naming the file', async () => {
  await inTempDir(async (dir) => {
    for (const [name, bytes] of [
      ['json', Buffer.from('{"format":"quiverdb-json"}')],
      ['random', Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 255))],
      ['empty', Buffer.alloc(0)],
      ['short', Buffer.from('SQLite format')],
    ] as const) {
      const path = join(dir, `${name}.sqlite`);
      writeFileSync(path, bytes);
      await assert.rejects(readSqliteState(nodeFs, path), fails(path, 'CORRUPT', /SQLite header/));
    }
    await assert.rejects(readSqliteState(nodeFs, join(dir, 'absent.sqlite')), { code: 'ENOENT' });
  });
});

test('truncated files are CorruptionErrors, never partial data', async () => {
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(path);
    const cut = join(dir, 'cut.sqlite');
    for (const len of [10, 16, 100, 1000, 4096, 4097, 8192, bytes.length - 4096, bytes.length - 1]) {
      if (len >= bytes.length || len < 0) continue;
      writeFileSync(cut, bytes.subarray(0, len));
      await assert.rejects(readSqliteState(nodeFs, cut), fails(cut, 'CORRUPT', /./), `prefix of ${len} bytes`);
    }
  });
});

test('a SQLite database without quiver_meta is UNSUPPORTED_FORMAT; missing tables and columns are corrupt', async () => {
  await inTempDir(async (dir) => {
    const other = join(dir, 'other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE notes (a TEXT)');
    db.close();
    await assert.rejects(readSqliteState(nodeFs, other), fails(other, 'UNSUPPORTED_FORMAT', /no quiver_meta table/, QuiverError));
  });
  await expectBroken((db) => db.exec('DROP TABLE entries'), 'CORRUPT', /table entries is missing/);
  await expectBroken((db) => db.exec('DROP TABLE quiver_digests'), 'CORRUPT', /table quiver_digests is missing/);
  await expectBroken((db) => db.exec('ALTER TABLE entries DROP COLUMN metadata'), 'CORRUPT', /has no column metadata/);
});

test('wrong format name, newer format version and bad quiver_meta values are typed errors', async () => {
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = 'other' WHERE key = 'format'"), 'UNSUPPORTED_FORMAT', /not a QuiverDB SQLite export/, { cls: QuiverError });
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = '2' WHERE key = 'formatVersion'"), 'UNSUPPORTED_VERSION', /version 2.*Upgrade/, { cls: QuiverError });
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = 'x' WHERE key = 'dimension'"), 'CORRUPT', /quiver_meta\.dimension/);
  await expectBroken((db) => db.exec("DELETE FROM quiver_meta WHERE key = 'count'"), 'CORRUPT', /quiver_meta\.count.*missing/);
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = 'hamming' WHERE key = 'metric'"), 'CORRUPT', /quiver_meta\.metric/);
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = '[1]' WHERE key = 'user'"), 'CORRUPT', /quiver_meta\.user.*JSON object/);
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = 'abc' WHERE key = 'checksum'"), 'CORRUPT', /quiver_meta\.checksum/);
  // A count the file cannot hold is refused before anything is allocated for it.
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = '900000000000' WHERE key = 'count'"), 'CORRUPT', /cannot fit/);
});

test('declared dimension vs actual vector length, and non-BLOB or missing vectors', async () => {
  await expectBroken((db) => db.prepare('UPDATE entries SET vector = ? WHERE pos = 2').run(vectorBlob([1, 2, 3])), 'CORRUPT', /pos 2.*"42".*12-byte vector; dimension 8 needs exactly 32 bytes/);
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = '9' WHERE key = 'dimension'"), 'CORRUPT', /32-byte vector; dimension 9 needs exactly 36/);
  await expectBroken(
    (db) => {
      db.exec('CREATE TABLE e2 (pos INTEGER PRIMARY KEY, id NOT NULL UNIQUE, vector BLOB, metadata TEXT); INSERT INTO e2 SELECT * FROM entries; DROP TABLE entries; ALTER TABLE e2 RENAME TO entries');
      db.exec("UPDATE entries SET vector = 'text' WHERE pos = 1");
    },
    'CORRUPT',
    /pos 1.*not a BLOB/,
  );
});

test('NaN and Infinity in a vector are CorruptionErrors naming the entry (also with valid digests)', async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const blob = vectorBlob([0, 1, 2, bad, 4, 5, 6, 7]);
    await expectBroken((db) => db.prepare('UPDATE entries SET vector = ? WHERE pos = 3').run(blob), 'CORRUPT', new RegExp(`entry 3 \\(id "no-metadata"\\) has ${bad} at element 3`), { reseal: true });
    await expectBroken((db) => db.prepare('UPDATE entries SET vector = ? WHERE pos = 3').run(blob), 'CORRUPT', /entry 3.*element 3/, { verify: false });
  }
});

test('metadata that is not a JSON object is refused; JSON null means no metadata', async () => {
  for (const [text, re] of [
    ['[1,2]', /metadata that is an array/],
    ['"str"', /metadata that is a string/],
    ['12', /metadata that is a number/],
    ['{"a":', /not valid JSON/],
  ] as const) {
    await expectBroken((db) => db.prepare('UPDATE entries SET metadata = ? WHERE pos = 0').run(text), 'CORRUPT', re);
  }
  await expectBroken((db) => db.exec("UPDATE entries SET metadata = x'7b7d' WHERE pos = 0"), 'CORRUPT', /not TEXT/);
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    surgery(path, (db) => db.exec("UPDATE entries SET metadata = 'null' WHERE pos = 0"));
    reseal(path);
    const r = await readSqliteState(nodeFs, path);
    assert.equal(r.columns.metadata[0], undefined);
  });
});

test('ids of the wrong SQLite type or outside the safe integer range are refused', async () => {
  const recreate = (db: Database.Database) =>
    db.exec('CREATE TABLE e2 (pos INTEGER PRIMARY KEY, id, vector BLOB NOT NULL, metadata TEXT); INSERT INTO e2 SELECT * FROM entries; DROP TABLE entries; ALTER TABLE e2 RENAME TO entries');
  await expectBroken((db) => (recreate(db), db.exec('UPDATE entries SET id = 42.0 WHERE pos = 1')), 'CORRUPT', /pos 1.*SQLite type REAL/);
  await expectBroken((db) => (recreate(db), db.exec("UPDATE entries SET id = x'0102' WHERE pos = 1")), 'CORRUPT', /pos 1.*SQLite type BLOB/);
  await expectBroken((db) => (recreate(db), db.exec('UPDATE entries SET id = NULL WHERE pos = 1')), 'CORRUPT', /pos 1.*SQLite type NULL/);
  await expectBroken((db) => db.exec('UPDATE entries SET id = 9007199254740993 WHERE pos = 1'), 'CORRUPT', /pos 1.*outside the safe range/);
  await expectBroken((db) => db.exec("UPDATE entries SET id = '' WHERE pos = 1"), 'CORRUPT', /pos 1.*invalid id.*empty/);
});

test('a file holding the same id twice is refused, naming the id and both positions', async () => {
  await expectBroken(
    (db) => {
      db.exec('CREATE TABLE e2 (pos INTEGER PRIMARY KEY, id NOT NULL, vector BLOB NOT NULL, metadata TEXT); INSERT INTO e2 SELECT * FROM entries; DROP TABLE entries; ALTER TABLE e2 RENAME TO entries');
      db.exec("UPDATE entries SET id = 'no-metadata' WHERE pos = 6");
    },
    'CORRUPT',
    /pos 6.*id "no-metadata".*repeats the id of the entry at position 3/,
    { reseal: true },
  );
});

test('row counts that disagree with quiver_meta.count are corrupt', async () => {
  await expectBroken((db) => db.exec('DELETE FROM entries WHERE pos = 9'), 'CORRUPT', /announces 10 entries but the table holds 9/);
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = '3' WHERE key = 'count'"), 'CORRUPT', /beyond the 3 entries/);
});

test('changed content fails the checksum (CHECKSUM_MISMATCH) unless verification is off', async () => {
  const flipVector = (db: Database.Database) => {
    const v = db.prepare('SELECT vector FROM entries WHERE pos = 4').pluck().get() as Buffer;
    v[5] ^= 1;
    db.prepare('UPDATE entries SET vector = ? WHERE pos = 4').run(v);
  };
  await expectBroken(flipVector, 'CHECKSUM_MISMATCH', /positions 0\.\.\d+ \(digest bucket 0\) do not match/);
  await expectBroken((db) => db.exec("UPDATE entries SET metadata = '{\"b\":2}' WHERE pos = 4"), 'CHECKSUM_MISMATCH', /do not match/);
  await expectBroken((db) => db.exec("UPDATE quiver_meta SET value = '100' WHERE key = 'seq'"), 'CHECKSUM_MISMATCH', /quiver_meta.*checksum mismatch/);
  await expectBroken((db) => db.exec('DELETE FROM quiver_digests'), 'CHECKSUM_MISMATCH', /have no digest/);
  await expectBroken((db) => db.exec("INSERT INTO quiver_digests VALUES (7, zeroblob(32))"), 'CHECKSUM_MISMATCH', /digest for positions .* but no entries/);
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    surgery(path, flipVector);
    const r = await readSqliteState(nodeFs, path, { verifyChecksum: false });
    assert.equal(r.columns.ids.length, 10);
  });
});

test('random byte flips never return wrong data or an untyped error', async () => {
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    const { readFileSync } = await import('node:fs');
    const good = readFileSync(path);
    const expected = await readSqliteState(nodeFs, path);
    const flipped = join(dir, 'f.sqlite');
    const used: number[] = [];
    good.forEach((b, i) => b !== 0 && used.push(i));
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    let caught = 0;
    const runs = 200;
    for (let k = 0; k < runs; k++) {
      const bytes = Buffer.from(good);
      // Half the flips hit non-zero (mostly live) bytes, the rest land anywhere, free space included.
      const at = k % 2 ? used[next() % used.length] : next() % bytes.length;
      bytes[at] ^= 1 << next() % 8;
      writeFileSync(flipped, bytes);
      try {
        const r = await readSqliteState(nodeFs, flipped);
        assert.deepEqual(r.columns.ids, expected.columns.ids, `flip at ${at} changed the ids`);
        assert.ok(bytesOf(r.columns.vectors).equals(bytesOf(expected.columns.vectors)), `flip at ${at} changed vectors`);
        assert.equal(JSON.stringify(r.columns.metadata), JSON.stringify(expected.columns.metadata), `flip at ${at} changed metadata`);
      } catch (err) {
        caught++;
        assert.ok(err instanceof QuiverError, `flip at ${at}: untyped ${String(err)}`);
        assert.ok(['CORRUPT', 'CHECKSUM_MISMATCH', 'UNSUPPORTED_FORMAT', 'UNSUPPORTED_VERSION'].includes(err.code), `flip at ${at}: ${err.code} ${err.message}`);
        assert.ok(err.message.includes(flipped), 'the error names the file');
      }
    }
    assert.ok(caught >= runs / 4, `flips in live bytes are caught (${caught} of ${runs})`);
  });
});

test('memory file system: non-SQLite, truncated and damaged files are typed errors too', async () => {
  const { MemoryFileSystem } = await import('../../../src/env/memory-fs.js');
  await inTempDir(async (dir) => {
    const path = await writeSample(dir);
    const { readFileSync } = await import('node:fs');
    const good = readFileSync(path);
    const fs = new MemoryFileSystem();
    await fs.mkdir('/m');
    const put = async (bytes: Uint8Array) => {
      const h = await fs.open('/m/f.sqlite', 'w');
      await h.write(bytes, 0);
      await h.close();
    };
    await put(good);
    assert.equal((await readSqliteState(fs, '/m/f.sqlite')).columns.ids.length, 10);
    for (const bytes of [Buffer.from('not sqlite at all'), good.subarray(0, 50), good.subarray(0, 4096), good.subarray(0, good.length - 100)]) {
      await put(bytes);
      await assert.rejects(readSqliteState(fs, '/m/f.sqlite'), fails('/m/f.sqlite', 'CORRUPT', /./));
    }
    const flipped = Buffer.from(good);
    flipped[flipped.indexOf(Buffer.from('entry 42'))] ^= 1;
    await put(flipped);
    await assert.rejects(readSqliteState(fs, '/m/f.sqlite'), fails('/m/f.sqlite', 'CHECKSUM_MISMATCH', /do not match/));
  });
});
