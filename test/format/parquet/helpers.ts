/**
 * Test helpers for the Parquet codec: sample images, bit-exact column comparison, in-memory file
 * systems holding edited bytes, and DuckDB (skipped with a message when it cannot load).
 */
import type { Id, Metadata } from '../../../src/engine/types.js';
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

/** A read-only FileSystem over in-memory files, shared with the JSON tests. */
export { bytesFs } from '../json/helpers.js';

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
