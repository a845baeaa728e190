import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import type { ImportedColumns } from '../../../src/format/exchange.js';
import { chunkByteSource } from '../../../src/format/stream/sources.js';
import { jsonlCodec, readJsonlFrom } from '../../../src/format/jsonl/index.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { assertColumnsEqual, awkwardSpec, bytesOf, makeImage, writeBytes, type ImageSpec } from '../msgpack/helpers.js';

/** Reads `bytes` in 8 KiB chunks through a 16 KiB window, with or without the helper thread splitting every window. */
function read(bytes: Uint8Array, workers: number): Promise<ImportedColumns> {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 8192) chunks.push(bytes.subarray(i, i + 8192));
  return readJsonlFrom(chunkByteSource(chunks), { file: 'f.jsonl', windowSize: 16384, workers, splitMinBytes: 1 });
}

async function outcome(bytes: Uint8Array, workers: number): Promise<string> {
  try {
    const r = await read(bytes, workers);
    return `ok ${JSON.stringify(r.columns.ids)} ${bytesOf(r.columns.vectors).toString('base64')} ${JSON.stringify(r.columns.metadata)}`;
  } catch (err) {
    assert.ok(err instanceof QuiverError, String(err));
    return `${err.code} ${err.message}`;
  }
}

function spec(): ImageSpec {
  const data = loadFioriEmbeddings();
  const a = awkwardSpec();
  const n = 200;
  const vectors = new Float32Array(n * 6);
  for (let i = 0; i < n; i++) vectors.set(data.vectors.subarray(i * 384, i * 384 + 6), i * 6);
  vectors.set(a.vectors, 0);
  return { dimension: 6, ids: [...a.ids, ...data.ids.slice(a.ids.length, n)], vectors, metadata: [...a.metadata!, ...data.metadata.slice(a.ids.length, n)] };
}

test('the helper thread gives the same columns as one thread', async () => {
  const s = spec();
  const bytes = await writeBytes(jsonlCodec, makeImage(s));
  assertColumnsEqual((await read(bytes, 1)).columns, s);
  assertColumnsEqual((await read(bytes, 0)).columns, s);
  // Foreign JSONL too (the first entry fixes the dimension before any split).
  const text = Buffer.from(bytes).toString('utf8').split('\n').slice(1, -2).join('\n');
  const foreign = await read(Buffer.from(text), 1);
  assert.deepEqual(foreign.columns.ids, s.ids);
  assert.equal(foreign.metricKnown, false);
});

test('damage anywhere gives the same error with and without the helper thread', async () => {
  const s = spec();
  const text = Buffer.from(await writeBytes(jsonlCodec, makeImage(s))).toString('utf8');
  const lines = text.split('\n');
  const edits: [string, (l: string[]) => void][] = [
    ['duplicate id late', (l) => (l[180] = l[180].replace(/"id":"[^"]*"/, `"id":${JSON.stringify(s.ids[170])}`))],
    ['duplicate id across halves', (l) => (l[190] = l[190].replace(/"id":"[^"]*"/, `"id":${JSON.stringify(s.ids[3])}`))],
    ['NaN', (l) => (l[150] = l[150].replace(/"vector":\[[^,]*,/, '"vector":[NaN,'))],
    ['short vector', (l) => (l[120] = l[120].replace(/,[^,\]]*\]/, ']'))],
    ['junk after object', (l) => (l[160] += ' x')],
    ['bad metadata', (l) => (l[140] = l[140].replace(/"metadata":\{/, '"metadata":[{').replace(/\}\}$/, '}]}'))],
    ['header-like line', (l) => (l[130] = '{"format":"quiverdb-jsonl"}')],
    ['early trailer', (l) => (l[100] = l.at(-2)!)],
    ['truncated', (l) => l.splice(195)],
    ['blank lines', (l) => l.splice(60, 0, '', '   ', '\r')],
  ];
  for (const [name, edit] of edits) {
    const l = [...lines];
    edit(l);
    const bytes = Buffer.from(l.join('\n'));
    const one = await outcome(bytes, 0);
    const two = await outcome(bytes, 1);
    assert.equal(two, one, name);
    if (name !== 'blank lines') assert.match(one, /^(CORRUPT|CHECKSUM_MISMATCH) /, name);
  }
});

test('a helper-side duplicate names both lines', async () => {
  const lines = ['{"id":"a","vector":[1,2]}', ...Array.from({ length: 3000 }, (_, i) => `{"id":${i},"vector":[${i},1]}`), '{"id":"a","vector":[3,4]}'];
  const err = await read(Buffer.from(lines.join('\n')), 1).then(
    () => assert.fail('accepted'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CorruptionError);
  assert.equal(err.section, 'line 3002');
  assert.match(err.message, /duplicate id "a" \(string\): lines 1 and 3002/);
});

test('a trailer followed by more lines is reported at the same line wherever the window is split', async () => {
  const lines = ['{"format":"quiverdb-jsonl","formatVersion":1,"dimension":2,"metric":"dot","count":400}'];
  for (let i = 0; i < 400; i++) lines.push(`{"id":${i},"vector":[${i},1],"metadata":{"t":"${'x'.repeat(50)}"}}`);
  // A trailer that is right for the entries before it (but for its checksum), then more entries: at
  // some positions it is the last line the main thread takes before the helper's part.
  for (let at = 2; at < 300; at++) {
    const l = [...lines];
    l.splice(at, 0, `{"end":true,"count":${at - 1},"checksum":"${'0'.repeat(64)}"}`);
    const bytes = Buffer.from(l.join('\n'));
    assert.equal(await outcome(bytes, 1), await outcome(bytes, 0), `trailer at line ${at + 1}`);
  }
});
