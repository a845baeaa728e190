/**
 * The content diff behind incremental snapshots of a database the manager has not tracked since the
 * base was taken: the base chain's per-entry content hashes (from the record files only, never the
 * vectors) are replayed into the state at the base, then every current entry is hashed and compared.
 * What differs is copied out; bytes written stay proportional to the change.
 */
import type { CollectionImage, Id, Metadata } from '../engine/types.js';
import { checkAbort } from '../storage/store.js';
import { readChecksums } from './catalog.js';
import type { SnapshotContext } from './context.js';
import { hashChunk } from './content-hash.js';
import { missingFile, readDataFile } from './file-reader.js';
import { columnsImage, type SnapshotSource } from './image-source.js';
import { snapshotKey } from './layout.js';
import type { ManifestFile, SnapshotManifest } from './manifest.js';
import { RecordsDecoder } from './records.js';

const CHUNK_ENTRIES_BYTES = 8 << 20;

/** The content hashes of the state a chain restores to: id → index into `lanes` (2 per entry). */
async function stateHashes(ctx: SnapshotContext, chain: readonly SnapshotManifest[], signal?: AbortSignal): Promise<{ at: Map<Id, number>; lanes: Uint32Array }> {
  const links = [...chain].reverse();
  const decoded = await ctx.io.map(links, async (m) => {
    const sums = await readChecksums(ctx, m);
    const file = m.files.find((f) => f.role === 'metadata') as ManifestFile;
    const key = snapshotKey(m.id, file.name);
    const dec = new RecordsDecoder(ctx.store.locate(key), file.rawBytes, {
      entries: m.changedCount, deleted: m.deletedCount, cleared: m.cleared, dimension: m.dimension, keepMetadata: false, keepHashes: true,
    });
    try {
      await readDataFile(ctx.store, key, file, (c) => dec.push(c), { compression: m.compression, sha256: sums.get(file.name), signal });
    } catch (err) {
      throw missingFile(ctx.store, key, err);
    }
    return dec.finish();
  });
  const total = links.reduce((s, m) => s + m.changedCount, 0);
  const lanes = new Uint32Array(total * 2);
  const at = new Map<Id, number>();
  let next = 0;
  for (const r of decoded) {
    if (r.header.cleared) at.clear();
    for (const id of r.deletedIds) at.delete(id);
    for (let j = 0; j < r.ids.length; j++) {
      lanes[2 * next] = r.hashes[2 * j];
      lanes[2 * next + 1] = r.hashes[2 * j + 1];
      at.set(r.ids[j], next++);
    }
  }
  return { at, lanes };
}

/** The entries of `image` that differ from the state `chain` restores to, and the ids it no longer holds. */
export async function diffAgainstChain(ctx: SnapshotContext, chain: readonly SnapshotManifest[], image: CollectionImage, signal?: AbortSignal): Promise<SnapshotSource> {
  const { at, lanes } = await stateHashes(ctx, chain, signal);
  checkAbort(signal, 'the incremental snapshot');
  const dim = image.dimension;
  const n = image.count;
  const mine = new Uint32Array(2 * n);
  const changed = new Uint8Array(n);
  const present = new Set<Id>();
  let changes = 0;
  const perChunk = Math.max(1, Math.floor(CHUNK_ENTRIES_BYTES / (dim * 4)));
  let first = 0;
  for (const chunk of image.vectorChunks(perChunk)) {
    hashChunk(chunk, dim, image.metadata, first, mine);
    first += chunk.length / dim;
  }
  for (let i = 0; i < n; i++) {
    const id = image.ids[i];
    present.add(id);
    const j = at.get(id);
    if (j === undefined || lanes[2 * j] !== mine[2 * i] || lanes[2 * j + 1] !== mine[2 * i + 1]) {
      changed[i] = 1;
      changes++;
    }
  }
  const deletedIds: Id[] = [];
  for (const id of at.keys()) if (!present.has(id)) deletedIds.push(id);
  const ids: Id[] = [];
  const metadata: (Metadata | undefined)[] = [];
  const vectors = new Float32Array(changes * dim);
  let i = 0;
  for (const chunk of image.vectorChunks(perChunk)) {
    const m = chunk.length / dim;
    for (let k = 0; k < m; k++, i++) {
      if (!changed[i]) continue;
      vectors.set(chunk.subarray(k * dim, (k + 1) * dim), ids.length * dim);
      ids.push(image.ids[i]);
      metadata.push(image.metadata[i]);
    }
  }
  return { image: columnsImage({ dimension: dim, metric: image.metric, ids, vectors, metadata }), deletedIds, cleared: false };
}
