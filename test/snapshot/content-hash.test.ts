import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashChunk, hashEntry } from '../../src/snapshot/content-hash.js';
import { decodeManifest } from '../../src/snapshot/manifest.js';
import { RecordsDecoder } from '../../src/snapshot/records.js';
import { SnapshotManager } from '../../src/snapshot/manager.js';

const GOLDEN = fileURLToPath(new URL('../../../test/snapshot/golden/v1/none/', import.meta.url));

test('content hashes see every bit of the vector and every detail of the metadata', () => {
  const v = Float32Array.from([0.5, -1.25, 3, 1e-30]);
  const base = hashEntry(v, { a: 1, b: 'x' });
  assert.deepEqual(hashEntry(v.slice(), { a: 1, b: 'x' }), base, 'deterministic');
  const seen = new Set([base.join(':')]);
  const words = new Uint32Array(v.buffer);
  for (let w = 0; w < words.length; w++) {
    for (const bit of [0, 1, 15, 22, 23, 31]) {
      const copy = v.slice();
      new Uint32Array(copy.buffer)[w] ^= 1 << bit;
      const h = hashEntry(copy, { a: 1, b: 'x' }).join(':');
      assert.ok(!seen.has(h), `flipping bit ${bit} of word ${w} changes the hash`);
      seen.add(h);
    }
  }
  const variants: unknown[] = [undefined, {}, { a: 1 }, { b: 'x', a: 1 }, { a: 1, b: 'x ' }, { a: '1', b: 'x' }, { a: 1, b: ['x'] }, { a: 1, b: { x: null } }, { a: true, b: 'x' }, { a: 1.0000000000000002, b: 'x' }];
  for (const md of variants) {
    const h = hashEntry(v, md as Record<string, unknown> | undefined).join(':');
    assert.ok(!seen.has(h), `metadata ${JSON.stringify(md)} hashes differently`);
    seen.add(h);
  }
  assert.notDeepEqual(hashEntry(Float32Array.of(0), undefined), hashEntry(Float32Array.of(-0), undefined), '-0 and 0 differ');
  // Chunked hashing equals per-entry hashing.
  const chunk = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const out = new Uint32Array(6);
  hashChunk(chunk, 3, [undefined, undefined, { k: 1 }], 1, out);
  assert.deepEqual([out[2], out[3]], hashEntry(chunk.subarray(0, 3), undefined));
  assert.deepEqual([out[4], out[5]], hashEntry(chunk.subarray(3, 6), { k: 1 }));
});

test('the golden v1 snapshot stores exactly the content hashes this code computes (the algorithm never drifts)', async () => {
  const m = new SnapshotManager({ snapshotDir: GOLDEN });
  for (const folder of readdirSync(GOLDEN).filter((n) => n.startsWith('snapshot-'))) {
    const manifest = decodeManifest(readFileSync(join(GOLDEN, folder, 'metadata.json')), folder);
    if (manifest.type !== 'full') continue;
    const file = manifest.files.find((f) => f.role === 'metadata');
    assert.ok(file);
    const dec = new RecordsDecoder(folder, file.rawBytes, { entries: manifest.changedCount, deleted: 0, cleared: false, dimension: manifest.dimension, keepMetadata: false, keepHashes: true });
    dec.push(readFileSync(join(GOLDEN, folder, file.name)));
    const r = dec.finish();
    const db = await m.restoreSnapshot(manifest.id);
    assert.equal(r.ids.length, 5);
    r.ids.forEach((id, i) => {
      const e = db.get(id);
      assert.ok(e);
      assert.deepEqual([r.hashes[2 * i], r.hashes[2 * i + 1]], hashEntry(e.vector, e.metadata), `hash of ${String(id)}`);
    });
  }
});
