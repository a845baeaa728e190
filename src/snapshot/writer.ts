/**
 * Writes one snapshot: the vectors and record files concurrently (each hashed, and compressed in
 * parallel blocks with gzip), then checksum.sha256, then metadata.json last. A failure before the
 * commit removes what was written (best effort; leftovers are invisible and garbage-collected).
 */
import { createHash } from 'node:crypto';
import type { Id } from '../engine/types.js';
import { LIBRARY_VERSION } from '../format/qvdb/constants.js';
import { checkAbort } from '../storage/store.js';
import type { ProgressReporter } from '../util/progress.js';
import type { SnapshotContext } from './context.js';
import { HashThreadLostError, OFFLOAD_MIN_BYTES } from '../util/hash-worker.js';
import { produceVectors } from './vector-producer.js';
import { writeDataFile, type WrittenFile } from './file-writer.js';
import type { SnapshotSource } from './image-source.js';
import { checksumFileName, dataFileName, MANIFEST_NAME, RECORDS_FORMAT, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION, snapshotKey, snapshotPrefix } from './layout.js';
import { encodeChecksumFile, encodeManifest, type SnapshotManifest } from './manifest.js';
import { CONTENT_HASH, writeRecords, type RecordsHeader } from './records.js';

/** Identity and labels of the snapshot being written. */
export interface SnapshotSpec {
  id: string;
  name: string;
  createdAt: number;
  type: 'full' | 'incremental';
  baseId?: string;
  chainDepth: number;
  /** Entries in the state the snapshot restores to. */
  vectorCount: number;
  metadata: Record<string, unknown>;
  pinned: boolean;
  tags: string[];
  generation: number;
  note?: string;
  foldedFrom?: string;
}

/** Writes the data files and the commit record; returns the committed manifest. */
export async function writeSnapshot(ctx: SnapshotContext, spec: SnapshotSpec, src: SnapshotSource, progress: ProgressReporter, signal?: AbortSignal): Promise<SnapshotManifest> {
  const { image } = src;
  const dim = image.dimension;
  const count = image.count;
  let committed = false;
  try {
    const hashes = new Uint32Array(count * 2);
    let hashed!: (h: Uint32Array) => void;
    let hashFailed!: (err: unknown) => void;
    const hashesReady = new Promise<Uint32Array>((resolve, reject) => {
      hashed = resolve;
      hashFailed = reject;
    });
    hashesReady.catch(() => undefined);
    let vectorRaw = 0;
    let recordRaw = 0;
    const report = (): void => progress.update(vectorRaw + recordRaw, 'writing snapshot files');
    const fileCtl = { compression: ctx.compression, level: ctx.compressionLevel, limiter: ctx.io, signal };
    const vectorsName = dataFileName('vectors', spec.generation, ctx.compression);
    const recordsName = dataFileName('metadata', spec.generation, ctx.compression);

    const writeVectors = (): Promise<WrittenFile> => writeDataFile(ctx.store, snapshotKey(spec.id, vectorsName), vectorsName, 'vectors', async (write) => {
      try {
        await produceVectors(image, count, hashes, write);
        hashed(hashes);
      } catch (err) {
        // A lost hash thread makes writeDataFile run this producer again (hashing on this thread): the
        // records still get their hashes from that second run.
        if (!(err instanceof HashThreadLostError)) hashFailed(err);
        throw err;
      }
    }, { ...fileCtl, offloadHash: count * dim * 4 >= OFFLOAD_MIN_BYTES, onRaw: (n) => { vectorRaw = n; report(); } });

    const header: RecordsHeader = { format: RECORDS_FORMAT, version: 1, contentHash: CONTENT_HASH, entries: count, deleted: src.deletedIds.length, cleared: src.cleared, dimension: dim };
    const writeRecordFile = (): Promise<WrittenFile> => writeDataFile(ctx.store, snapshotKey(spec.id, recordsName), recordsName, 'metadata', (write) =>
      writeRecords(header, image.ids, image.metadata, src.deletedIds as Id[], hashesReady, write), { ...fileCtl, onRaw: (n) => { recordRaw = n; report(); } });

    // The records wait for the vectors' hashes: a vectors failure at any step (even before its
    // producer ran) must release them. With one I/O slot the vectors go first.
    const vectorsDone = (): Promise<WrittenFile> => writeVectors().catch((err: unknown) => {
      hashFailed(err);
      throw err;
    });
    const files = ctx.io.limit >= 2 ? await settleAll([vectorsDone(), writeRecordFile()]) : [await vectorsDone(), await writeRecordFile()];

    checkAbort(signal, 'the snapshot');
    const checksumName = checksumFileName(spec.generation);
    const checksumBytes = encodeChecksumFile(files);
    await ctx.store.put(snapshotKey(spec.id, checksumName), checksumBytes, { signal });
    const manifest = buildManifest(ctx, spec, src, files, checksumName, checksumBytes);
    checkAbort(signal, 'the snapshot');
    // The commit point: until metadata.json exists the folder is invisible.
    await ctx.store.put(snapshotKey(spec.id, MANIFEST_NAME), encodeManifest(manifest));
    committed = true;
    return manifest;
  } finally {
    // Not acknowledged: remove it, metadata.json first (its publish may have landed before failing).
    if (!committed && spec.generation === 1) {
      try {
        // Only once metadata.json is surely gone may its files go (else a visible snapshot could lose them).
        await ctx.store.delete(snapshotKey(spec.id, MANIFEST_NAME));
        await ctx.store.deletePrefix(snapshotPrefix(spec.id));
      } catch {
        // Leftovers are invisible (or complete) and garbage-collected later.
      }
    }
  }
}

/** The commit record of a snapshot whose files have been written. */
function buildManifest(ctx: SnapshotContext, spec: SnapshotSpec, src: SnapshotSource, files: WrittenFile[], checksumName: string, checksumBytes: Uint8Array): SnapshotManifest {
  return {
    format: SNAPSHOT_FORMAT,
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    id: spec.id,
    name: spec.name,
    createdAt: spec.createdAt,
    type: spec.type,
    ...(spec.baseId === undefined ? {} : { baseId: spec.baseId }),
    chainDepth: spec.chainDepth,
    vectorCount: spec.vectorCount,
    changedCount: src.image.count,
    deletedCount: src.deletedIds.length,
    cleared: src.cleared,
    dimension: src.image.dimension,
    metric: src.image.metric,
    compression: ctx.compression,
    compressionLevel: ctx.compression === 'none' ? 0 : ctx.compressionLevel,
    generation: spec.generation,
    files: files.map((f) => ({ name: f.name, role: f.role, bytes: f.bytes, rawBytes: f.rawBytes })),
    checksumFile: checksumName,
    sizeBytes: files.reduce((sum, f) => sum + f.bytes, 0) + checksumBytes.length,
    checksum: createHash('sha256').update(checksumBytes).digest('hex'),
    metadata: spec.metadata,
    pinned: spec.pinned,
    tags: spec.tags,
    library: LIBRARY_VERSION,
    ...(spec.note === undefined ? {} : { note: spec.note }),
    ...(spec.foldedFrom === undefined ? {} : { foldedFrom: spec.foldedFrom }),
  };
}

/** Awaits every promise; rejects with the first failure only after all have settled. */
async function settleAll<T>(ps: Promise<T>[]): Promise<T[]> {
  const rs = await Promise.allSettled(ps);
  const bad = rs.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
  return rs.map((r) => (r as PromiseFulfilledResult<T>).value);
}
