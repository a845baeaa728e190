import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import type { Metadata } from '../../../src/engine/types.js';
import { readParquet } from '../../../src/format/parquet/index.js';
import type { ImportedColumns } from '../../../src/format/exchange.js';
import { Inflater } from '../../../src/format/parquet/codecs.js';
import { checkThriftStruct, ThriftBoundsError } from '../../../src/format/parquet/thrift-bounds.js';
import { assertColumnsEqual, awkwardSpec, bytesFs, bytesOf, randomVectors, type ImageSpec } from './helpers.js';
import { editKeyValue, footerRange, foreignBytes, ownBytes, type ForeignSpec } from './files.js';

const FILE = '/data/in.parquet';

function read(bytes: Uint8Array, options: { verifyChecksum?: boolean; maxDecompressedBytes?: number } = {}): Promise<ImportedColumns> {
  return readParquet(bytesFs({ [FILE]: bytes }), FILE, options);
}

/** Asserts reading `bytes` fails with a CorruptionError naming the file whose message matches `pattern`. */
async function rejectsCorrupt(bytes: Uint8Array, pattern: RegExp, options?: { verifyChecksum?: boolean; maxDecompressedBytes?: number }): Promise<CorruptionError> {
  let caught: unknown;
  await assert.rejects(read(bytes, options), (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof CorruptionError, `expected a CorruptionError, got ${String(caught)}`);
  assert.equal(caught.code === 'CORRUPT' || caught.code === 'CHECKSUM_MISMATCH', true);
  assert.ok(caught.message.includes(FILE), caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

function same(a: ImportedColumns, b: ImportedColumns): boolean {
  return (
    JSON.stringify(a.columns.ids) === JSON.stringify(b.columns.ids) &&
    bytesOf(a.columns.vectors).equals(bytesOf(b.columns.vectors)) &&
    JSON.stringify(a.columns.metadata) === JSON.stringify(b.columns.metadata) &&
    a.columns.dimension === b.columns.dimension &&
    a.columns.metric === b.columns.metric &&
    JSON.stringify(a.user) === JSON.stringify(b.user)
  );
}

const SHAPE = { groupRows: 4, pageRows: 3 };

test('every truncated prefix of a file is a CorruptionError naming the file', async () => {
  const bytes = await ownBytes(awkwardSpec(), SHAPE);
  assertColumnsEqual((await read(bytes)).columns, awkwardSpec());
  for (let len = 0; len < bytes.length; len++) {
    await assert.rejects(read(bytes.subarray(0, len)), (e: unknown) => e instanceof CorruptionError && e.message.includes(FILE), `prefix of ${len} bytes`);
  }
  await rejectsCorrupt(bytes.subarray(0, bytes.length - 1), /does not end with the Parquet magic "PAR1"/);
});

test('every single-bit flip anywhere in the file is caught (page CRCs, footer CRC, header cross-checks)', async () => {
  const bytes = await ownBytes(awkwardSpec(), SHAPE);
  const good = await read(bytes);
  for (let at = 0; at < bytes.length; at++) {
    for (const mask of [1 << (at % 8)]) {
      const bad = Uint8Array.from(bytes);
      bad[at] ^= mask;
      try {
        const r = await read(bad);
        assert.ok(same(r, good), `flip at ${at} (^${mask}) returned different data`);
      } catch (err) {
        assert.ok(err instanceof CorruptionError, `flip at ${at} (^${mask}) threw ${String(err)}`);
      }
    }
  }
});

test('random multi-byte damage never returns wrong data or another error type', async () => {
  const bytes = await ownBytes(awkwardSpec(), SHAPE);
  const good = await read(bytes);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), async (flips) => {
      const bad = Uint8Array.from(bytes);
      for (const [at, mask] of flips) bad[at] ^= mask;
      try {
        assert.ok(same(await read(bad), good), `flips ${JSON.stringify(flips)} returned different data`);
      } catch (err) {
        assert.ok(err instanceof CorruptionError, `flips ${JSON.stringify(flips)} threw ${String(err)}`);
      }
    }),
    { numRuns: 300 },
  );
});

test('a damaged vector page is a CHECKSUM_MISMATCH; verifyChecksum: false reads it anyway', async () => {
  const spec: ImageSpec = { dimension: 4, ids: ['a', 'b'], vectors: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) };
  const bytes = await ownBytes(spec);
  const at = Buffer.from(bytes).indexOf(Buffer.from(new Float32Array([7]).buffer));
  const bad = Uint8Array.from(bytes);
  bad[at + 3] ^= 0x01; // 7 → another finite float
  const err = await rejectsCorrupt(bad, /page CRC32 checksum does not match/);
  assert.equal(err.code, 'CHECKSUM_MISMATCH');
  assert.match(err.message, /checksum/);
  assert.match(err.message, /row group 0 column vector\.list\.element/);
  const r = await read(bad, { verifyChecksum: false });
  assert.notEqual(r.columns.vectors[6], 7);
});

test('an id that is not valid UTF-8 is refused even without checksums', async () => {
  const bytes = await ownBytes({ dimension: 1, ids: ['abc', 'xyz'], vectors: Float32Array.from([1, 2]) });
  const at = Buffer.from(bytes).indexOf(Buffer.from('xyz'));
  const bad = Uint8Array.from(bytes);
  bad[at + 1] = 0xff;
  await rejectsCorrupt(bad, /page CRC32 checksum does not match/);
  await rejectsCorrupt(bad, /row 1 of the page is not valid UTF-8/, { verifyChecksum: false });
});

test('wrong magic, a gzip-wrapped file, an encrypted footer and a missing file', async () => {
  const bytes = await ownBytes(awkwardSpec());
  const head = Uint8Array.from(bytes);
  head[0] = 0x51;
  await rejectsCorrupt(head, /does not start with the Parquet magic/);
  await rejectsCorrupt(new TextEncoder().encode('{"format":"quiverdb"}'), /does not start with the Parquet magic/);
  await assert.rejects(read(gzipSync(bytes)), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT' && /gzip-compressed/.test(e.message));
  // An encrypted footer: "PARE" at both ends. At one end only it is damage (a flipped bit makes "1" an "E").
  const enc = Uint8Array.from(bytes);
  enc[3] = 0x45;
  enc[enc.length - 1] = 0x45;
  await assert.rejects(read(enc), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT' && /encrypted/.test(e.message));
  const tailOnly = Uint8Array.from(bytes);
  tailOnly[tailOnly.length - 1] = 0x45;
  await rejectsCorrupt(tailOnly, /does not end with the Parquet magic/);
  const headOnly = Uint8Array.from(bytes);
  headOnly[3] = 0x45;
  await rejectsCorrupt(headOnly, /does not end with it/);
  await assert.rejects(readParquet(bytesFs({}), '/nope.parquet'), (e: unknown) => e instanceof QuiverError && e.code === 'ENOENT' && e.message.includes('/nope.parquet'));
  const len = Uint8Array.from(bytes);
  new DataView(len.buffer).setUint32(len.length - 8, len.length, true);
  await rejectsCorrupt(len, /claims \d+ bytes of metadata/);
});

test('the declared dimension must match the vectors, the declared count the rows', async () => {
  const spec: ImageSpec = { dimension: 8, ids: ['a', 'b', 'c'], vectors: randomVectors(3, 8, 1) };
  const bytes = await ownBytes(spec);
  await rejectsCorrupt(editKeyValue(bytes, 'quiverdb.dimension', '9'), /vector of row 0 has 8 elements; every vector must have 9/);
  await rejectsCorrupt(editKeyValue(bytes, 'quiverdb.count', '4'), /says 4 entries but the file holds 3 rows/);
  await rejectsCorrupt(editKeyValue(bytes, 'quiverdb.metric', 'cosinX'), /"cosinX" is not one of/);
  await rejectsCorrupt(editKeyValue(bytes, 'quiverdb.user', '[]'), /not a JSON object/);
  const v2 = editKeyValue(bytes, 'quiverdb.formatVersion', '2');
  await assert.rejects(read(v2), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_VERSION' && e.message.includes(FILE));
  // An edit that keeps the file consistent (and re-seals the footer) reads back as edited.
  assert.deepEqual((await read(editKeyValue(bytes, 'quiverdb.user', '{}'))).user, {});
});

test('the footer CRC catches an edited footer; verifyChecksum: false skips it', async () => {
  const bytes = await ownBytes({ dimension: 2, metric: 'dot', ids: ['a'], vectors: Float32Array.from([1, 2]) });
  const { start, end } = footerRange(bytes);
  const meta = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
  const at = meta.indexOf(Buffer.from('dot'));
  const bad = Uint8Array.from(bytes);
  bad.set(Buffer.from('dou'), start + at);
  const err = await rejectsCorrupt(bad, /footer CRC32/);
  assert.equal(err.code, 'CHECKSUM_MISMATCH');
  assert.match(err.message, /checksum/);
  await assert.rejects(read(bad, { verifyChecksum: false }), (e: unknown) => e instanceof CorruptionError && /"dou" is not one of/.test(e.message));
});

function foreign(spec: ForeignSpec): Uint8Array {
  return foreignBytes(spec);
}

test('foreign files: a vector of the wrong length, null vectors and elements, NaN and Infinity name the row', async () => {
  await rejectsCorrupt(foreign({ ids: ['a', 'b', 'c'], vectors: [[1, 2], [3, 4], [5]] }), /vector of row 2 has 1 elements; every vector must have 2/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b', 'c'], vectors: [[1, 2], [3, 4, 5], [6, 7]] }), /row 1 has more than 2 elements/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b'], vectors: [[1, 2], null] }), /null, empty or has a null element/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b'], vectors: [[1, 2], []] }), /null, empty or has a null element/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b'], vectors: [[1, 2], [3, null as unknown as number]] }), /null, empty or has a null element/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b'], vectors: [[1, 2], [3, NaN]] }), /row 1 vector.*element 1 is NaN/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b'], vectors: [[Infinity, 2], [3, 4]] }), /row 0 vector.*element 0 is Infinity/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b'], vectors: [[1, 2], [3, -Infinity]], elementType: 'DOUBLE' }), /element 1 of the vector of row 1 is -Infinity/);
  await rejectsCorrupt(foreign({ ids: ['a', 'b'], vectors: [[1, 2], [3, 1e39]], elementType: 'DOUBLE' }), /element 1 of the vector of row 1 is 1e\+39/);
});

test('foreign files: duplicate ids name the id and both rows; null and empty ids are refused', async () => {
  const v = [[1], [2], [3], [4]];
  await rejectsCorrupt(foreign({ ids: ['x', 'y', 'z', 'y'], vectors: v }), /id "y" appears twice \(rows 1 and 3\)/);
  await rejectsCorrupt(foreign({ ids: ['x', null, 'z', 'w'], vectors: v }), /row 1 id.*null/);
  await rejectsCorrupt(foreign({ ids: ['x', '', 'z', 'w'], vectors: v }), /row 1 id.*empty string/);
  // id_num turns the id text back into a number, and must agree with it.
  const nums = await read(foreign({ ids: ['5', 'x', '-9', '7'], vectors: v, idNums: [5n, null, -9n, null] }));
  assert.deepEqual(nums.columns.ids, [5, 'x', -9, '7']);
  await rejectsCorrupt(foreign({ ids: ['5', 'x', '6', 'w'], vectors: v, idNums: [5n, null, 7n, null] }), /row 2 id.*id_num 7 does not match the id text "6"/);
  await rejectsCorrupt(foreign({ ids: ['5', 'x', '6', 'w'], vectors: v, idNums: [5n, null, 2n ** 60n, null] }), /row 2 id.*not a safe integer/);
  // The number 5 and the string "5" are different ids.
  assert.deepEqual((await read(foreign({ ids: ['5', '5', '6', 'w'], vectors: v, idNums: [5n, null, null, null] }))).columns.ids, [5, '5', '6', 'w']);
  await rejectsCorrupt(foreign({ ids: ['5', '5', '6', 'w'], vectors: v, idNums: [5n, 5n, null, null] }), /id 5 appears twice \(rows 0 and 1\)/);
});

test('foreign files: metadata must be a JSON object; null and JSON null mean none; __proto__ stays data', async () => {
  const base = { ids: ['a', 'b', 'c'], vectors: [[1], [2], [3]] };
  await rejectsCorrupt(foreign({ ...base, metadata: ['{}', '[1,2]', '{}'] }), /row 1 metadata.*JSON object, got an array/);
  await rejectsCorrupt(foreign({ ...base, metadata: ['{}', '{}', '"text"'] }), /row 2 metadata.*got string/);
  await rejectsCorrupt(foreign({ ...base, metadata: ['7', '{}', '{}'] }), /row 0 metadata.*got number/);
  await rejectsCorrupt(foreign({ ...base, metadata: ['{}', '{"a":', '{}'] }), /row 1 metadata.*not valid JSON/);
  await rejectsCorrupt(foreign({ ...base, metadata: ['{}', '{"a":"\\udc00"}', '{}'] }), /unpaired surrogate/);
  const r = await read(foreign({ ...base, metadata: [null, 'null', '{"__proto__":{"polluted":true},"k":[1,{"__proto__":{"deep":1}}]}'] }));
  assert.deepEqual(r.columns.metadata.slice(0, 2), [undefined, undefined]);
  const m = r.columns.metadata[2] as Metadata;
  assert.ok(Object.prototype.hasOwnProperty.call(m, '__proto__'));
  assert.equal(JSON.stringify(m), '{"__proto__":{"polluted":true},"k":[1,{"__proto__":{"deep":1}}]}');
  assert.equal(Object.getPrototypeOf(m), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).deep, undefined);
});

test('gzip and brotli page bombs stop at the decompression cap; compressed foreign pages read fine below it', async () => {
  const big = `{"pad":"${' '.repeat(1_000_000)}"}`;
  const bomb: ForeignSpec = { ids: ['a', 'b', 'c', 'd'], vectors: [[1], [2], [3], [4]], metadata: [big, big, big, big] };
  const rows = 1500;
  const zeros: ForeignSpec = { ids: Array.from({ length: rows }, (_, i) => `r${i}`), vectors: Array.from({ length: rows }, () => new Array<number>(256).fill(0)) };
  for (const codec of ['GZIP', 'BROTLI'] as const) {
    const metaBomb = foreign({ ...bomb, codec });
    assert.ok(metaBomb.length < 64 * 1024, `${codec} bomb is ${metaBomb.length} bytes`);
    await rejectsCorrupt(metaBomb, /decompress to more than the allowed 1000000 bytes/, { maxDecompressedBytes: 1_000_000 });
    assert.equal((await read(metaBomb)).columns.metadata.length, 4);
    const vectorBomb = foreign({ ...zeros, codec });
    await rejectsCorrupt(vectorBomb, /1500 vectors of 256 floats .* within the allowed 1000000 bytes/, { maxDecompressedBytes: 1_000_000 });
    const ok = await read(vectorBomb);
    assert.equal(ok.columns.ids.length, rows);
    assert.equal(ok.columns.vectors.length, rows * 256);
    assert.ok(ok.columns.vectors.every((x) => x === 0));
  }
});

test('a page that declares a huge size is refused before anything is allocated', () => {
  const inflater = new Inflater(FILE, 1 << 20);
  assert.throws(() => inflater.inflate('SNAPPY', new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x07]), 2 ** 31 - 1, 'row group 0 column x'), (e: unknown) => e instanceof CorruptionError && /more than the allowed 1048576 bytes/.test(e.message));
  assert.throws(() => inflater.inflate('LZ4', new Uint8Array(4), 4, 'row group 0 column x'), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT');
  assert.throws(() => inflater.inflate('GZIP', new Uint8Array([1, 2, 3]), 10, 'row group 0 column x'), (e: unknown) => e instanceof CorruptionError && /cannot be decompressed/.test(e.message));
});

test('a page header or footer declaring a list far longer than its bytes is refused before the parser sizes it', async () => {
  const good = await ownBytes(awkwardSpec());
  // The first page header's first field made a list<i32> of 33,554,431 elements (268 MB as a JS array).
  const list = [0x19, 0xf5, 0xff, 0xff, 0xff, 0x0f];
  const page = new Uint8Array(good);
  page.set(list, 4);
  await rejectsCorrupt(page, /a list of \d+ elements is declared with \d+ bytes left/, { verifyChecksum: false });
  // The same inside the footer's metadata (its checksum is not what is tested here).
  const { start } = footerRange(good);
  const footer = new Uint8Array(good);
  footer.set(list, start);
  await rejectsCorrupt(footer, /cannot be parsed \(a list of \d+ elements is declared/, { verifyChecksum: false });
});

test('checkThriftStruct measures a well-formed struct and refuses lengths beyond the bytes', () => {
  // field 1 i32 = 3 (0x15 0x06), field 2 binary "ab" (0x18 0x02 a b), field 3 list<i32> [1, 2] (0x19 0x25 0x02 0x04), stop.
  const ok = Uint8Array.from([0x15, 0x06, 0x18, 0x02, 0x61, 0x62, 0x19, 0x25, 0x02, 0x04, 0x00, 0xee]);
  assert.equal(checkThriftStruct(ok), 11);
  assert.throws(() => checkThriftStruct(ok.subarray(0, 8)), ThriftBoundsError);
  assert.throws(() => checkThriftStruct(Uint8Array.from([0x18, 0x7f, 0x61, 0x00])), /runs past/);
  assert.throws(() => checkThriftStruct(Uint8Array.from([0x19, 0xf5, 0xff, 0xff, 0x03, 0x00])), /elements is declared/);
  const deep = new Uint8Array(200).fill(0x1c);
  assert.throws(() => checkThriftStruct(deep), /nest deeper/);
});

test('a foreign file whose row count far exceeds its uncompressed, plainly encoded vector bytes is refused before anything is sized from it', async () => {
  const { parquetMetadata } = await import('hyparquet');
  const { writeMetadata } = await import('hyparquet-writer/src/metadata.js');
  const { ByteWriter } = await import('hyparquet-writer');
  const good = await ownBytes({ dimension: 3, ids: ['a', 'b'], vectors: randomVectors(2, 3), metadata: [undefined, undefined] });
  const md = parquetMetadata(good.buffer.slice(good.byteOffset, good.byteOffset + good.byteLength) as ArrayBuffer);
  const rows = 5_000_000n;
  md.num_rows = rows;
  md.row_groups[0].num_rows = rows;
  md.key_value_metadata = []; // a foreign file: no declared count or dimension of ours to check it against
  md.created_by = 'another writer';
  const w = new ByteWriter();
  writeMetadata(w, md);
  const meta = new Uint8Array(w.getBuffer());
  const { start } = footerRange(good);
  const tail = new Uint8Array(8);
  new DataView(tail.buffer).setUint32(0, meta.length, true);
  tail.set([0x50, 0x41, 0x52, 0x31], 4);
  const crafted = new Uint8Array([...good.subarray(0, start), ...meta, ...tail]);
  const before = process.memoryUsage().arrayBuffers;
  await rejectsCorrupt(crafted, /uncompressed, plainly encoded vector column chunks hold only \d+ bytes/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 32 << 20, 'nothing sized from the 5,000,000 rows');
});
