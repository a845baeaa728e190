/**
 * Test helpers for the Parquet codec: sample images, bit-exact column comparison, in-memory file
 * systems holding edited bytes, and DuckDB (skipped with a message when it cannot load).
 */
import type { Id, Metadata } from '../../../src/engine/types.js';
import type { FileSystem } from '../../../src/env/fs.js';
import { EXTREME_FLOATS, awkwardMetadata } from '../../support/columns.js';
import { tempDir as sharedTempDir } from '../../support/db.js';
import { randomVectors, type ImageSpec } from '../../support/image.js';

export { assertColumnsEqual, EXTREME_FLOATS } from '../../support/columns.js';
export { makeImage, randomVectors, bytesOf, type ImageSpec } from '../../support/image.js';

/** A fresh temp directory and its cleanup. */
export const tempDir = (): { dir: string; cleanup: () => void } => sharedTempDir('quiver-parquet-');

/** A small image with awkward content: unicode and numeric ids, nested metadata, extreme floats. */
export function awkwardSpec(): ImageSpec {
  const dim = 8;
  const ids: Id[] = ['ünïcødé-🚀-文档', 42, 'no-metadata', 'proto', 'extremes', 'quote"back\\slash\n', -7, 0, Number.MAX_SAFE_INTEGER, '42x', '\uFEFFbom', '\uFFFD-replacement'];
  const vectors = randomVectors(ids.length, dim, 7);
  vectors.set(EXTREME_FLOATS, 4 * dim);
  const metadata: (Metadata | undefined)[] = [
    ...awkwardMetadata(),
    { '': 'empty key', '\u0000ctl': '\u0001\u001f' },
    {},
    { zero: 0 },
    undefined,
    { n: null },
    { bom: '\uFEFF' },
    { '\uFFFD': 'U+FFFD is ordinary text' },
  ];
  return { dimension: dim, metric: 'euclidean', ids, vectors, metadata, seq: 99 };
}

/** A read-only FileSystem over in-memory files (enough for the reader); other calls throw. */
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
    mkdir: unsupported,
    readdir: unsupported,
    stat: unsupported,
    rm: unsupported,
    syncDir: unsupported,
  };
}

/** The minimal DuckDB surface the tests use. */
export interface Duck {
  rows(sql: string): Promise<Record<string, unknown>[]>;
  close(): void;
}

/** An in-memory DuckDB, or undefined (after logging why) when @duckdb/node-api cannot load. */
export async function openDuck(): Promise<Duck | undefined> {
  try {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    return {
      async rows(sql: string) {
        const r = await conn.runAndReadAll(sql);
        return r.getRowObjects() as Record<string, unknown>[];
      },
      close() {
        conn.closeSync();
        instance.closeSync();
      },
    };
  } catch (err) {
    console.log(`# skipping DuckDB checks: @duckdb/node-api is unavailable (${(err as Error).message})`);
    return undefined;
  }
}

/** SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
