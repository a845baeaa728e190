import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { CorruptionError } from '../../../src/errors.js';
import { readQvdb, readQvdbInfo, writeQvdb, type Compression } from '../../../src/format/qvdb/index.js';
import { makeChangeImage, makeImage, randomVectors } from '../../support/image.js';
import { importFile } from '../../../src/interchange/index.js';

const SECTIONS = new Set(['header', 'footer', 'directory', 'manifest', 'ids', 'vectors', 'metadata', 'deleted']);
const DATA = new Set(['manifest', 'ids', 'vectors', 'metadata', 'deleted', 'directory']);

async function sample(compression: Compression, delta = false): Promise<Uint8Array> {
  const fs = new MemoryFileSystem();
  const spec = {
    dimension: 8,
    ids: ['a', 2, 'ç', 'd', 5],
    vectors: randomVectors(5, 8, 11),
    metadata: [{ t: 'x', n: [1, 2] }, undefined, { u: 'ü' }, {}, { deep: { a: { b: 1 } } }],
  };
  const img = delta ? makeChangeImage({ ...spec, sinceSeq: 1, deletedIds: ['x', 9] }) : makeImage(spec);
  await writeQvdb(fs, '/s.qvdb', img, { compression, createdAt: 1 });
  return fs.readFileSync('/s.qvdb');
}

/** Loads `bytes` and returns the CorruptionError it must raise. */
async function corruption(bytes: Uint8Array, label: string): Promise<CorruptionError> {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/x.qvdb', bytes);
  let result: unknown;
  try {
    result = await readQvdb(fs, '/x.qvdb');
  } catch (err) {
    if (!(err instanceof CorruptionError)) assert.fail(`${label}: expected CorruptionError, got ${(err as Error)?.stack ?? String(err)}`);
    assert.equal(err.file, '/x.qvdb');
    assert.ok(SECTIONS.has(err.section) || err.section.startsWith('padding before '), `${label}: section ${err.section}`);
    assert.ok(err.message.includes(`"${err.section}"`), `${label}: message names the section`);
    if (err.code === 'CHECKSUM_MISMATCH') assert.match(err.message, /checksum/, label);
    return err;
  }
  return assert.fail(`${label}: a damaged file loaded (${JSON.stringify(result, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)).slice(0, 200)})`);
}

const VARIANTS: [string, Compression, boolean][] = [
  ['none', 'none', false],
  ['gzip', 'gzip', false],
  ['brotli', 'brotli', false],
  ['delta', 'none', true],
  ['delta brotli', 'brotli', true],
];

for (const [name, compression, delta] of VARIANTS) {
  test(`every truncated prefix of a ${name} file is a CorruptionError (read and info)`, async () => {
    const bytes = await sample(compression, delta);
    assert.ok(bytes.length > 300);
    for (let len = 0; len < bytes.length; len++) {
      await corruption(bytes.subarray(0, len), `prefix ${len}/${bytes.length}`);
      const fs = new MemoryFileSystem();
      fs.writeFileSync('/x.qvdb', bytes.subarray(0, len));
      await assert.rejects(readQvdbInfo(fs, '/x.qvdb'), CorruptionError, `info of prefix ${len}`);
    }
  });
}

test('flipping any single byte of an uncompressed file is a CorruptionError naming the section', async () => {
  for (const delta of [false, true]) {
    const bytes = await sample('none', delta);
    const seen = new Set<string>();
    for (let at = 0; at < bytes.length; at++) {
      const bad = Uint8Array.from(bytes);
      bad[at] ^= 0xff;
      const err = await corruption(bad, `flip at ${at}`);
      seen.add(err.section);
      if (DATA.has(err.section)) assert.equal(err.code, 'CHECKSUM_MISMATCH', `flip at ${at} in ${err.section}`);
    }
    const expected = ['header', 'footer', 'directory', 'manifest', 'ids', 'vectors', 'metadata', 'padding before vectors'];
    for (const s of delta ? [...expected, 'deleted'] : expected) assert.ok(seen.has(s), `a flip was reported in ${s}`);
  }
});

for (const compression of ['gzip', 'brotli'] as const) {
  test(`random byte flips in a ${compression} file are CorruptionErrors (fast-check)`, async () => {
    const bytes = await sample(compression, true);
    await fc.assert(
      fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const bad = Uint8Array.from(bytes);
        bad[at] ^= mask;
        await corruption(bad, `flip ${mask} at ${at}`);
      }),
      { numRuns: 300, seed: 20240601 },
    );
  });
}

test('flips inside compressed data are reported as checksum mismatches, not decoder noise', async () => {
  const bytes = await sample('brotli');
  const info = await (async () => {
    const fs = new MemoryFileSystem();
    fs.writeFileSync('/i.qvdb', bytes);
    return readQvdbInfo(fs, '/i.qvdb');
  })();
  for (const s of info.directory.filter((d) => d.section !== 'manifest')) {
    for (let at = s.offset; at < s.offset + s.storedLength; at++) {
      const bad = Uint8Array.from(bytes);
      bad[at] ^= 0x55;
      const err = await corruption(bad, `${s.section} byte ${at}`);
      assert.equal(err.section, s.section);
      assert.equal(err.code, 'CHECKSUM_MISMATCH');
    }
  }
});

test('appended bytes are detected (the footer must end the file)', async () => {
  const bytes = await sample('none');
  const err = await corruption(Buffer.concat([bytes, Buffer.from([0])]), 'appended');
  assert.equal(err.section, 'footer');
});

test('readQvdbInfo detects damage to header, footer, directory and manifest', async () => {
  const bytes = await sample('gzip');
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/i.qvdb', bytes);
  const info = await readQvdbInfo(fs, '/i.qvdb');
  const manifest = info.directory[0];
  for (const at of [3, 12, manifest.offset + 2, bytes.length - 70, bytes.length - 20, bytes.length - 1]) {
    const bad = Uint8Array.from(bytes);
    bad[at] ^= 1;
    fs.writeFileSync('/i.qvdb', bad);
    await assert.rejects(readQvdbInfo(fs, '/i.qvdb'), CorruptionError, `flip at ${at}`);
  }
});

test('a file whose checksums are valid but which holds an empty id, a duplicate id or a NaN vector is damage to import, convert and verify', async () => {
  const cases: [string, Parameters<typeof makeImage>[0], RegExp][] = [
    ['empty id', { dimension: 2, ids: ['a', ''], vectors: Float32Array.from([1, 2, 3, 4]) }, /entry 1 has the id ""/],
    ['duplicate id', { dimension: 2, ids: ['a', 'b', 'a'], vectors: Float32Array.from([1, 2, 3, 4, 5, 6]) }, /duplicate id "a": entries 0 and 2/],
    ['NaN', { dimension: 2, ids: ['a', 'b'], vectors: Float32Array.from([1, 2, NaN, 4]) }, /entry 1 \(id "b"\) has NaN at element 0/],
  ];
  for (const [what, spec, message] of cases) {
    const fs = new MemoryFileSystem();
    await writeQvdb(fs, '/f.qvdb', makeImage(spec));
    assert.equal((await readQvdb(fs, '/f.qvdb')).kind, 'full', `${what}: the checksums are valid`);
    await assert.rejects(importFile(fs, '/f.qvdb'), (e: unknown) => e instanceof CorruptionError && e.file === '/f.qvdb' && message.test(e.message), what);
  }
});
