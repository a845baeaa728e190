/**
 * Data for the demo, tests and benchmarks: the real 778 x 384 all-MiniLM-L6-v2 embeddings shipped by
 * `@sap-ux/fiori-docs-embeddings` (Apache-2.0), and deterministic clustered data for scale.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Columns, Metadata, Metric } from '../src/engine/types.js';
import { seededRandom } from '../src/util/random.js';

/** A dataset as columns plus the text of each entry (when known). */
export interface Dataset extends Columns {
  titles: string[];
}

function fioriDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@sap-ux/fiori-docs-embeddings/package.json')), 'data', 'embeddings');
}

/** The 778 real 384-d embeddings with small metadata drawn from their records. */
export function loadFioriEmbeddings(metric: Metric = 'cosine'): Dataset {
  const dir = fioriDir();
  const bin = readFileSync(join(dir, 'embeddings.bin'));
  const vectors = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const lines = readFileSync(join(dir, 'records.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '');
  const dimension = 384;
  const n = vectors.length / dimension;
  if (lines.length !== n) throw new Error(`fiori dataset: ${lines.length} records for ${n} vectors`);
  const ids: string[] = [];
  const metadata: Metadata[] = [];
  const titles: string[] = [];
  for (const line of lines) {
    const r = JSON.parse(line) as Record<string, unknown>;
    ids.push(String(r.id));
    titles.push(String(r.title));
    let tags: unknown;
    try {
      tags = JSON.parse(String(r.tags_json ?? '[]'));
    } catch {
      tags = [];
    }
    metadata.push({ title: r.title, category: r.category, path: r.path, chunk: r.chunk_index, words: r.wordCount, tags });
  }
  return { dimension, metric, ids, vectors, metadata, titles };
}

/** A small fast deterministic PRNG (mulberry32). */
export const prng = seededRandom;

const CATEGORIES = ['guide', 'api', 'tutorial', 'faq', 'release', 'design', 'ops', 'misc'];

/** Small metadata for generated entry i. */
export function smallMetadata(i: number): Metadata {
  return { title: `Document ${i}`, category: CATEGORIES[i % CATEGORIES.length], rank: i % 1000 };
}

/**
 * `n` clustered unit vectors of `dimension` (Gaussian-ish blobs around `clusters` random centres),
 * ids `doc-0..doc-(n-1)` and small metadata. Deterministic for a seed.
 */
export function clusteredDataset(n: number, dimension: number, seed = 42, clusters = 64, withMetadata = true): Dataset {
  const rnd = prng(seed);
  const centres = new Float32Array(clusters * dimension);
  for (let i = 0; i < centres.length; i++) centres[i] = rnd() * 2 - 1;
  const vectors = new Float32Array(n * dimension);
  const ids: string[] = new Array(n);
  const metadata: (Metadata | undefined)[] = new Array(n);
  const titles: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rnd() * clusters) * dimension;
    const o = i * dimension;
    let norm = 0;
    for (let d = 0; d < dimension; d++) {
      const v = centres[c + d] + (rnd() + rnd() + rnd() - 1.5) * 0.35;
      vectors[o + d] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm || 1);
    for (let d = 0; d < dimension; d++) vectors[o + d] *= inv;
    ids[i] = `doc-${i}`;
    metadata[i] = withMetadata ? smallMetadata(i) : undefined;
    titles[i] = `Document ${i}`;
  }
  return { dimension, metric: 'cosine', ids, vectors, metadata, titles };
}
