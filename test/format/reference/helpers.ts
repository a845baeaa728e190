/**
 * Test helpers for the reference imports: the checked-in fixtures, in-memory file systems holding
 * hand-made documents, and reference-000 documents written the way the reference writes them.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Id, Metadata } from '../../../src/engine/types.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';

export { rejects } from '../../support/columns.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/reference/', import.meta.url));

/** Bytes of a checked-in fixture (test/fixtures/reference/<name>). */
export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${FIXTURES}${name}`));
}

/** A memory file system holding `files` (strings are UTF-8). */
export function memFs(files: Record<string, Uint8Array | string>): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  for (const [path, data] of Object.entries(files)) fs.writeFileSync(path, typeof data === 'string' ? new Uint8Array(Buffer.from(data)) : data);
  return fs;
}

/** One entry as the reference stores it. */
export interface RefEntry {
  id: Id;
  vector: number[];
  metadata?: Metadata | null;
}

/**
 * A reference-000 state document as the reference writes it: members version, options, stats,
 * vectors, timestamp, then checksum = SHA-256 of the compact JSON of the rest; pretty-printed with
 * indent 2 unless `compact`.
 */
export function ref000Doc(entries: RefEntry[], opts: { dimension?: number; metric?: string; compact?: boolean; checksum?: boolean; extra?: Record<string, unknown> } = {}): string {
  const dimension = opts.dimension ?? entries[0]?.vector.length ?? 0;
  const state: Record<string, unknown> = {
    version: '1.0.0',
    options: { dimension, metric: opts.metric ?? 'cosine' },
    stats: { count: entries.length, dimension, metric: opts.metric ?? 'cosine' },
    ...opts.extra,
    vectors: entries,
    timestamp: 1700000000000,
  };
  if (opts.checksum !== false) state.checksum = createHash('sha256').update(JSON.stringify(state)).digest('hex');
  return JSON.stringify(state, null, opts.compact ? 0 : 2);
}

/** float32 bytes of plain numbers. */
export function f32Bytes(values: number[]): Buffer {
  const v = Float32Array.from(values);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
