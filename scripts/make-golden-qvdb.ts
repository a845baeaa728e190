/**
 * Generates the checked-in .qvdb golden files (test/golden/qvdb/) and expected.json describing their
 * contents. Run once per format version: `npx tsc -p tsconfig.json && node build/scripts/make-golden-qvdb.js`.
 * Existing files are never overwritten (pass --force only when deliberately adding a new version's set):
 * the point of golden files is that the bytes written by an older QuiverDB keep loading forever.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeFs } from '../src/env/node-fs.js';
import { writeQvdb, type Compression } from '../src/format/qvdb/index.js';
import type { Id, Metadata } from '../src/engine/types.js';
import { makeChangeImage, makeImage } from '../test/support/image.js';

const DIR = join('test', 'golden', 'qvdb');
const CREATED_AT = 1_717_171_717_171;

const fullIds: Id[] = ['alpha', 42, 'ünïcødé-🚀', '42', 0, 'last'];
const fullVectors = Float32Array.of(
  0.1, -0.2, 0.3,
  -0, 1.401298464324817e-45, -3.4028234663852886e38,
  1, 2, 3,
  0.5, 0.25, 0.125,
  -1.5, 1e-10, 123456.789,
  7, 8, 9,
);
const fullMetadata: (Metadata | undefined)[] = [
  { title: 'first', tags: ['a', 'b'], score: 0.75 },
  undefined,
  { z: 1, a: { nested: { deep: [1, { x: null }] } }, 'ключ': 'значение' },
  {},
  { n: -12, big: 9007199254740991, f: 1.5e-300, t: true },
  { text: 'line1\nline2\t"quoted"' },
];
const deltaIds: Id[] = ['alpha', 'new-one'];
const deltaVectors = Float32Array.of(9, 8, 7, -0.001, 0.002, -0.003);
const deltaMetadata: (Metadata | undefined)[] = [{ title: 'changed' }, undefined];
const deletedIds: Id[] = [42, 'ünïcødé-🚀', 'never-existed'];

function hex(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
}

async function main(): Promise<void> {
  const force = process.argv.includes('--force');
  mkdirSync(DIR, { recursive: true });
  const expected: Record<string, unknown> = {};
  let baseChecksum = '';
  for (const compression of ['none', 'gzip', 'brotli'] as Compression[]) {
    const file = `v1-full-${compression}.qvdb`;
    const path = join(DIR, file);
    if (existsSync(path) && !force) throw new Error(`${path} exists; golden files are never regenerated (use --force for a new set)`);
    const image = makeImage({ dimension: 3, metric: 'cosine', ids: fullIds, vectors: fullVectors, metadata: fullMetadata, seq: 17 });
    const w = await writeQvdb(nodeFs, path, image, { compression, createdAt: CREATED_AT, user: { options: { format: 'binary', compression }, note: 'golden' } });
    if (compression === 'none') baseChecksum = w.checksum;
    expected[file] = {
      kind: 'full', checksum: w.checksum, bytes: w.bytes, dimension: 3, metric: 'cosine', count: fullIds.length, seq: 17, createdAt: CREATED_AT,
      user: { options: { format: 'binary', compression }, note: 'golden' }, ids: fullIds, vectorsHex: hex(fullVectors),
      metadata: fullMetadata.map((m) => m ?? null),
    };
  }
  for (const compression of ['none', 'gzip', 'brotli'] as Compression[]) {
    const file = `v1-delta-${compression}.qvdb`;
    const path = join(DIR, file);
    if (existsSync(path) && !force) throw new Error(`${path} exists; golden files are never regenerated (use --force for a new set)`);
    const image = makeChangeImage({ dimension: 3, metric: 'cosine', ids: deltaIds, vectors: deltaVectors, metadata: deltaMetadata, seq: 21, sinceSeq: 17, cleared: false, deletedIds });
    const w = await writeQvdb(nodeFs, path, image, { compression, createdAt: CREATED_AT + 1, baseChecksum });
    expected[file] = {
      kind: 'delta', checksum: w.checksum, bytes: w.bytes, dimension: 3, metric: 'cosine', count: deltaIds.length, seq: 21, sinceSeq: 17, cleared: false,
      baseChecksum, createdAt: CREATED_AT + 1, user: {}, ids: deltaIds, vectorsHex: hex(deltaVectors), metadata: deltaMetadata.map((m) => m ?? null), deletedIds,
    };
  }
  writeFileSync(join(DIR, 'expected.json'), JSON.stringify(expected, null, 2) + '\n');
  console.log(`wrote ${Object.keys(expected).length} golden files to ${DIR}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
