import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnapshotManager } from '../../../src/snapshot/manager.js';
import { tempDir } from '../../support/db.js';
import { expectedEntries, type ExpectedEntry } from './expected.js';

// Compiled to build/test/snapshot/golden/; the golden files stay in the source tree.
const DIR = fileURLToPath(new URL('../../../../test/snapshot/golden/v1/', import.meta.url));

interface Expected {
  compression: 'none' | 'gzip';
  name: string;
  type: 'full' | 'incremental';
  baseId?: string;
  entries: ExpectedEntry[];
}

const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, Expected>;

test('the golden set is complete: a full snapshot and two incrementals per compression', () => {
  const all = Object.values(expected);
  assert.equal(all.length, 6);
  for (const c of ['none', 'gzip']) assert.deepEqual(all.filter((e) => e.compression === c).map((e) => e.type), ['full', 'incremental', 'incremental']);
  assert.ok(all.every((e) => e.entries.length > 0), 'every golden state holds entries');
});

for (const compression of ['none', 'gzip'] as const) {
  test(`golden v1 snapshots (${compression}) list, verify and restore to their exact contents`, async () => {
    // A copy, so nothing (garbage collection included) can ever touch the checked-in files.
    const { dir, cleanup } = tempDir();
    try {
      cpSync(join(DIR, compression), dir, { recursive: true });
      const m = new SnapshotManager({ snapshotDir: dir });
      const mine = Object.entries(expected).filter(([, e]) => e.compression === compression);
      const listed = await m.listSnapshots();
      assert.deepEqual(listed.map((s) => s.id).sort(), mine.map(([id]) => id).sort());
      for (const [id, exp] of mine) {
        const info = await m.getSnapshot(id);
        assert.equal(info?.name, exp.name);
        assert.equal(info?.type, exp.type);
        assert.equal(info?.baseId, exp.baseId);
        assert.equal(info?.formatVersion, 1);
        assert.equal(info?.vectorCount, exp.entries.length);
        assert.equal(await m.verifySnapshot(id), true);
        const db = await m.restoreSnapshot(id);
        assert.equal(db.dimension, 3);
        assert.equal(db.metric, 'cosine');
        assert.deepEqual(expectedEntries(db), exp.entries, `${exp.name} restores exactly`);
      }
      const full = listed.find((s) => s.type === 'full');
      assert.deepEqual(full?.metadata, { purpose: 'golden' });
      assert.deepEqual(full?.tags, ['golden']);
      assert.equal(full?.pinned, true);
    } finally {
      cleanup();
    }
  });
}
