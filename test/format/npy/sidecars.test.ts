// The sidecar readers parse a window at a time (items of a window in one block): whatever the window
// and read sizes, they must give the same ids and metadata, and the same error at the same byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorruptionError } from '../../../src/errors.js';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { readIdsFile, readMetadataFile } from '../../../src/format/npy/sidecar-readers.js';
import { chunkByteSource } from '../../../src/format/stream/sources.js';

function chunks(text: string, size: number): Uint8Array[] {
  const bytes = Buffer.from(text, 'utf8');
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const ids: Id[] = Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? i * 1000 - 7 : i % 3 === 1 ? `id-${i}-ü🚀` : `"q\\${i}`));
const metadata: (Metadata | undefined)[] = Array.from({ length: 300 }, (_, i) => (i % 4 === 0 ? undefined : { i, s: 'ß'.repeat(i % 17), nested: { list: [i, null, true] } }));
const idsText = ` [ ${ids.map((id) => JSON.stringify(id)).join(' ,\n')} ]\n`;
const metaText = metadata.map((m) => JSON.stringify(m ?? null)).join('\n') + '\n';

const SHAPES: [number, number][] = [[1, 1], [2, 3], [7, 5], [64, 1000], [1 << 16, 1 << 20]];

test('ids read the same for every window and read size', async () => {
  for (const [windowSize, chunk] of SHAPES) {
    const got = await readIdsFile(chunkByteSource(chunks(idsText, chunk)), { file: 'ids', size: idsText.length, windowSize });
    assert.deepEqual(got, ids, `window ${windowSize}, chunks of ${chunk}`);
  }
});

test('metadata reads the same for every window and read size', async () => {
  for (const [windowSize, chunk] of SHAPES) {
    const got = await readMetadataFile(chunkByteSource(chunks(metaText, chunk)), metadata.length, { file: 'meta', size: metaText.length, windowSize });
    assert.deepEqual(got, metadata, `window ${windowSize}, chunks of ${chunk}`);
  }
});

async function errorOf(p: Promise<unknown>): Promise<CorruptionError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CorruptionError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

test('errors name the same item and byte whatever the window', async () => {
  const dupText = idsText.replace(JSON.stringify(ids[250]), JSON.stringify(ids[10]));
  const badIdText = idsText.replace(JSON.stringify(ids[200]), '1.5');
  const dupAt = Buffer.byteLength(dupText.slice(0, dupText.lastIndexOf(JSON.stringify(ids[10]))));
  const badAt = Buffer.byteLength(badIdText.slice(0, badIdText.indexOf('1.5')));
  const lines = metaText.split('\n');
  lines[150] = '[1]';
  const badMeta = lines.join('\n');
  const lineAt = Buffer.byteLength(lines.slice(0, 150).join('\n')) + 1;
  for (const [windowSize, chunk] of SHAPES) {
    const label = `window ${windowSize}, chunks of ${chunk}`;
    const dup = await errorOf(readIdsFile(chunkByteSource(chunks(dupText, chunk)), { file: 'ids', size: dupText.length, windowSize }));
    assert.equal(dup.section, '[250]', label);
    assert.equal(dup.offset, dupAt, label);
    assert.match(dup.message, /appears twice, at \[10\] \(row 10\) and at \[250\] \(row 250\)/);
    const bad = await errorOf(readIdsFile(chunkByteSource(chunks(badIdText, chunk)), { file: 'ids', size: badIdText.length, windowSize }));
    assert.equal(bad.section, '[200]', label);
    assert.equal(bad.offset, badAt, label);
    const meta = await errorOf(readMetadataFile(chunkByteSource(chunks(badMeta, chunk)), metadata.length, { file: 'meta', size: badMeta.length, windowSize }));
    assert.equal(meta.section, 'line 151', label);
    assert.equal(meta.offset, lineAt, label);
  }
});
