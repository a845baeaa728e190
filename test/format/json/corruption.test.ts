import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { readJsonState, writeJsonState, type JsonCompression, type JsonStateReadResult } from '../../../src/format/json/index.js';
import { awkwardSpec, bytesFs, bytesOf, docText, fullMembers, makeChangeImage, makeImage, tempDir, utf8, type PlainEntry } from './helpers.js';
import { convertFile, importFile } from '../../../src/interchange/index.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';

/** Writes the awkward sample (full or delta) and returns its bytes. */
async function sample(compression: JsonCompression, delta = false): Promise<Uint8Array> {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 's.json');
    const spec = awkwardSpec();
    const image = delta ? makeChangeImage({ ...spec, sinceSeq: 3, deletedIds: ['x', 5] }) : makeImage(spec);
    await writeJsonState(nodeFs, path, image, { compression, createdAt: 7 });
    return new Uint8Array(readFileSync(path));
  } finally {
    cleanup();
  }
}

function readBytes(bytes: Uint8Array, compression: JsonCompression, extra: { verifyChecksum?: boolean; maxDecompressedBytes?: number } = {}): Promise<JsonStateReadResult> {
  return readJsonState(bytesFs({ '/f.json': bytes }), '/f.json', { compression, ...extra });
}

function sameResult(a: JsonStateReadResult, b: JsonStateReadResult): boolean {
  const ca = a.kind === 'full' ? a.columns : a.delta;
  const cb = b.kind === 'full' ? b.columns : b.delta;
  return (
    a.kind === b.kind &&
    JSON.stringify(ca.ids) === JSON.stringify(cb.ids) &&
    bytesOf(ca.vectors).equals(bytesOf(cb.vectors)) &&
    JSON.stringify(ca.metadata) === JSON.stringify(cb.metadata) &&
    JSON.stringify(a.header) === JSON.stringify(b.header)
  );
}

for (const compression of ['none', 'gzip', 'brotli'] as JsonCompression[]) {
  for (const delta of [false, true]) {
    test(`every truncated prefix is a CorruptionError (${compression}, ${delta ? 'delta' : 'full'})`, async () => {
      const bytes = await sample(compression, delta);
      await readBytes(bytes, compression); // the whole file is fine
      // Plain files end with "}\n": only the newline may go without changing the document.
      const docEnd = compression === 'none' ? bytes.length - 1 : bytes.length;
      for (let len = 0; len < docEnd; len++) {
        await assert.rejects(readBytes(bytes.subarray(0, len), compression), CorruptionError, `prefix of ${len} bytes`);
      }
    });

    test(`random byte flips never give wrong data or another error type (${compression}, ${delta ? 'delta' : 'full'})`, async () => {
      const bytes = await sample(compression, delta);
      const good = await readBytes(bytes, compression);
      await fc.assert(
        fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
          const bad = Uint8Array.from(bytes);
          bad[at] ^= mask;
          try {
            const r = await readBytes(bad, compression);
            assert.ok(sameResult(r, good), `flip at ${at} (^${mask}) returned different data`);
          } catch (err) {
            assert.ok(err instanceof CorruptionError, `flip at ${at} (^${mask}) threw ${String(err)}`);
          }
        }),
        { numRuns: 300 },
      );
    });
  }
}

test('every single-byte flip of an uncompressed file is caught (exhaustive over offsets)', async () => {
  const bytes = await sample('none');
  const good = await readBytes(bytes, 'none');
  for (let at = 0; at < bytes.length; at++) {
    for (const mask of [0x01, 0x20, 0x80]) {
      const bad = Uint8Array.from(bytes);
      bad[at] ^= mask;
      try {
        const r = await readBytes(bad, 'none');
        assert.ok(sameResult(r, good), `flip at ${at} returned different data`);
        // Only the bytes after the checksummed part (the final newline) can change harmlessly.
        assert.ok(at >= bytes.length - 1, `flip at ${at} of ${bytes.length} went unnoticed`);
      } catch (err) {
        assert.ok(err instanceof CorruptionError, `flip at ${at} threw ${String(err)}`);
      }
    }
  }
});

const E: PlainEntry[] = [
  { id: 'a', vector: [1, 2, 3], metadata: { k: 1 } },
  { id: 'b', vector: [4, 5, 6] },
  { id: 3, vector: [7, 8, 9], metadata: null },
];

/** Reads a hand-made document and returns the error it raises. */
async function failure(text: string, opts: { verifyChecksum?: boolean } = {}): Promise<QuiverError> {
  try {
    await readBytes(utf8(text), 'none', opts);
  } catch (err) {
    assert.ok(err instanceof QuiverError, `not a QuiverError: ${String(err)}`);
    return err;
  }
  assert.fail('the document was accepted');
}

function withVectors(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `sample has no ${from}`);
  return text.replace(from, to);
}

test('damage is named by JSON path and byte offset', async () => {
  const doc = (edit: (b: string) => string) => docText(fullMembers(3, E), { edit });
  let err = await failure(doc((b) => withVectors(b, '[4,5,6]', '[4,5]')));
  assert.ok(err instanceof CorruptionError);
  assert.equal(err.section, 'vectors[1].vector');
  assert.match(err.message, /dimension mismatch/);
  assert.match(err.message, /has 2 numbers, expected 3/);

  const badNumber = doc((b) => withVectors(b, '[7,8,9]', '[7,8.,9]'));
  err = await failure(badNumber);
  assert.ok(err instanceof CorruptionError);
  assert.equal(err.section, 'vectors[2].vector[1]');
  assert.equal(err.offset, badNumber.indexOf('8.,9') + 2);

  err = await failure(doc((b) => withVectors(b, '[1,2,3]', '[1,1e39,3]')));
  assert.equal((err as CorruptionError).section, 'vectors[0].vector[1]');
  assert.match(err.message, /float32 range/);

  err = await failure(doc((b) => withVectors(b, '[1,2,3]', '[1,2,3,4]')));
  assert.match(err.message, /more than 3 numbers/);

  err = await failure(doc((b) => withVectors(b, '"id":"b"', '"id":"a"')));
  assert.equal((err as CorruptionError).section, 'vectors[1]');
  assert.match(err.message, /duplicate id "a"/);

  for (const id of ['null', '1.5', 'true', '{}', '""', '[1]', '9007199254740993']) {
    err = await failure(doc((b) => withVectors(b, '"id":"b"', `"id":${id}`)));
    assert.equal((err as CorruptionError).section, 'vectors[1].id', id);
  }
  for (const meta of ['[]', '"x"', '5', 'true']) {
    err = await failure(doc((b) => withVectors(b, '"metadata":{"k":1}', `"metadata":${meta}`)));
    assert.equal((err as CorruptionError).section, 'vectors[0].metadata', meta);
  }
  err = await failure(doc((b) => withVectors(b, '"metadata":{"k":1}', '"metadata":{"k":1},"extra":2')));
  assert.match(err.message, /unknown member "extra"/);
  err = await failure(doc((b) => withVectors(b, '"metadata":{"k":1}', '"metadata":{"k":1},"id":"z"')));
  assert.match(err.message, /appears twice/);
  err = await failure(doc((b) => withVectors(b, '{"id":"b",', '{')));
  assert.match(err.message, /no "id"/);
  err = await failure(doc((b) => withVectors(b, '"id":"b","vector":[4,5,6]', '"id":"b"')));
  assert.match(err.message, /no "vector"/);
  err = await failure(doc((b) => withVectors(b, '"metadata":{"k":1}', '"metadata":{"k":1,}')));
  assert.equal((err as CorruptionError).section, 'vectors[0].metadata');
  err = await failure(doc((b) => withVectors(b, '"kind":"full"', '"kind":"full","kind":"full"')));
  assert.match(err.message, /"kind" appears twice/);
  err = await failure(doc((b) => withVectors(b, '"a"', '"\\x"')));
  assert.ok(err instanceof CorruptionError);
});

test('numeric and string ids that look alike are different ids', async () => {
  const r = await readBytes(utf8(docText(fullMembers(1, [{ id: '1', vector: [1] }, { id: 1, vector: [2] }]))), 'none');
  assert.equal(r.kind, 'full');
  if (r.kind === 'full') assert.deepEqual(r.columns.ids, ['1', 1]);
});

test('checksum rules: mismatch, missing, not last, malformed', async () => {
  const text = docText(fullMembers(3, E));
  const tampered = text.replace('"note":"hand-made"', '"note":"hand-mode"');
  let err = await failure(tampered);
  assert.equal(err.code, 'CHECKSUM_MISMATCH');
  assert.match(err.message, /checksum/);
  assert.equal((err as CorruptionError).section, 'checksum');

  const noSum = docText(fullMembers(3, E), { checksum: false });
  err = await failure(noSum);
  assert.ok(err instanceof CorruptionError);
  assert.match(err.message, /"checksum" member is missing/);
  const r = await readBytes(utf8(noSum), 'none', { verifyChecksum: false });
  assert.equal(r.checksum, '');
  // Without verification a tampered file still parses (the caller asked for that).
  await readBytes(utf8(tampered), 'none', { verifyChecksum: false });

  const notLast = text.replace(/\}$/, ',"late":1}');
  err = await failure(notLast, { verifyChecksum: false });
  assert.match(err.message, /must be the last member/);

  err = await failure(text.replace(/"checksum":"([0-9a-f]+)"/, '"checksum":"$1"   x'));
  assert.ok(err instanceof CorruptionError);
  err = await failure(text.replace(/"checksum":"[0-9a-f]+"/, '"checksum":"ABC"'));
  assert.match(err.message, /64 lowercase hex/);
  err = await failure(text + 'x');
  assert.match(err.message, /after the end of the document/);
});

test('header consistency: counts, dimensions, kinds and delta members', async () => {
  const members = fullMembers(3, E);
  const withStats = (stats: unknown) => docText(members.map(([k, v]) => [k, k === 'stats' ? stats : v] as [string, unknown]));
  let err = await failure(withStats({ count: 2, dimension: 3, metric: 'cosine' }));
  assert.equal((err as CorruptionError).section, 'stats.count');
  err = await failure(withStats({ count: 3, dimension: 4, metric: 'cosine' }));
  assert.match(err.message, /dimension/);
  err = await failure(withStats({ count: 3, dimension: 3, metric: 'hamming' }));
  assert.equal((err as CorruptionError).section, 'stats.metric');
  // A huge claimed count must not be allocated: it is only a bounded hint.
  err = await failure(withStats({ count: 1e15, dimension: 3, metric: 'cosine' }));
  assert.equal((err as CorruptionError).section, 'stats.count');

  err = await failure(docText([...members.slice(0, -1), ['deleted', []], members[members.length - 1]]));
  assert.equal((err as CorruptionError).section, 'deleted');
  const deltaBase: [string, unknown][] = members.map(([k, v]) => [k, k === 'kind' ? 'delta' : v]);
  err = await failure(docText(deltaBase));
  assert.equal((err as CorruptionError).section, 'sinceSeq');
  const delta = (deleted: unknown[]) => docText([...deltaBase.slice(0, 5), ['sinceSeq', 2], ['cleared', false], ['deleted', deleted], ...deltaBase.slice(5)]);
  const ok = await readBytes(utf8(delta(['x', 9])), 'none');
  assert.equal(ok.kind, 'delta');
  err = await failure(delta(['x', 'x']));
  assert.equal((err as CorruptionError).section, 'deleted[1]');
  err = await failure(delta(['x', 3]));
  assert.match(err.message, /both deleted and upserted/);
});

test('versions and foreign files are reported as such, not as damage', async () => {
  const members = fullMembers(3, E).map(([k, v]) => [k, k === 'formatVersion' ? 2 : v] as [string, unknown]);
  let err = await failure(docText(members));
  assert.equal(err.code, 'UNSUPPORTED_VERSION');
  const foreign = JSON.stringify({ version: '1.0.0', options: {}, stats: {}, vectors: [{ id: 'a', vector: [1] }], timestamp: 1, checksum: 'x' });
  err = await failure(foreign);
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
  err = await failure(docText(fullMembers(3, E).map(([k, v]) => [k, k === 'format' ? 'other' : v] as [string, unknown])));
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
});

test('invalid UTF-8 inside a string is damage', async () => {
  const text = docText(fullMembers(3, E));
  const bytes = utf8(text.replace('"k":1', '"k":"ab"'));
  const at = Buffer.from(bytes).indexOf('"ab"') + 1;
  bytes[at] = 0xff;
  await assert.rejects(readBytes(bytes, 'none', { verifyChecksum: false }), (e) => e instanceof CorruptionError && e.section === 'vectors[0].metadata');
});

test('decompression bomb guard: output beyond maxDecompressedBytes is a CorruptionError', async () => {
  // 64 MB of whitespace inside an otherwise valid document compresses to a few tens of KB.
  const text = docText(fullMembers(3, E), { edit: (b) => b.replace('"vectors":', '"vectors":' + ' '.repeat(64 << 20)) });
  const gz = gzipSync(text, { level: 9 });
  assert.ok(gz.length < 200_000);
  await assert.rejects(readBytes(gz, 'gzip', { maxDecompressedBytes: 1 << 20 }), (e) => e instanceof CorruptionError && /allowed 1048576 bytes/.test(e.message));
  const r = await readBytes(gz, 'gzip', { maxDecompressedBytes: 80 << 20 });
  assert.equal(r.kind, 'full');
  // Without the option nothing is capped, on import or load: QuiverDB's own saves of repeated vectors
  // decompress far past any default (zero vectors: ~760x with brotli); the one-entry window bounds memory.
  const bomb = brotliCompressSync(docText(fullMembers(3, E), { edit: (b) => b.replace('"vectors":', '"vectors":' + ' '.repeat(96 << 20)) }), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } });
  assert.ok(bomb.length < 100_000, `${bomb.length}`);
  const mem = new MemoryFileSystem();
  mem.writeFileSync('/b.json.br', bomb);
  assert.equal((await importFile(mem, '/b.json.br', { format: 'json' })).columns.ids.length, 3);
  assert.equal((await readBytes(bomb, 'brotli')).kind, 'full');
});

test('a gzip file read as plain JSON, and plain JSON read as gzip, are CorruptionErrors', async () => {
  const plain = await sample('none');
  const gz = await sample('gzip');
  await assert.rejects(readBytes(gz, 'none'), CorruptionError);
  await assert.rejects(readBytes(plain, 'gzip'), CorruptionError);
  await assert.rejects(readBytes(plain, 'brotli'), CorruptionError);
});

test('"options" carries the database dimension and metric (the reference layout) apart from the user map', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 's.json');
    await writeJsonState(nodeFs, path, makeImage({ dimension: 3, metric: 'dot', ids: ['doc-1'], vectors: new Float32Array([1, 2, 3]), metadata: [undefined] }), { user: { persistence: { format: 'json' } } });
    const raw = JSON.parse(readFileSync(path, 'utf8')) as { options: Record<string, unknown> };
    assert.deepEqual(raw.options, { dimension: 3, metric: 'dot', persistence: { format: 'json' } });
    const read = await readJsonState(nodeFs, path, { compression: 'none' });
    assert.deepEqual(read.header.options, { persistence: { format: 'json' } }, 'the user map comes back as it was given');
    await assert.rejects(writeJsonState(nodeFs, join(dir, 't.json'), makeImage({ dimension: 3, ids: [], vectors: new Float32Array(0) }), { user: { dimension: 4 } }), (e: unknown) => (e as { code?: string }).code === 'INVALID_ARGUMENT' && /"dimension" key of 4, but the database's dimension is 3/.test((e as Error).message));
    // A user map stating the database's own dimension and metric (a converted reference-000 file's) is written without them.
    await writeJsonState(nodeFs, join(dir, 'u.json'), makeImage({ dimension: 3, metric: 'dot', ids: ['a'], vectors: new Float32Array([1, 2, 3]) }), { user: { model: 'minilm', dimension: 3, metric: 'dot' } });
    assert.deepEqual((await readJsonState(nodeFs, join(dir, 'u.json'), { compression: 'none' })).header.options, { model: 'minilm' });
    const ref = join(dir, 'ref.json');
    writeFileSync(ref, JSON.stringify({ version: '1.0.0', metadata: { model: 'minilm', dimension: 3 }, vectors: [{ id: 'a', vector: [1, 2, 3] }] }));
    await convertFile(nodeFs, ref, join(dir, 'from-ref.json'), { format: 'json' });
    const converted = await readJsonState(nodeFs, join(dir, 'from-ref.json'), { compression: 'none' });
    assert.ok(converted.kind === 'full' && converted.columns.ids[0] === 'a');
    assert.deepEqual(converted.header.options, { model: 'minilm' });
  } finally {
    cleanup();
  }
  // Files of before 2026-12-07 have a bare user map; a disagreeing dimension or metric is damage.
  const members = fullMembers(3, [{ id: 'a', vector: [1, 2, 3] }]);
  const withOptions = (options: unknown) => docText(members.map(([k, v]) => [k, k === 'options' ? options : v] as [string, unknown]));
  const ok = await readJsonState(bytesFs({ '/f.json': utf8(withOptions({ dimension: 3, metric: 'cosine', note: 'n' })) }), '/f.json', { compression: 'none' });
  assert.deepEqual(ok.header.options, { note: 'n' });
  let err = await failure(withOptions({ dimension: 4, metric: 'cosine' }));
  assert.equal((err as CorruptionError).section, 'options.dimension');
  err = await failure(withOptions({ dimension: 3, metric: 'dot' }));
  assert.equal((err as CorruptionError).section, 'options.metric');
});
