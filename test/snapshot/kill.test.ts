import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { runUntilKilled } from '../support/kill.js';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';
import { prng } from '../../support/datasets.js';
import { tempDir } from '../support/db.js';
import { stateDigest } from './fixtures/digest.js';
import { s3Target, targetOptions } from './fixtures/target.js';
import { startLocalS3, type LocalS3 } from '../../support/local-s3.js';

const worker = fileURLToPath(new URL('./fixtures/snapshot-worker.js', import.meta.url));

interface Outcome {
  created: Set<string>;
  maybeGone: Set<string>;
}

/** Runs the worker, kills it with SIGKILL `delayMs` after it is ready, and returns what it acknowledged. */
async function runAndKill(dir: string, mode: string, seed: number, delayMs: number): Promise<Outcome> {
  const out: Outcome = { created: new Set(), maybeGone: new Set() };
  const end = await runUntilKilled(worker, [dir, mode, String(seed)], 'ready', delayMs, (line) => {
    const [what, id] = line.split(' ');
    if (what === 'created') out.created.add(id);
    else if (what === 'deleting') out.maybeGone.add(id);
    else if (what === 'kept') out.maybeGone.delete(id);
  });
  if (end.signal !== 'SIGKILL') throw new Error(`worker exited without being killed: ${end.stderr}`);
  return out;
}

function tempFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(TEMP_SUFFIX)) found.push(p);
    }
  };
  walk(dir);
  return found;
}

let s3: LocalS3 | undefined;
after(async () => s3?.close());

for (const [mode, seed, where] of [['create', 1, 'disk'], ['delete', 2, 'disk'], ['cleanup', 3, 'disk'], ['create', 4, 's3'], ['delete', 5, 's3']] as const) {
  test(`kill -9 at random points of ${mode} (${where === 's3' ? 'an S3 bucket' : 'a directory'}): only complete snapshots are listed, and every one verifies and restores exactly`, async () => {
    const { dir: tmp, cleanup } = tempDir();
    if (where === 's3') s3 ??= await startLocalS3();
    const dir = where === 's3' && s3 ? s3Target(s3.endpoint, await s3.bucket()) : tmp;
    try {
      const rnd = prng(seed * 101);
      const kills = Number(process.env.QUIVER_KILLS ?? 4);
      const everCreated = new Set<string>();
      const maybeGone = new Set<string>();
      let restored = 0;
      for (let k = 0; k < kills; k++) {
        const o = await runAndKill(dir, mode, seed * 1000 + k, 150 + Math.floor(rnd() * 500));
        for (const id of o.created) everCreated.add(id);
        for (const id of o.maybeGone) maybeGone.add(id);
        const m = new SnapshotManager({ ...targetOptions(dir), gcGraceMs: 0 });
        const cat = await m.catalog();
        assert.deepEqual(cat.damaged.map((d) => d.id), [], 'a kill never leaves a damaged metadata.json');
        if (process.env.QUIVER_KILL_DEBUG) process.stderr.write(`${mode} kill ${k}: ${cat.snapshots.length} complete, ${cat.incomplete.length} incomplete\n`);
        const listed = new Set(cat.snapshots.map((s) => s.id));
        for (const id of everCreated) {
          if (!maybeGone.has(id)) assert.ok(listed.has(id), `acknowledged snapshot ${id} is listed`);
        }
        for (const info of cat.snapshots) {
          const report = await m.verifySnapshotReport(info.id);
          assert.equal(report.ok, true, `${info.id}: ${JSON.stringify(report.files.filter((f) => !f.ok))}`);
          const db = await m.restoreSnapshot(info.id);
          assert.equal(stateDigest(db), info.metadata.digest, `${info.id} restores to the state it was taken from`);
          restored++;
        }
        // Interrupted work is invisible and garbage-collected. S3 dates objects in whole seconds, which
        // the store reads as the end of their second: wait that out before a collection without grace.
        if (where === 's3') await new Promise((r) => setTimeout(r, 1100));
        await m.collectGarbage(0);
        const after = await m.catalog();
        assert.deepEqual(after.incomplete, []);
        if (where === 'disk') assert.deepEqual(tempFiles(dir), []);
        assert.deepEqual(after.snapshots.map((s) => s.id), cat.snapshots.map((s) => s.id), 'GC removed no complete snapshot');
      }
      assert.ok(everCreated.size > 0, 'the worker acknowledged snapshots before being killed');
      assert.ok(restored > 0);
    } finally {
      cleanup();
    }
  });
}
