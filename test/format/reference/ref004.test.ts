import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { readReference004, reference004Codec } from '../../../src/format/reference/index.js';
import type { Progress } from '../../../src/util/progress.js';
import { f32Bytes, fixture, memFs, rejects } from './helpers.js';

const D = '/ref';
const META = `${D}/ann_metadata.json`;
const PAY = `${D}/payloads.json`;

function dirFs(meta: string | undefined, payloads?: string): MemoryFileSystem {
  const files: Record<string, string> = {};
  if (meta !== undefined) files[META] = meta;
  if (payloads !== undefined) files[PAY] = payloads;
  const fs = memFs(files);
  return fs;
}

const read = (meta: string | undefined, payloads?: string, options = {}) => reference004Codec.read(dirFs(meta, payloads), D, options);
const metaDoc = (vectors: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ dimension: 3, algorithm: 'brute-force', vectorCount: vectors.length, faissAvailable: false, ...extra, vectors }, null, 2);

test('the fixture directory imports: order, numeric ids, payloads joined, orphans ignored', async () => {
  const fs = memFs({
    [META]: fixture('ref004-basic/ann_metadata.json'),
    [PAY]: fixture('ref004-basic/payloads.json'),
    [`${D}/ann_index.faiss`]: fixture('ref004-basic/ann_index.faiss'),
  });
  for (const path of [D, META]) {
    const back = await reference004Codec.read(fs, path);
    assert.deepEqual(back.columns.ids, ['doc1', 7, 'doc-ü', 'no-payload']);
    assert.equal(typeof back.columns.ids[1], 'number');
    assert.equal(back.columns.dimension, 3);
    assert.ok(Buffer.from(back.columns.vectors.buffer, 0, back.columns.vectors.byteLength).equals(f32Bytes([1, 2, 3, 0.5, -0.25, 1e-7, 0, 0, 1, 3, 2, 1])));
    assert.deepEqual(back.columns.metadata, [{ title: 'First Document', category: 'docs' }, { n: 7, nested: { a: [1, 2] } }, undefined, undefined]);
    assert.equal(back.metricKnown, false);
    assert.equal(back.columns.metric, 'cosine');
    assert.deepEqual(back.user, {});
  }
});

test('codec facts: import only, probed by path', async () => {
  assert.equal(reference004Codec.canWrite, false);
  assert.equal(reference004Codec.sniff(fixture('ref004-basic/ann_metadata.json')), false);
  assert.equal(reference004Codec.extension('none'), '');
  await assert.rejects(reference004Codec.write(new MemoryFileSystem(), D, { dimension: 1, metric: 'cosine', seq: 0, count: 0, ids: [], metadata: [], vectorChunks: () => [], release() {} }), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT');
});

test('missing files: ann_metadata.json is required (NOT_FOUND naming it), payloads.json is not', async () => {
  await rejects(read(undefined, '[]'), 'NOT_FOUND', META, /does not exist/);
  const back = await read(metaDoc([['a', [1, 2, 3]]]));
  assert.deepEqual(back.columns.metadata, [undefined]);
});

test('payloads: objects or null only, one per id, __proto__ kept as data', async () => {
  const meta = metaDoc([['a', [1, 2, 3]], [2, [4, 5, 6]]]);
  for (const bad of ['[1]', '"text"', '3', 'true']) {
    const err = await rejects(read(meta, `[["a", {"k": 1}], [2, ${bad}]]`), 'CORRUPT', PAY, /a payload must be a JSON object or null/);
    assert.ok(err instanceof CorruptionError && err.section === '[1][1]', (err as CorruptionError).section);
  }
  await rejects(read(meta, '[["a", {"k": 1}], ["a", {"k": 2}]]'), 'CORRUPT', PAY, /the id "a" appears twice, at \[0\] and at \[1\]/);
  await rejects(read(meta, '{"a": {}}'), 'CORRUPT', PAY, /expected a JSON array/);
  await rejects(read(meta, '[["a"]]'), 'CORRUPT', PAY, /"," after the id/);
  await rejects(read(meta, '[["a", {}, 3]]'), 'CORRUPT', PAY, /"]" closing the \[id, payload\] pair/);
  await rejects(read(meta, '[{"id": "a"}]'), 'CORRUPT', PAY, /an \[id, payload\] pair/);
  const back = await read(meta, '[[2, {"__proto__": {"polluted": true}, "x": 1}], ["a", null]]');
  assert.deepEqual(back.columns.metadata[0], undefined);
  assert.deepEqual(Object.keys(back.columns.metadata[1] ?? {}), ['__proto__', 'x']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
  // "2" and 2 are different ids: a payload for "2" does not belong to vector 2.
  assert.deepEqual((await read(meta, '[["2", {"x": 1}]]')).columns.metadata, [undefined, undefined]);
});

test('vectors: NaN, wrong lengths, declared dimension and count, duplicates, bad pairs and ids', async () => {
  const cases: [string, RegExp, string][] = [
    [metaDoc([['a', [1, 2, 3]], ['b', [1, null, 3]]]), /expected a number/, 'vectors[1][1][1]'],
    [metaDoc([['a', [1, 2, 3]], ['b', [1, 2]]]), /dimension mismatch/, 'vectors[1][1]'],
    [metaDoc([['a', [1, 2, 3]], ['b', [1, 2, 3, 4]]]), /more than 3 numbers/, 'vectors[1][1]'],
    [metaDoc([['a', [1, 2, 3]]], { dimension: 4 }), /dimension mismatch/, 'vectors[0][1]'],
    [metaDoc([['a', [1, 2, 3]]], { vectorCount: 2 }), /says 2 but "vectors" holds 1/, 'vectorCount'],
    [metaDoc([['a', [1, 2, 3]], ['b', [4, 5, 6]], ['a', [7, 8, 9]]]), /the id "a" appears twice, at vectors\[0\] and at vectors\[2\]/, 'vectors[2][0]'],
    [metaDoc([['a', [1, 2, 3]], [1.5, [4, 5, 6]]]), /safe integer/, 'vectors[1][0]'],
    [metaDoc([['a', [1, 2, 3]], ['', [4, 5, 6]]]), /empty string/, 'vectors[1][0]'],
    [metaDoc([['a', [1, 2, 3]], { id: 'b', vector: [4, 5, 6] }]), /an \[id, vector\] pair/, 'vectors[1]'],
    [metaDoc([['a', [1, 2, 3], 'x']]), /"]" closing the \[id, vector\] pair/, 'vectors[0]'],
    [metaDoc([['a', [1, 2, 3]]], { dimension: 'three' }), /integer in 1\.\.65536/, 'dimension'],
    [JSON.stringify({ dimension: 3, vectors: { a: [1, 2, 3] } }), /"vectors" must be an array/, 'vectors'],
    [JSON.stringify({ dimension: 3 }), /no "vectors" array/, 'vectors'],
    [JSON.stringify({ vectors: [] }), /no vectors and declares no dimension/, 'dimension'],
    [metaDoc([['a', [1, 2, 1e39]]]), /out of float32 range/, 'vectors[0][1][2]'],
  ];
  for (const [doc, message, section] of cases) {
    const err = await rejects(read(doc), 'CORRUPT', META, message);
    assert.ok(err instanceof CorruptionError && err.section === section, `${doc.slice(0, 60)}: section ${(err as CorruptionError).section}`);
  }
  const noDim = await read(JSON.stringify({ vectors: [[1, [1, 2]], [2, [3, 4]]] }));
  assert.equal(noDim.columns.dimension, 2, 'dimension from the first vector when none is declared');
  const fallback = await readReference004(dirFs(JSON.stringify({ vectors: [] })), D, { fallbackDimension: 9 });
  assert.equal(fallback.columns.dimension, 9);
});

test('every truncated prefix of ann_metadata.json and payloads.json is CORRUPT', async () => {
  const meta = Buffer.from(fixture('ref004-basic/ann_metadata.json')).toString();
  const pay = Buffer.from(fixture('ref004-basic/payloads.json')).toString();
  for (let len = 0; len < meta.length; len++) await rejects(read(meta.slice(0, len), pay), 'CORRUPT', META, /./);
  for (let len = 0; len < pay.length; len++) await rejects(read(meta, pay.slice(0, len)), 'CORRUPT', PAY, /./);
});

test('every window size gives the same columns; progress is monotonic; a signal aborts', async () => {
  const vectors = Array.from({ length: 80 }, (_, i) => [i % 2 ? `v-${i}-ü` : i, [i, -i / 3, 1e-30 * i]]);
  const payloads = vectors.filter((_, i) => i % 3).map(([id], i) => [id, { i, s: '🚀'.repeat(i % 5) }]);
  const fs = dirFs(metaDoc(vectors), JSON.stringify(payloads, null, 1));
  const whole = await readReference004(fs, D);
  for (const windowSize of [1, 2, 5, 33, 500]) {
    const back = await readReference004(fs, D, { windowSize });
    assert.deepEqual(back.columns, whole.columns, `window ${windowSize}`);
  }
  assert.equal(whole.columns.ids.length, 80);
  const seen: Progress[] = [];
  await readReference004(fs, D, { onProgress: (p) => seen.push(p) });
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].percentage >= seen[i - 1].percentage);
  assert.equal(seen.at(-1)?.percentage, 100);
  const ctl = new AbortController();
  ctl.abort();
  await rejects(readReference004(fs, D, { signal: ctl.signal }), 'ABORTED', META, /cancelled/);
});
