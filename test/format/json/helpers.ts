/**
 * Test helpers for the JSON state format: CollectionImage / ChangeImage built from plain arrays
 * (no engine needed), deterministic vectors, temp directories and bit-exact comparisons.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Columns, Id, Metadata } from '../../../src/engine/types.js';
import type { FileSystem } from '../../../src/env/fs.js';

import { bytesOf, randomVectors, type ImageSpec } from '../../support/image.js';

export { makeImage, makeChangeImage, randomVectors, bytesOf, type ImageSpec } from '../../support/image.js';

/** A fresh temp directory and its cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-json-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Asserts decoded columns equal the image's spec: ids (with types), vector bytes, metadata with key order. */
export function assertColumnsEqual(actual: Columns, spec: ImageSpec): void {
  assert.equal(actual.dimension, spec.dimension);
  assert.equal(actual.metric, spec.metric ?? 'cosine');
  assert.deepEqual(actual.ids, spec.ids);
  assert.equal(actual.vectors.length, spec.vectors.length);
  assert.ok(bytesOf(actual.vectors).equals(bytesOf(spec.vectors)), 'vector bytes differ');
  const meta = spec.metadata ?? spec.ids.map(() => undefined);
  assert.equal(JSON.stringify(actual.metadata), JSON.stringify(meta), 'metadata (with key order) differs');
  assert.deepEqual(actual.metadata, meta);
}

/** A small image with awkward content: unicode and numeric ids, nested metadata, extreme floats. */
export function awkwardSpec(): ImageSpec {
  const dim = 6;
  const ids: Id[] = ['ünïcødé-🚀-文档', 42, 'no-metadata', 'proto', 'extremes', 'quote"back\\slash\n', -7];
  const vectors = randomVectors(ids.length, dim, 7);
  vectors.set([3.4028234663852886e38, -1.401298464324817e-45, 1.1754943508222875e-38, -0, 0.1, 1 / 3], 4 * dim);
  const metadata: (Metadata | undefined)[] = [
    { title: 'Grüße 👋 — "quoted" \\ back\nslash', tags: ['a', 'ß', '🚀'] },
    { nested: { deep: { list: [1, 2.5, -0.125, null, true, { x: 'y' }] } }, z: 1, a: 2, m: 3 },
    undefined,
    JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c", "b": 1}') as Metadata,
    { big: 1e300, small: -5e-324, emptyObj: {}, emptyArr: [] },
    { '': 'empty key', '\u0000ctl': '\u0001\u001f' },
    {},
  ];
  return { dimension: dim, metric: 'euclidean', ids, vectors, metadata, seq: 99 };
}

/**
 * Builds a state document by hand (any member order, optional pretty-printing) with a correct
 * checksum: SHA-256 of the text before the comma that precedes the final "checksum" member.
 */
export function docText(members: [string, unknown][], opts: { indent?: number; checksum?: boolean; edit?: (body: string) => string } = {}): string {
  const indent = opts.indent ?? 0;
  const nl = indent > 0 ? '\n' : '';
  const pad = ' '.repeat(indent);
  const parts = members.map(([k, v]) => `${nl}${pad}${JSON.stringify(k)}:${indent > 0 ? ' ' : ''}${JSON.stringify(v, null, indent || undefined)}`);
  const body = (opts.edit ?? ((b: string) => b))('{' + parts.join(','));
  if (opts.checksum === false) return body + nl + '}';
  const sum = createHash('sha256').update(body, 'utf8').digest('hex');
  return `${body},${nl}${pad}"checksum":${indent > 0 ? ' ' : ''}"${sum}"${nl}}`;
}

/** One entry as plain JSON. */
export interface PlainEntry {
  id: Id;
  vector: number[];
  metadata?: Metadata | null;
}

/** The members of a valid full state with the given entries (in the writer's order). */
export function fullMembers(dimension: number, entries: PlainEntry[], extra: [string, unknown][] = []): [string, unknown][] {
  return [
    ['format', 'quiverdb'],
    ['formatVersion', 1],
    ['kind', 'full'],
    ['version', '1.0.0'],
    ['seq', 5],
    ['timestamp', 1700000000000],
    ['options', { note: 'hand-made' }],
    ['stats', { count: entries.length, dimension, metric: 'cosine' }],
    ...extra,
    ['vectors', entries],
  ];
}

/** Bytes of a string as UTF-8. */
export function utf8(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

/** A read-only FileSystem over in-memory files (enough for readJsonState); other calls throw. */
export function bytesFs(files: Record<string, Uint8Array>): FileSystem {
  const missing = (path: string) => Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  const unsupported = (): never => {
    throw new Error('not supported by bytesFs');
  };
  return {
    async open(path: string) {
      const data = files[path];
      if (!data) throw missing(path);
      return {
        async read(into: Uint8Array, position: number, offset = 0, length = into.length - offset) {
          const n = Math.max(0, Math.min(length, data.length - position));
          into.set(data.subarray(position, position + n), offset);
          return n;
        },
        async size() {
          return data.length;
        },
        async close() {},
        write: unsupported,
        sync: unsupported,
        truncate: unsupported,
      };
    },
    readFile: unsupported,
    rename: unsupported,
    unlink: unsupported,
    link: unsupported,
    mkdir: unsupported,
    readdir: unsupported,
    stat: unsupported,
    rm: unsupported,
    syncDir: unsupported,
  };
}
