// The reference-000 utility functions: the documented examples, unit boundaries and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorDB } from '../../src/engine/vector-db.js';
import { estimateMemoryUsage, formatFileSize, formatTimestamp } from '../../src/persistence/utils.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { QuiverError } from '../../src/errors.js';

test('formatFileSize: the reference example, units, and a value that rounds up moves up a unit', () => {
  assert.equal(formatFileSize(1536000), '1.46 MB');
  assert.equal(formatFileSize(0), '0 B');
  assert.equal(formatFileSize(1023), '1023 B');
  assert.equal(formatFileSize(1023.5), '1.00 KB', 'not "1024 B"');
  assert.equal(formatFileSize(1024), '1.00 KB');
  assert.equal(formatFileSize(1048575), '1.00 MB', 'not "1024.00 KB"');
  assert.equal(formatFileSize(2 ** 30 - 1), '1.00 GB');
  assert.equal(formatFileSize(1048064), '1023.50 KB');
  assert.equal(formatFileSize(1.5), '2 B');
  assert.equal(formatFileSize(2 ** 60), '1.00 EB');
  assert.equal(formatFileSize(Number.MAX_VALUE).endsWith(' YB'), true);
  for (const bad of [-1, NaN, Infinity]) assert.throws(() => formatFileSize(bad), TypeError);
});

test('formatTimestamp: ISO-8601 UTC, and a TypeError (not a RangeError) beyond what a Date holds', () => {
  assert.equal(formatTimestamp(1705314600000), '2024-01-15T10:30:00.000Z');
  assert.equal(formatTimestamp(8.64e15), '+275760-09-13T00:00:00.000Z');
  for (const bad of [8.64e15 + 1, -8.64e15 - 1, NaN, Infinity]) assert.throws(() => formatTimestamp(bad), TypeError);
});

test('estimateMemoryUsage: a state, counts or a VectorDB; bad counts and entries without vectors are TypeErrors', async () => {
  const state = { vectors: [{ id: 'doc-1', vector: [1, 2, 3], metadata: { a: 1 } }, { id: 7, vector: [4, 5, 6] }] };
  assert.equal(estimateMemoryUsage(state), 12 + 10 + 64 + 2 * '{"a":1}'.length + 12 + 2 + 64);
  assert.equal(estimateMemoryUsage({ count: 10, dimension: 3 }), 10 * (12 + 64));
  assert.equal(estimateMemoryUsage({ count: 10, dimension: 3, metadataBytesPerEntry: 100 }), 10 * (12 + 64 + 100));
  const db = new VectorDB({ dimension: 3 });
  await db.insert({ id: 'a', vector: [1, 2, 3] });
  assert.equal(estimateMemoryUsage(db), db.stats().memoryUsage);
  for (const bad of [{ count: -1, dimension: 3 }, { count: NaN, dimension: 3 }, { count: 1, dimension: 3, metadataBytesPerEntry: -5 }, { vectors: [{ id: 'a' }] }, {}]) {
    assert.throws(() => estimateMemoryUsage(bad as never), TypeError, JSON.stringify(bad));
  }
});

test('DatabasePersistence options are checked when the instance is made, not at its first save', () => {
  const db = new VectorDB({ dimension: 2 });
  const bad: Record<string, unknown>[] = [
    { baseDir: 5 },
    { baseDir: '' },
    { incremental: 'yes' },
    { compressionLevel: 99 },
    { compression: 'gzip', compressionLevel: 10 },
    { compressionLevel: 1.5 },
    { format: 'xml' },
    { autoSaveInterval: -1 },
    // Over Node's timer limit (~24.8 days) setInterval fires every 1 ms: a save storm.
    { autoSaveInterval: 2 ** 31 },
    // Counts are whole numbers (2.5 snapshots were kept as 2).
    { maxSnapshots: 2.5 },
    { batchSize: 0.5 },
  ];
  for (const options of bad) {
    assert.throws(() => new DatabasePersistence(db, options), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT', JSON.stringify(options));
  }
  assert.throws(() => new DatabasePersistence(db, null as never), TypeError);
  assert.equal(new DatabasePersistence(db).options.baseDir, './data', 'omitted options are the defaults');
  assert.equal(new DatabasePersistence(db, { compression: 'brotli', compressionLevel: 11 }).options.compressionLevel, 11);
});
