import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CorruptionError } from '../../../src/errors.js';
import type { ExchangeCompression } from '../../../src/format/exchange.js';
import { chunkByteSource } from '../../../src/format/stream/sources.js';
import { jsonlCodec, readJsonlFrom } from '../../../src/format/jsonl/index.js';
import { assertBombsCapped, assertFlipsSafe, assertPrefixesCorrupt, bombs, chunksOf, corruption, failure, readBytes, writeBytes } from '../../support/exchange.js';
import { awkwardSpec, makeImage } from '../msgpack/helpers.js';

const codec = jsonlCodec;
const sample = (compression: ExchangeCompression = 'none') => writeBytes(codec, makeImage(awkwardSpec()), { compression });

const HEADER = { format: 'quiverdb-jsonl', formatVersion: 1, dimension: 2, metric: 'dot', count: 0, user: {}, createdAt: 1 };

/** A JSONL export from a header (or none), entry lines and a trailer with the right checksum unless overridden. */
function craft(header: Record<string, unknown> | null, lines: string[], trailer: Record<string, unknown> | false = {}): Buffer {
  const body = (header ? `${JSON.stringify({ ...HEADER, count: lines.length, ...header })}\n` : '') + lines.map((l) => `${l}\n`).join('');
  if (trailer === false) return Buffer.from(body);
  const checksum = createHash('sha256').update(body).digest('hex');
  return Buffer.from(`${body}${JSON.stringify({ end: true, count: lines.length, checksum, ...trailer })}\n`);
}

for (const compression of ['none', 'gzip', 'brotli'] as ExchangeCompression[]) {
  test(`every truncated prefix is a CorruptionError (${compression})`, async () => {
    const bytes = await sample(compression);
    await readBytes(codec, bytes);
    // Plain files end with the trailer's newline: only that byte may go without changing the content.
    const last = compression === 'none' ? bytes.length - 1 : bytes.length;
    await assertPrefixesCorrupt(codec, readJsonlFrom, bytes, compression, last);
  });
}

test('random byte flips never return different data: a typed error or the same columns', async () => assertFlipsSafe(codec, await sample()));

test('not our format: another format name, a newer version, text that is not JSON objects', async () => {
  let err = await failure(codec, craft({ format: 'quiverdb-csv' }, []));
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
  err = await failure(codec, craft({ formatVersion: 2 }, []));
  assert.equal(err.code, 'UNSUPPORTED_VERSION');
  err = await failure(codec, Buffer.from('id,vector\n1,"[1,2]"\n'));
  assert.equal(err.code, 'UNSUPPORTED_FORMAT');
  for (const [key, value] of [['dimension', 0], ['dimension', 70000], ['metric', 'hamming'], ['count', 1.5], ['user', 'x'], ['createdAt', 'today']] as const) {
    const e = await corruption(codec, craft({ [key]: value }, []));
    assert.equal(e.section, `line 1 (header.${key})`, `${key}=${String(value)}`);
  }
  // 1e999 parses to Infinity: refused as it is read, before the header is looked at (the MessagePack header refuses it too).
  const inf = craft(HEADER, []).toString().replace('"createdAt":1', '"createdAt":1e999');
  assert.ok(inf.includes('1e999'));
  const infErr = await corruption(codec, Buffer.from(inf));
  assert.equal(infErr.section, 'line 1');
  assert.match(infErr.message, /createdAt is a number beyond the range of a float64/);
  err = await corruption(codec, Buffer.from('{"format":"quiverdb-jsonl","formatVersion":1,\n'));
  assert.equal((err as CorruptionError).section, 'line 1');
  assert.equal((await corruption(codec, Buffer.from(''))).section, 'line 1');
  assert.match((await corruption(codec, Buffer.from('\n\n  \n'))).message, /no header and no entries/);
});

test('wrong dimension and wrong vector length name the line', async () => {
  let err = await corruption(codec, craft({ dimension: 3 }, ['{"id":"a","vector":[1,2]}']));
  assert.equal(err.section, 'line 2');
  assert.match(err.message, /entry\[0\]\.vector: the vector has 2 numbers, expected 3 \(dimension mismatch\)/);
  err = await corruption(codec, craft(null, ['{"id":"a","vector":[1,2]}', '{"id":"b","vector":[1,2,3]}']));
  assert.equal(err.section, 'line 2');
  assert.match(err.message, /more than 2 numbers/);
  err = await corruption(codec, craft(null, ['{"id":"a","vector":[]}']));
  assert.match(err.message, /must not be empty/);
  err = await corruption(codec, craft(null, ['{"id":"a","vector":"1,2"}']));
  assert.match(err.message, /an array of numbers/);
});

test('NaN, Infinity, null and out-of-range numbers in a vector name the line and element', async () => {
  for (const bad of ['NaN', 'Infinity', '-Infinity', 'null', '1e39', '"1"']) {
    const err = await corruption(codec, craft(null, ['{"id":"a","vector":[1,2]}', '{"id":"b","vector":[1,2]}', `{"id":"c","vector":[0,${bad}]}`]));
    assert.equal(err.section, 'line 3', bad);
    assert.match(err.message, /entry\[2\]\.vector\[1\]/, bad);
  }
});

test('a duplicate id is a CorruptionError naming the id and both lines', async () => {
  const err = await corruption(codec, craft({}, ['{"id":"a","vector":[1,2]}', '{"id":7,"vector":[3,4]}', '', '{"id":"a","vector":[5,6]}']));
  assert.equal(err.section, 'line 5');
  assert.match(err.message, /duplicate id "a" \(string\): lines 2 and 5 \(entries 0 and 2\)/);
  const ok = await readBytes(codec, craft(null, ['{"id":"7","vector":[1,2]}', '{"id":7,"vector":[3,4]}']));
  assert.deepEqual(ok.columns.ids, ['7', 7]);
});

test('metadata: object or null only; __proto__ stays data', async () => {
  for (const meta of ['[1,2]', '"text"', '5', 'true']) {
    const err = await corruption(codec, craft(null, [`{"id":"a","vector":[1,2],"metadata":${meta}}`]));
    assert.match(err.message, /entry\[0\]\.metadata: metadata must be an object or null/, meta);
  }
  const r = await readBytes(codec, craft({}, ['{"id":"a","vector":[1,2],"metadata":{"__proto__":{"polluted":true},"ok":1}}']));
  const meta = r.columns.metadata[0]!;
  assert.deepEqual(Object.keys(meta), ['__proto__', 'ok']);
  assert.deepEqual(Object.getOwnPropertyDescriptor(meta, '__proto__')?.value, { polluted: true });
  assert.equal(Object.getPrototypeOf(meta), Object.prototype);
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
});

test('line shape: unknown or repeated members, missing id or vector, junk after the object, bad ids', async () => {
  const msg = async (line: string) => (await corruption(codec, craft(null, [line]))).message;
  assert.match(await msg('{"id":"a","vector":[1,2],"text":"x"}'), /unknown member "text"/);
  assert.match(await msg('{"id":"a","id":"b","vector":[1,2]}'), /appears twice/);
  assert.match(await msg('{"vector":[1,2]}'), /no "id"/);
  assert.match(await msg('{"id":"a"}'), /no "vector"/);
  assert.match(await msg('{"id":"a","vector":[1,2]} x'), /unexpected data after the entry/);
  assert.match(await msg('{"id":"a","vector":[1,2]'), /ends inside a value/);
  for (const id of ['""', '1.5', 'null', '9007199254740993', '[1]']) assert.match(await msg(`{"id":${id},"vector":[1,2]}`), /entry\[0\]\.id/, id);
});

test('trailer rules: missing after a header, count mismatches, checksum, data after it', async () => {
  let err = await corruption(codec, craft({}, ['{"id":"a","vector":[1,2]}'], false));
  assert.match(err.message, /trailer line is missing/);
  err = await corruption(codec, craft({ count: 2 }, ['{"id":"a","vector":[1,2]}']));
  assert.match(err.message, /header says 2 entries but the file holds 1/);
  err = await corruption(codec, craft({}, ['{"id":"a","vector":[1,2]}'], { count: 5 }));
  assert.equal(err.section, 'line 3 (trailer.count)');
  err = await corruption(codec, craft({}, ['{"id":"a","vector":[1,2]}'], { checksum: 'AB' }));
  assert.equal(err.section, 'line 3 (trailer.checksum)');
  const wrong = craft({}, ['{"id":"a","vector":[1,2]}'], { checksum: '0'.repeat(64) });
  err = await corruption(codec, wrong, undefined, 'CHECKSUM_MISMATCH');
  assert.equal(err.section, 'line 3');
  assert.deepEqual((await readBytes(codec, wrong, { verifyChecksum: false })).columns.ids, ['a']);
  err = await corruption(codec, Buffer.concat([craft({}, ['{"id":"a","vector":[1,2]}']), Buffer.from('{"id":"b","vector":[1,2]}\n')]));
  assert.match(err.message, /data after the trailer on line 3/);
  // A foreign file may carry a trailer without a header; it is verified like ours.
  const r = await readBytes(codec, craft(null, ['{"id":"a","vector":[1,2]}']));
  assert.equal(r.metricKnown, false);
  assert.match(r.checksum ?? '', /^[0-9a-f]{64}$/);
  const edited = Buffer.from(craft({}, ['{"id":"a","vector":[1,2]}']).toString().replace('[1,2]', '[1,3]'));
  await corruption(codec, edited, undefined, 'CHECKSUM_MISMATCH');
});

test('a line longer than the cap is a CorruptionError naming its line number', async () => {
  const bytes = craft({}, ['{"id":"a","vector":[1,2]}', `{"id":"b","vector":[1,2],"metadata":{"t":"${'x'.repeat(5000)}"}}`]);
  const chunks = chunksOf(bytes, 512);
  await assert.rejects(readJsonlFrom(chunkByteSource(chunks), { file: 'capped', windowSize: 256, maxLineBytes: 4096 }), (err: unknown) => {
    assert.ok(err instanceof CorruptionError);
    assert.equal(err.section, 'line 3');
    assert.match(err.message, /capped.*longer than .*4096/);
    return true;
  });
  const ok = await readJsonlFrom(chunkByteSource(chunks), { file: 'ok', windowSize: 256, maxLineBytes: 8192 });
  assert.deepEqual(ok.columns.ids, ['a', 'b']);
});

test('gzip and brotli bombs stop at an explicit decompression cap, and at the end of their bytes without one', async () => {
  // A header line, then lines of spaces: the reader keeps skipping blank lines, so only the cap stops it.
  const line = Buffer.alloc(65536, 0x20);
  line[line.length - 1] = 0x0a;
  const b = bombs(Buffer.from(`${JSON.stringify({ ...HEADER, count: 1 })}\n`), line);
  await assertBombsCapped(codec, b);
});
