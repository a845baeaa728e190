import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readJsonStateFrom, chunkByteSource, type JsonStateReadResult } from '../../../src/format/json/index.js';
import { JsonSyntaxError, NEED_MORE, scanString, scanValue, skipWs } from '../../../src/format/json/tokenizer.js';
import { docText, fullMembers, utf8, type PlainEntry } from './helpers.js';

function win(s: string): { buf: Uint8Array; end: number } {
  const b = Buffer.from(s, 'utf8');
  const buf = new Uint8Array(b.length + 1);
  buf.set(b);
  return { buf, end: b.length };
}

test('scanners: strings, escapes, nesting, and asking for more at the window end', () => {
  let w = win('"a\\"b\\u00e9\\\\" rest');
  assert.equal(scanString(w.buf, 0, w.end), 14);
  w = win('{"a":[1,{"b":"}]"}],"c":"\\u005d"} tail');
  assert.equal(scanValue(w.buf, 0, w.end), w.end - 5);
  w = win('[1, 2, [3]]');
  assert.equal(scanValue(w.buf, 0, w.end), w.end);
  w = win('12.5e3,');
  assert.equal(scanValue(w.buf, 0, w.end), 6);
  w = win(' \t\r\n x');
  assert.equal(skipWs(w.buf, 0), 5);
  for (const partial of ['"abc', '"ab\\', '"ab\\u00', '{"a":[1,2', '123', 'tru']) {
    const p = win(partial);
    assert.throws(() => scanValue(p.buf, 0, p.end), (e) => e === NEED_MORE, partial);
  }
  for (const bad of ['"a\nb"', '"\\x"', '"\\u12G4"', '"a\u0001"']) {
    const p = win(bad);
    assert.throws(() => scanString(p.buf, 0, p.end), JsonSyntaxError, JSON.stringify(bad));
  }
  const z = win('[1,\u0000]');
  assert.throws(() => scanValue(z.buf, 0, z.end), JsonSyntaxError);
});

const ENTRIES: PlainEntry[] = [
  { id: 'a-\u00e9\u6587-\ud83d\ude80', vector: [0.1, -2.5, 1e-7, 3], metadata: { t: 'caf\u00e9 \ud83d\ude80 "q" \\ \n', n: [1, { x: null }], '\u0000': true } },
  { id: 7, vector: [-0, 0, 1, -1] },
  { id: 'esc', vector: [1.5, 2.5, 3.5, 4.5], metadata: null },
  { id: 'last', vector: [1e-45, 3.4028235e38, -1.1754944e-38, 0.33333334], metadata: { z: 1, a: 2, '10': 3, b: { y: 1, x: 2 } } },
];

function expectAwkward(r: JsonStateReadResult): void {
  assert.equal(r.kind, 'full');
  if (r.kind !== 'full') return;
  assert.deepEqual(r.columns.ids, ENTRIES.map((e) => e.id));
  const want = Float32Array.from(ENTRIES.flatMap((e) => e.vector));
  assert.ok(Buffer.from(r.columns.vectors.buffer, r.columns.vectors.byteOffset, r.columns.vectors.byteLength).equals(Buffer.from(want.buffer)));
  assert.ok(Object.is(r.columns.vectors[4], -0), '-0 is preserved');
  assert.deepEqual(r.columns.metadata, [ENTRIES[0].metadata, undefined, undefined, ENTRIES[3].metadata]);
  assert.equal(JSON.stringify(r.columns.metadata[3]), JSON.stringify(ENTRIES[3].metadata));
  assert.equal(r.header.options.note, 'hand-made');
}

/** JSON.stringify prints -0 as 0; the documents here spell it "-0" as the writer does. */
function awkwardDoc(opts: { indent?: number; edit?: (body: string) => string } = {}, members = fullMembers(4, ENTRIES)): string {
  return docText(members, { ...opts, edit: (b) => (opts.edit ?? ((x: string) => x))(b.replace(/\[0,0,1,-1\]|\[\s*0,\s*0,\s*1,\s*-1\s*\]/, '[-0,0,1,-1]')) });
}

async function readChunks(chunks: Uint8Array[], windowSize?: number): Promise<JsonStateReadResult> {
  return readJsonStateFrom(chunkByteSource(chunks), { file: 'mem.json', windowSize });
}

test('streaming: the same result for a split at every byte position', async () => {
  const bytes = utf8(awkwardDoc());
  for (let at = 0; at <= bytes.length; at++) {
    const parts = [bytes.subarray(0, at), bytes.subarray(at)];
    expectAwkward(await readChunks(parts, 64));
    // A first window of exactly `at` bytes makes the split a window boundary too.
    expectAwkward(await readChunks(parts, Math.max(1, at)));
  }
});

test('streaming: one byte at a time, and windows of every small size (units restart and grow)', async () => {
  const bytes = utf8(awkwardDoc());
  const singles = Array.from(bytes, (b) => Uint8Array.of(b));
  expectAwkward(await readChunks(singles, 1));
  for (let w = 1; w <= 48; w++) expectAwkward(await readChunks([bytes], w));
});

test('streaming: escaped unicode (surrogate pairs) in ids and metadata split anywhere', async () => {
  // Write the non-ASCII characters as \u escapes so the splits fall inside escape sequences too.
  const text = awkwardDoc().replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  const escaped = utf8(text);
  assert.match(text, /\\ud83d\\ude80/);
  // The checksum covers the bytes as written, so recompute it for the escaped text.
  const body = text.slice(0, text.lastIndexOf(',"checksum"'));
  const { createHash } = await import('node:crypto');
  const fixed = utf8(`${body},"checksum":"${createHash('sha256').update(body).digest('hex')}"}`);
  assert.ok(escaped.length > 0);
  for (let at = 0; at <= fixed.length; at++) expectAwkward(await readChunks([fixed.subarray(0, at), fixed.subarray(at)], 32));
});

test('layout freedom: pretty-printed, reordered keys, whitespace everywhere, exponents and integers', async () => {
  expectAwkward(await readChunks([utf8(awkwardDoc({ indent: 2 }))]));
  expectAwkward(await readChunks([utf8(awkwardDoc({ indent: 7 }))], 16));
  // Members and entry keys in other orders.
  const reordered = fullMembers(4, ENTRIES)
    .reverse()
    .map(([k, v]) => [k, k === 'vectors' ? (v as typeof ENTRIES).map((e) => Object.fromEntries(Object.entries(e).reverse())) : v] as [string, unknown]);
  expectAwkward(await readChunks([utf8(awkwardDoc({}, reordered))]));
  // Numbers in other spellings that mean the same float32 values.
  const spelled = awkwardDoc()
    .replace('[0.1,-2.5,1e-7,3]', '[ 1.0E-1 ,\t-25e-1,\r\n0.0000001 , 3.000 ]')
    .replace('[-0,0,1,-1]', '[-0.0,0e5,1E0,-1]');
  assert.match(spelled, /-0\.0,0e5/);
  const body = spelled.slice(0, spelled.lastIndexOf(',"checksum"'));
  const { createHash } = await import('node:crypto');
  expectAwkward(await readChunks([utf8(`${body},"checksum":"${createHash('sha256').update(body).digest('hex')}"}`)], 8));
});

test('layout freedom: a UTF-8 byte order mark and trailing whitespace are accepted', async () => {
  const text = awkwardDoc();
  const { createHash } = await import('node:crypto');
  const body = '\ufeff' + text.slice(0, text.lastIndexOf(',"checksum"'));
  expectAwkward(await readChunks([utf8(`${body},"checksum":"${createHash('sha256').update(body).digest('hex')}"} \n\t\r\n`)], 8));
});

test('__proto__ keys in metadata become own properties without polluting prototypes', async () => {
  const text = docText(fullMembers(2, [{ id: 'p', vector: [1, 2], metadata: JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown> }]));
  assert.match(text, /"__proto__":\{"polluted":true\}/);
  const r = await readChunks([utf8(text)]);
  assert.equal(r.kind, 'full');
  const meta = r.kind === 'full' ? r.columns.metadata[0]! : {};
  assert.ok(Object.prototype.hasOwnProperty.call(meta, '__proto__'));
  assert.deepEqual(Object.keys(meta), ['__proto__', 'a']);
  assert.equal(Object.getPrototypeOf(meta), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal((meta as Record<string, unknown>).polluted, undefined);
});
