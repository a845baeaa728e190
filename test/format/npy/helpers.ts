/**
 * Test helpers for the npy codec: export to an in-memory file system, hand-made .npy files, and
 * exact comparison of imported columns with what was exported.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Columns, Id, Metadata } from '../../../src/engine/types.js';
import type { FileSystem } from '../../../src/env/fs.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { encodeNpyHeader, npyCodec } from '../../../src/format/npy/index.js';
import type { ExchangeReadOptions, ImportedColumns } from '../../../src/format/exchange.js';
import { awkwardMetadata } from '../../support/columns.js';
import { bytesOf, makeImage, randomVectors, type ImageSpec } from '../../support/image.js';

export { bytesOf, makeImage, randomVectors, type ImageSpec } from '../../support/image.js';

/** The file names an export to /d/x.npy produces. */
export const NPY = '/d/x.npy';
export const IDS = '/d/x.ids.json';
export const META = '/d/x.metadata.jsonl';

/** Exports `spec` to a fresh in-memory file system at {@link NPY}. */
export async function exported(spec: ImageSpec): Promise<MemoryFileSystem> {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  await npyCodec.write(fs, NPY, makeImage(spec));
  return fs;
}

/** Reads {@link NPY} back. */
export function imported(fs: FileSystem, options?: ExchangeReadOptions): Promise<ImportedColumns> {
  return npyCodec.read(fs, NPY, options);
}

/** A file system holding hand-made export files (any of them may be omitted). */
export function filesFs(files: { npy?: Uint8Array; ids?: string; meta?: string }): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  if (files.npy) fs.writeFileSync(NPY, files.npy);
  if (files.ids !== undefined) fs.writeFileSync(IDS, Buffer.from(files.ids));
  if (files.meta !== undefined) fs.writeFileSync(META, Buffer.from(files.meta));
  return fs;
}

/** An .npy file (version 1.0 header) holding `vectors` as `rows` x `dim`. */
export function npyBytes(rows: number, dim: number, vectors: Float32Array = randomVectors(rows, dim, 5)): Uint8Array {
  const header = encodeNpyHeader(rows, dim);
  const out = new Uint8Array(header.length + vectors.byteLength);
  out.set(header);
  out.set(bytesOf(vectors), header.length);
  return out;
}

/** An .npy file with a hand-written header dict (padded to 64 bytes like numpy) and raw data. */
export function npyWithDict(dict: string, data: Uint8Array, version: [number, number] = [1, 0]): Uint8Array {
  const lenBytes = version[0] === 1 ? 2 : 4;
  const unpadded = 8 + lenBytes + dict.length + 1;
  const text = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const head = Buffer.alloc(8 + lenBytes + text.length);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version[0], version[1]]);
  if (lenBytes === 2) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  head.write(text, 8 + lenBytes, 'latin1');
  return new Uint8Array(Buffer.concat([head, data]));
}

/** Asserts imported columns equal `spec`: ids with their types, vector bits, metadata with key order. */
export function assertSame(actual: Columns, spec: ImageSpec): void {
  assert.equal(actual.dimension, spec.dimension);
  assert.deepEqual(actual.ids, spec.ids);
  assert.ok(bytesOf(actual.vectors).equals(bytesOf(spec.vectors)), 'vector bytes differ');
  const meta = spec.metadata ?? spec.ids.map(() => undefined);
  assert.equal(JSON.stringify(actual.metadata), JSON.stringify(meta), 'metadata (with key order) differs');
  assert.deepEqual(actual.metadata, meta);
}

/** Content that breaks naive formats: unicode and numeric ids, nesting, __proto__, extreme floats. */
export function awkwardSpec(): ImageSpec {
  const dim = 6;
  const ids: Id[] = ['ünïcødé-🚀-文档', 42, 'no-metadata', 'proto', 'extremes', 'quote"back\\slash\n', -7, 0, Number.MAX_SAFE_INTEGER];
  const vectors = randomVectors(ids.length, dim, 7);
  vectors.set([3.4028234663852886e38, -1.401298464324817e-45, 1.1754943508222875e-38, -0, 1e-45, 1 / 3], 4 * dim);
  const metadata: (Metadata | undefined)[] = [
    ...awkwardMetadata(),
    { '': 'empty key', '\u0000ctl': '\u0001\u001f', line: 'a\u2028b' },
    {},
    undefined,
    { last: true },
  ];
  return { dimension: dim, ids, vectors, metadata };
}

let numpy: boolean | undefined;

/** True when python3 with numpy can be run (tests that need it skip otherwise). */
export function hasNumpy(): boolean {
  numpy ??= spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
  return numpy;
}

/** Runs a python3 script with arguments; returns stdout (throws with stderr on failure). */
export function python(script: string, ...args: string[]): string {
  const r = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout;
}
