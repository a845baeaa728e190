import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CorruptionError } from '../../../src/errors.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { chunkByteSource, readJsonStateFrom, writeJsonState } from '../../../src/format/json/index.js';
import { StateParser } from '../../../src/format/json/state-parser.js';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { bytesOf, makeImage, randomVectors, tempDir, utf8, type ImageSpec } from './helpers.js';

const N = 2500;
const DIM = 24;

async function writtenDoc(): Promise<{ text: string; spec: ImageSpec }> {
  const { dir, cleanup } = tempDir();
  try {
    const ids: Id[] = Array.from({ length: N }, (_, i) => (i % 5 === 0 ? i : `id-${i}`));
    const metadata: (Metadata | undefined)[] = ids.map((_, i) => (i % 3 ? { i, s: 'ü'.repeat(i % 4), __proto__: 1 } : undefined));
    for (const m of metadata) if (m) Object.defineProperty(m, '__proto__', { value: { x: 1 }, enumerable: true, writable: true, configurable: true });
    const spec: ImageSpec = { dimension: DIM, ids, vectors: randomVectors(N, DIM, 9), metadata };
    const path = join(dir, 's.json');
    await writeJsonState(nodeFs, path, makeImage(spec));
    return { text: readFileSync(path, 'utf8'), spec };
  } finally {
    cleanup();
  }
}

/** Re-signs an edited document so that only the edit (not the checksum) is wrong. */
function resign(text: string): string {
  const body = text.slice(0, text.lastIndexOf(',"checksum"'));
  return `${body},"checksum":"${createHash('sha256').update(body).digest('hex')}"}\n`;
}

function parse(text: string, workers: number) {
  return new StateParser(chunkByteSource([utf8(text)]), { file: 'mem.json', verifyChecksum: true, workers, windowSize: 16 << 10, splitMinBytes: 4 << 10, sizeBound: text.length }).run();
}

test('parallel load: the helper thread runs and the result is identical to a single-threaded load', async () => {
  const { text, spec } = await writtenDoc();
  const solo = await parse(text, 0);
  const duo = await parse(text, 1);
  assert.equal(solo.helperRuns, 0);
  assert.ok(duo.helperRuns > 5, `only ${duo.helperRuns} helper runs`);
  assert.equal(duo.computedChecksum, solo.computedChecksum);
  assert.deepEqual(duo.builder.ids, spec.ids);
  assert.ok(bytesOf(duo.builder.finalVectors()).equals(bytesOf(spec.vectors)));
  assert.equal(JSON.stringify(duo.builder.metadata), JSON.stringify(spec.metadata));
  const withProto = duo.builder.metadata[1]!;
  assert.ok(Object.prototype.hasOwnProperty.call(withProto, '__proto__'), '__proto__ survives the thread hop as an own key');
  assert.equal(Object.getPrototypeOf(withProto), Object.prototype);
  const r = await readJsonStateFrom(chunkByteSource([utf8(text)]), { file: 'mem.json', workers: 1, sizeBound: text.length, windowSize: 16 << 10, splitMinBytes: 4 << 10 });
  assert.equal(r.kind === 'full' && r.columns.ids.length, N);
});

async function sameFailure(text: string): Promise<CorruptionError> {
  const errors: CorruptionError[] = [];
  for (const workers of [0, 1]) {
    try {
      await parse(text, workers);
      assert.fail('accepted a damaged document');
    } catch (err) {
      assert.ok(err instanceof CorruptionError, String(err));
      errors.push(err);
    }
  }
  assert.equal(errors[1].message, errors[0].message);
  return errors[0];
}

test('parallel load: damage anywhere is reported exactly as the single-threaded parser does', async () => {
  const { text } = await writtenDoc();
  for (const k of [101, 777, 1501, 2499]) {
    const line = text.indexOf(`\n{"id":"id-${k}"`);
    assert.ok(line > 0);
    const numberAt = text.indexOf('[', line) + 1;
    const broken = resign(text.slice(0, numberAt) + '1e99' + text.slice(text.indexOf(',', numberAt)));
    const err = await sameFailure(broken);
    assert.equal(err.section, `vectors[${k}].vector[0]`);
    assert.equal(err.offset, Buffer.byteLength(broken.slice(0, numberAt)));
  }
  // A duplicate id far from its twin (across the main/helper boundary) and right next to it.
  for (const [a, b] of [[3, 2001], [1998, 1999]]) {
    assert.ok(text.includes(`"id":"id-${b}"`));
    const broken = resign(text.replace(`"id":"id-${b}"`, `"id":"id-${a}"`));
    const err = await sameFailure(broken);
    assert.equal(err.section, `vectors[${b}]`);
    assert.match(err.message, /duplicate id/);
  }
  // Truncation inside the helper's part.
  await sameFailure(text.slice(0, Math.floor(text.length * 0.8)));
});

test('parallel load: documents without the one-entry-per-line layout fall back to one thread', async () => {
  const { text, spec } = await writtenDoc();
  const oneLine = resign(text.replace(/\n\{/g, '{'));
  const r = await parse(oneLine, 1);
  assert.equal(r.helperRuns, 0);
  assert.deepEqual(r.builder.ids, spec.ids);
  // A layout where "\n{" starts something that is not an entry: every guess fails the check.
  const misleading = resign(text.replace(/"metadata":\{/g, '"metadata":\n{'));
  const m = await parse(misleading, 1);
  assert.deepEqual(m.builder.ids, spec.ids);
  assert.ok(bytesOf(m.builder.finalVectors()).equals(bytesOf(spec.vectors)));
});
