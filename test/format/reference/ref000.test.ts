import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import type { Id } from '../../../src/engine/types.js';
import { FaultFileSystem } from '../../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { writeJsonState } from '../../../src/format/json/index.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../../src/persistence/database-persistence.js';
import { readReference000, reference000Codec, sniffReference000 } from '../../../src/format/reference/index.js';
import type { Progress } from '../../../src/util/progress.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { makeImage, randomVectors } from '../../support/image.js';
import { f32Bytes, fixture, memFs, ref000Doc, rejects, type RefEntry } from './helpers.js';

const P = '/r/state.json';

/** What the fixtures hold (test/fixtures/reference/ref000-*; made by the reference's algorithm). */
const FIXTURE_IDS: Id[] = ['doc1', 'doc-ü🚀', 42, 'no-meta'];
const FIXTURE_VECTORS = [0.1, 0.2, 0.3, 0.4, 1e-45, -2.5, 3.4028234663852886e38, 1 / 3, -1, 0, 1, 1.1754943508222875e-38, 5, 6, 7, 8];

async function readFixture(name: string, options = {}) {
  return reference000Codec.read(memFs({ [`/r/${name}`]: fixture(name) }), `/r/${name}`, options);
}

function assertFixtureColumns(back: Awaited<ReturnType<typeof readFixture>>): void {
  assert.deepEqual(back.columns.ids, FIXTURE_IDS);
  assert.equal(typeof back.columns.ids[2], 'number', 'numeric ids stay numbers');
  assert.equal(back.columns.dimension, 4);
  assert.ok(Buffer.from(back.columns.vectors.buffer, back.columns.vectors.byteOffset, back.columns.vectors.byteLength).equals(f32Bytes(FIXTURE_VECTORS)));
  const [m0, m1, m2, m3] = back.columns.metadata;
  assert.deepEqual(m0, { title: 'First', tags: ['a', 'b'] });
  assert.deepEqual(Object.keys(m1 ?? {}), ['__proto__', 'text', 'nested']);
  assert.deepEqual((m1 as Record<string, unknown>)['__proto__'], { polluted: true });
  assert.equal((m1 as Record<string, unknown>).text, 'Grüße "q" \\ \n');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
  assert.equal(m2, undefined, 'absent metadata');
  assert.equal(m3, undefined, 'null metadata');
}

test('the reference fixtures import exactly: pretty JSON, gzip and brotli, checksum verified', async () => {
  for (const name of ['ref000-pretty.json', 'ref000-compact.json.gz', 'ref000-compact.json.br']) {
    const back = await readFixture(name);
    assertFixtureColumns(back);
    assert.equal(back.columns.metric, 'cosine');
    assert.equal(back.metricKnown, true);
    assert.equal(back.checksum, 'a51c18194538e0640dd9792c9a7fb7ffa3fc0e6b5a53aa56e25aa866d4db9c16');
    assert.deepEqual(back.user, {});
  }
});

test('a checksum mismatch is CHECKSUM_MISMATCH naming the file; verifyChecksum: false reads it', async () => {
  const err = await rejects(readFixture('ref000-bad-checksum.json'), 'CHECKSUM_MISMATCH', '/r/ref000-bad-checksum.json', /checksum mismatch: the file says a51c1819.* hashes to [0-9a-f]{64}/);
  assert.ok(err instanceof CorruptionError && err.section === 'checksum');
  const back = await readFixture('ref000-bad-checksum.json', { verifyChecksum: false });
  assert.equal(back.columns.metadata[0]?.title, 'Changed');
  const none = await readFixture('ref000-no-checksum.json');
  assert.equal(none.checksum, undefined);
  assert.deepEqual(none.columns.ids, FIXTURE_IDS);
});

test('a state re-saved by another tool (other escapes and spacing) still verifies; tampering with it does not', async () => {
  assertFixtureColumns(await readFixture('ref000-resaved.json'));
  const text = Buffer.from(fixture('ref000-resaved.json')).toString('latin1').replace('"First"', '"Fjrst"');
  await rejects(reference000Codec.read(memFs({ [P]: Buffer.from(text, 'latin1') }), P), 'CHECKSUM_MISMATCH', P, /checksum mismatch/);
});

test('files the reference wrote verify in one pass; only a re-saved one is read twice', async () => {
  const reads = async (name: string, verifyChecksum: boolean) => {
    const fault = new FaultFileSystem(memFs({ [`/r/${name}`]: fixture(name) }));
    await reference000Codec.read(fault, `/r/${name}`, { verifyChecksum });
    return fault.ops.filter((o) => o.kind === 'read').length;
  };
  for (const name of ['ref000-pretty.json', 'ref000-compact.json.gz', 'ref000-compact.json.br']) {
    assert.equal(await reads(name, true), await reads(name, false), `${name}: the whitespace-stripped hash matched`);
  }
  assert.ok((await reads('ref000-resaved.json', true)) > (await reads('ref000-resaved.json', false)), 'the re-saved file needs the exact pass');
});

test('metric spellings of the reference systems, dimension from stats', async () => {
  const back = await readFixture('ref000-dotproduct.json');
  assert.equal(back.columns.metric, 'dot');
  assert.equal(back.columns.dimension, 4);
  for (const [spelling, metric] of [['Euclidean', 'euclidean'], ['cosine', 'cosine'], ['dot', 'dot'], ['Manhattan', 'manhattan'], ['dot_product', 'dot']]) {
    const doc = ref000Doc([{ id: 'a', vector: [1, 2] }], { metric: spelling });
    assert.equal((await reference000Codec.read(memFs({ [P]: doc }), P)).columns.metric, metric);
  }
  await rejects(reference000Codec.read(memFs({ [P]: ref000Doc([{ id: 'a', vector: [1, 2] }], { metric: 'hamming' }) }), P), 'UNSUPPORTED_FORMAT', P, /"hamming".*cosine, euclidean, dot and manhattan/);
  const unknown = JSON.stringify({ version: '1.0.0', vectors: [{ id: 'a', vector: [1, 2, 3] }] });
  const read = await reference000Codec.read(memFs({ [P]: unknown }), P);
  assert.equal(read.metricKnown, false, 'no metric in the file');
  assert.equal(read.columns.metric, 'cosine');
  assert.equal(read.columns.dimension, 3, 'dimension from the first vector');
});

test('unknown members are ignored but covered by the checksum; "metadata" becomes the user map', async () => {
  const doc = ref000Doc([{ id: 'a', vector: [1, 2] }], { extra: { indexState: { graph: [[0, 1]], note: 'ü' }, metadata: { owner: 'me', n: [1] } } });
  const back = await reference000Codec.read(memFs({ [P]: doc }), P);
  assert.deepEqual(back.user, { owner: 'me', n: [1] });
  assert.deepEqual(back.columns.ids, ['a']);
  await rejects(reference000Codec.read(memFs({ [P]: doc.replace('"note": "ü"', '"note": "u"') }), P), 'CHECKSUM_MISMATCH', P, /checksum mismatch/);
});

test('sniff: reference states yes; QuiverDB JSON, other JSON and binary no', async () => {
  for (const name of ['ref000-pretty.json', 'ref000-resaved.json', 'ref000-dotproduct.json']) assert.equal(sniffReference000(fixture(name)), true, name);
  const fs = new MemoryFileSystem();
  await fs.mkdir('/r');
  await writeJsonState(fs, '/r/ours.json', makeImage({ dimension: 2, ids: ['a'], vectors: Float32Array.of(1, 2) }));
  assert.equal(sniffReference000(fs.readFileSync('/r/ours.json')), false);
  assert.equal(sniffReference000(Buffer.from('{"vectors": [], "name": "x"}')), false);
  assert.equal(sniffReference000(Buffer.from('[{"version": 1, "vectors": []}]')), false);
  assert.equal(sniffReference000(Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)), false);
  assert.equal(reference000Codec.canWrite, false);
  await assert.rejects(reference000Codec.write(fs, '/r/x.json', makeImage({ dimension: 1, ids: [], vectors: new Float32Array(0) })), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT');
  // Our own JSON state given to this reader is refused with a pointer to the right format.
  await rejects(reference000Codec.read(fs, '/r/ours.json'), 'UNSUPPORTED_FORMAT', '/r/ours.json', /QuiverDB JSON state file.*'json' format/);
});

test('streaming: every window size gives the same columns (pretty and compact)', async () => {
  const entries: RefEntry[] = Array.from({ length: 60 }, (_, i) => ({ id: i % 2 ? `e-${i}-ü` : i, vector: Array.from(randomVectors(1, 5, i + 1)), metadata: i % 3 ? { i, s: '🚀'.repeat(i) } : undefined }));
  for (const compact of [false, true]) {
    const fs = memFs({ [P]: ref000Doc(entries, { compact }) });
    const whole = await readReference000(fs, P);
    for (const windowSize of [1, 2, 3, 17, 64, 1000]) {
      const back = await readReference000(fs, P, { windowSize });
      assert.deepEqual(back.columns.ids, whole.columns.ids, `window ${windowSize}`);
      assert.deepEqual(back.columns.metadata, whole.columns.metadata);
      assert.deepEqual(back.columns.vectors, whole.columns.vectors);
      assert.equal(back.checksum, whole.checksum);
    }
    assert.deepEqual(whole.columns.ids, entries.map((e) => e.id));
    assert.ok(Buffer.from(whole.columns.vectors.buffer).equals(f32Bytes(entries.flatMap((e) => e.vector))));
  }
});

test('the real fiori embeddings written the reference way import bit-exactly', async () => {
  const data = loadFioriEmbeddings();
  const entries: RefEntry[] = data.ids.map((id, i) => ({ id, vector: Array.from(data.vectors.subarray(i * 384, (i + 1) * 384)), metadata: data.metadata[i] }));
  const fs = memFs({ [P]: ref000Doc(entries), '/r/s.json.gz': gzipSync(ref000Doc(entries, { compact: true })) });
  for (const path of [P, '/r/s.json.gz']) {
    const back = await reference000Codec.read(fs, path);
    assert.deepEqual(back.columns.ids, data.ids);
    assert.ok(Buffer.from(back.columns.vectors.buffer, 0, back.columns.vectors.byteLength).equals(Buffer.from(data.vectors.buffer, data.vectors.byteOffset, data.vectors.byteLength)));
    assert.deepEqual(back.columns.metadata, data.metadata);
  }
});

test('progress is monotonic and ends at 100; a fired signal aborts', async () => {
  const entries: RefEntry[] = Array.from({ length: 2000 }, (_, i) => ({ id: `x${i}`, vector: [i, 1, 2, 3] }));
  const fs = memFs({ [P]: ref000Doc(entries) });
  const seen: Progress[] = [];
  await reference000Codec.read(fs, P, { onProgress: (p) => seen.push(p) });
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].percentage >= seen[i - 1].percentage);
  assert.equal(seen.at(-1)?.percentage, 100);
  const ctl = new AbortController();
  ctl.abort();
  await rejects(reference000Codec.read(fs, P, { signal: ctl.signal }), 'ABORTED', P, /cancelled/);
});

test('DatabasePersistence.load of a reference-000 file is refused, pointing to import; import reads it', async () => {
  const fs = memFs({ '/r/ref.json': fixture('ref000-pretty.json') });
  const db = new VectorDB({ dimension: 4 });
  const p = new DatabasePersistence(db, { baseDir: '/r', fs });
  await rejects(p.load({ path: '/r/ref.json' }), 'UNSUPPORTED_FORMAT', '/r/ref.json', /use import\(\{ path \}\) instead of load/);
  assert.equal(db.len(), 0);
  await p.import({ path: '/r/ref.json' });
  assert.equal(db.len(), 4);
});
