import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { tempDir, realDb } from '../support/db.js';
import { runUntilKilled } from '../support/kill.js';
import { digestDb } from '../fixtures/digest.js';
import { versionDb } from '../fixtures/versions.js';
import { prng } from '../../support/datasets.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));

test('a file saved in this process loads identically in a fresh child process (every format)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(300);
    for (const [format, compression] of [['binary', 'none'], ['binary', 'gzip'], ['json', 'none'], ['json', 'brotli']] as const) {
      const path = await new DatabasePersistence(db, { baseDir: dir, format, compression }).save({ path: join(dir, `db-${format}-${compression}`) });
      const r = spawnSync(process.execPath, [fixture('load-child'), path, '384', 'cosine'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim()) as { count: number; digest: string };
      assert.equal(out.count, db.len());
      assert.equal(out.digest, digestDb(db));
    }
  } finally {
    cleanup();
  }
});

/** Starts a save loop, kills it with SIGKILL after `delayMs` past "ready", returns the last acknowledged version. */
async function killDuringSaves(path: string, format: string, delayMs: number, start: number): Promise<number> {
  let acked = 0;
  const out = await runUntilKilled(fixture('save-loop'), [path, format, '2000', '48', String(start)], 'ready', delayMs, (line) => {
    if (line.startsWith('saved ')) acked = Number(line.slice(6));
  });
  assert.equal(out.signal, 'SIGKILL', `save loop exited without being killed: ${out.stderr}`);
  return acked;
}

for (const format of ['binary', 'json'] as const) {
  test(`kill -9 at random points of ${format} saves: the file always holds a complete acknowledged-or-newer version`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, `db.${format}`);
      const rnd = prng(format === 'binary' ? 11 : 12);
      const kills = Number(process.env.QUIVER_KILLS ?? 12);
      let checked = 0;
      let previous = 0;
      for (let i = 0; i < kills; i++) {
        const start = (i + 1) * 100_000;
        const acked = await killDuringSaves(path, format, Math.floor(rnd() * 400), start);
        const db = new VectorDB({ dimension: 48, metric: 'euclidean' });
        try {
          await new DatabasePersistence(db, { baseDir: dir }).load({ path });
        } catch (err) {
          // Before the very first save completes there may be no file at all.
          assert.ok(acked === 0 && previous === 0, `load failed after a save was acknowledged: ${String(err)}`);
          continue;
        }
        const version = Number(db.get('doc-0')?.metadata?.version);
        // This child's versions are start+1, start+2, ...; before its first save lands the file still
        // holds the previous child's last version.
        const allowed = acked === 0 ? [previous, start + 1] : [acked, acked + 1];
        assert.ok(allowed.includes(version), `found version ${version}, acknowledged ${acked}, previous ${previous}`);
        previous = version;
        assert.equal(digestDb(db), digestDb(versionDb(version, 2000, 48)), 'the file is exactly one complete version');
        checked++;
      }
      assert.ok(checked > 0, 'at least one kill landed after a save');
      // Leftover temp files from killed saves are removed by the next save into the directory.
      await new DatabasePersistence(versionDb(1, 10, 48), { baseDir: dir }).save({ path: join(dir, 'other') });
      assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith(TEMP_SUFFIX)), []);
    } finally {
      cleanup();
    }
  });
}

test('a process that ends with auto-save running saves its last changes on the way out (no shutdown call)', async () => {
  for (const mode of ['full', 'incremental', 'stopped'] as const) {
    const { dir, cleanup } = tempDir();
    try {
      const r = spawnSync(process.execPath, [fixture('exit-child'), dir, mode, '250'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'inserted 250');
      const files = readdirSync(dir).filter((n) => !n.startsWith('.'));
      if (mode === 'stopped') {
        assert.deepEqual(files, [], 'stopAutoSave() also gives up the save at exit');
        continue;
      }
      const copy = new VectorDB({ dimension: 4 });
      await new DatabasePersistence(copy, { baseDir: dir }).load();
      assert.equal(copy.len(), 250, mode);
      assert.deepEqual(copy.get('doc-250')?.metadata, { i: 250 });
    } finally {
      cleanup();
    }
  }
});
