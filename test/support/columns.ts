/**
 * Assertions shared by the format tests: bit-exact comparison of imported columns with the spec they
 * were exported from, and typed rejections that must name the file.
 */
import assert from 'node:assert/strict';
import { QuiverError } from '../../src/errors.js';
import type { Columns, Metadata } from '../../src/engine/types.js';
import { bytesOf, type ImageSpec } from './image.js';

/** Float32 values that break lossy encoders: -0, subnormals, the extremes, 1/3. */
export const EXTREME_FLOATS = [-0, 1.401298464324817e-45, -1.401298464324817e-45, 1.1754943508222875e-38, 3.4028234663852886e38, -3.4028234663852886e38, 0.1, 1 / 3];

/** Fresh metadata values that break naive formats: unicode and escapes, deep nesting, none, __proto__, extreme numbers. */
export function awkwardMetadata(): (Metadata | undefined)[] {
  return [
    { title: 'Grüße 👋 — "quoted" \\ back\nslash', tags: ['a', 'ß', '🚀'] },
    { nested: { deep: { list: [1, 2.5, -0.125, null, true, { x: 'y' }] } }, z: 1, a: 2, m: 3 },
    undefined,
    JSON.parse('{"__proto__": {"polluted": true}, "constructor": "c", "b": 1}') as Metadata,
    { big: 1e300, small: -5e-324, emptyObj: {}, emptyArr: [] },
  ];
}

/** Asserts decoded columns equal the spec: ids (with types), vector bytes, metadata with key order. */
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

/** Asserts `p` rejects with a QuiverError of `code` whose message names `file` and matches `message`. */
export async function rejects(p: Promise<unknown>, code: string, file: string, message: RegExp): Promise<QuiverError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof QuiverError, String(caught));
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.message.includes(file), `"${caught.message}" names ${file}`);
  assert.match(caught.message, message);
  return caught;
}
