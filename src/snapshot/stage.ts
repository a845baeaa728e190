/**
 * Restore staging: read every file of a chain (full base first), verify checksums, decode, and merge
 * the incrementals into one set of columns, all before anything is handed to a database. Memory is the
 * restored data plus the incrementals' own entries: the base's vectors are read straight into a buffer
 * sized for the base plus every incremental's entries, updated entries are overwritten in place, new
 * ones appended, deleted ones compacted away at the end.
 */
import { CorruptionError, QuiverError } from '../errors.js';
import type { Columns, Id, Metadata } from '../engine/types.js';
import { HOST_IS_LITTLE_ENDIAN, swap32InPlace } from '../format/qvdb/endian.js';
import type { ProgressReporter } from '../util/progress.js';
import { readChecksums } from './catalog.js';
import type { SnapshotContext } from './context.js';
import { missingFile, readDataFile, type NormsRequest } from './file-reader.js';
import { rememberNorms } from '../util/hash-norms.js';
import { OFFLOAD_MIN_BYTES } from '../util/hash-worker.js';
import { snapshotKey } from './layout.js';
import type { ManifestFile, SnapshotManifest } from './manifest.js';
import { RecordsDecoder, type DecodedRecords } from './records.js';

/** How to stage. */
export interface StageControl {
  verify: boolean;
  signal?: AbortSignal;
  progress?: ProgressReporter;
}

/** Total stored bytes of the data files of a chain (the unit of restore progress). */
export function chainBytes(chain: readonly SnapshotManifest[]): number {
  return chain.reduce((s, m) => s + m.files.reduce((t, f) => t + f.bytes, 0), 0);
}

function fileOf(m: SnapshotManifest, role: ManifestFile['role']): ManifestFile {
  return m.files.find((f) => f.role === role) as ManifestFile;
}

interface LinkData {
  records: DecodedRecords;
  /** Vectors of an incremental's entries (the base's go straight into the merge buffer). */
  vectors?: Float32Array;
}

/** Deflate's best ratio is ~1032:1; a gzip file claiming more raw bytes than this allows is not one. */
const MAX_INFLATE_RATIO = 1100;

/**
 * Bounds what a restore allocates by the bytes actually stored: the vectors file a manifest describes
 * must be there with the size it declares, and a compressed one cannot inflate to more than deflate
 * allows. (The manifest's own checksum cannot tell a crafted one that declares billions of entries.)
 */
async function checkVectorsPresent(ctx: SnapshotContext, m: SnapshotManifest, signal: AbortSignal | undefined): Promise<void> {
  const file = fileOf(m, 'vectors');
  const key = snapshotKey(m.id, file.name);
  const info = await ctx.store.stat(key, { signal });
  if (info === null) throw new CorruptionError({ file: ctx.store.locate(key), section: 'file' }, 'the file is missing from the snapshot');
  const bound = m.compression === 'none' ? info.size : info.size * MAX_INFLATE_RATIO + 1024;
  if (info.size !== file.bytes || file.rawBytes > bound) {
    throw new CorruptionError({ file: ctx.store.locate(key), section: 'file' }, `the manifest declares ${file.bytes} stored bytes (${file.rawBytes} raw) but ${info.size} are stored`);
  }
}

/** Reads, verifies and merges `chain` (newest first, as resolveChain returns it) into columns. */
export async function stageChain(ctx: SnapshotContext, chain: readonly SnapshotManifest[], ctl: StageControl): Promise<Columns> {
  const links = [...chain].reverse();
  const base = links[0];
  const dim = base.dimension;
  const capacity = links.reduce((s, m) => s + m.changedCount, 0);
  await ctx.io.map(links, (m) => checkVectorsPresent(ctx, m, ctl.signal));
  let buffer: Float32Array;
  // A verified, uncompressed base lands in shared memory: the SHA-256 helper thread hashes it in place
  // and, for a lone cosine snapshot, computes the norms the engine would otherwise compute here.
  const shared = ctl.verify && base.compression === 'none' && capacity * dim * 4 >= OFFLOAD_MIN_BYTES;
  const norms: NormsRequest | undefined = shared && links.length === 1 && base.metric === 'cosine' && HOST_IS_LITTLE_ENDIAN
    ? { dim, out: new Float64Array(new SharedArrayBuffer(capacity * 8)), complete: false }
    : undefined;
  try {
    buffer = new Float32Array(shared ? new SharedArrayBuffer(capacity * dim * 4) : new ArrayBuffer(capacity * dim * 4));
  } catch (err) {
    throw new QuiverError('LIMIT_EXCEEDED', `cannot allocate ${capacity * dim * 4} bytes to restore snapshot ${chain[0].id}; free memory or restore on a larger machine`, { id: chain[0].id }, { cause: err });
  }
  const sums = await ctx.io.map(links, (m) => readChecksums(ctx, m));
  let storedDone = 0;
  const onStored = (n: number): void => {
    storedDone += n;
    ctl.progress?.update(storedDone, 'reading snapshot files');
  };
  const data: LinkData[] = links.map(() => ({}) as LinkData);
  const tasks: { link: number; role: 'vectors' | 'metadata' }[] = [];
  links.forEach((_, i) => tasks.push({ link: i, role: 'metadata' }, { link: i, role: 'vectors' }));
  await ctx.io.map(tasks, async ({ link, role }) => {
    const m = links[link];
    const file = fileOf(m, role);
    const key = snapshotKey(m.id, file.name);
    const fctl = { compression: m.compression, sha256: ctl.verify ? sums[link].get(file.name) : undefined, signal: ctl.signal, onStored };
    try {
      if (role === 'metadata') {
        const dec = new RecordsDecoder(ctx.store.locate(key), file.rawBytes, {
          entries: m.changedCount, deleted: m.deletedCount, cleared: m.cleared, dimension: dim, keepMetadata: true, keepHashes: false,
        });
        await readDataFile(ctx.store, key, file, (c) => dec.push(c), fctl);
        data[link].records = dec.finish();
      } else {
        const target = link === 0 ? buffer.subarray(0, m.changedCount * dim) : new Float32Array(m.changedCount * dim);
        const bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
        if (file.rawBytes !== bytes.length) throw new CorruptionError({ file: ctx.store.locate(key), section: 'vectors' }, `declares ${file.rawBytes} raw bytes, ${bytes.length} expected`);
        let at = 0;
        await readDataFile(ctx.store, key, file, (c) => {
          if (at + c.length > bytes.length) throw new CorruptionError({ file: ctx.store.locate(key), section: 'vectors', offset: at }, `more than the ${bytes.length} bytes of vectors declared`);
          bytes.set(c, at);
          at += c.length;
        }, { ...fctl, into: bytes, norms: link === 0 ? norms : undefined });
        if (!HOST_IS_LITTLE_ENDIAN) swap32InPlace(bytes);
        if (link > 0) data[link].vectors = target;
      }
    } catch (err) {
      throw missingFile(ctx.store, key, err);
    }
  });
  const columns = merge(ctx, links, data, buffer);
  if (norms?.complete && columns.vectors === buffer) rememberNorms(buffer, norms.out);
  return columns;
}

function merge(ctx: SnapshotContext, links: readonly SnapshotManifest[], data: LinkData[], buffer: Float32Array): Columns {
  const base = links[0];
  const dim = base.dimension;
  // A lone full snapshot needs no merging (the engine rejects duplicate ids itself).
  if (links.length === 1) return { dimension: dim, metric: base.metric, ids: data[0].records.ids, vectors: buffer, metadata: data[0].records.metadata };
  const dup = (m: SnapshotManifest, id: Id): never => {
    throw new CorruptionError({ file: ctx.store.locate(snapshotKey(m.id, fileOf(m, 'metadata').name)), section: 'records' }, `the id ${JSON.stringify(id)} appears twice`);
  };
  const ids: Id[] = data[0].records.ids;
  const metadata: (Metadata | undefined)[] = data[0].records.metadata;
  const alive = new Uint8Array(buffer.length / dim || 0).fill(1, 0, ids.length);
  const at = new Map<Id, number>();
  for (let i = 0; i < ids.length; i++) {
    if (at.has(ids[i])) dup(base, ids[i]);
    at.set(ids[i], i);
  }
  let dead = 0;
  for (let l = 1; l < links.length; l++) {
    const r = data[l].records;
    const vec = data[l].vectors as Float32Array;
    if (r.header.cleared) {
      alive.fill(0, 0, ids.length);
      dead = ids.length;
      at.clear();
    }
    for (const id of r.deletedIds) {
      const i = at.get(id);
      if (i === undefined) continue;
      alive[i] = 0;
      dead++;
      at.delete(id);
    }
    const seen = new Set<Id>();
    for (let j = 0; j < r.ids.length; j++) {
      const id = r.ids[j];
      if (seen.has(id)) dup(links[l], id);
      seen.add(id);
      let i = at.get(id);
      if (i === undefined) {
        i = ids.length;
        ids.push(id);
        metadata.push(undefined);
        alive[i] = 1;
        at.set(id, i);
      }
      buffer.set(vec.subarray(j * dim, (j + 1) * dim), i * dim);
      metadata[i] = r.metadata[j];
    }
  }
  if (dead > 0) {
    let w = 0;
    for (let i = 0; i < ids.length; i++) {
      if (!alive[i]) continue;
      if (w !== i) {
        ids[w] = ids[i];
        metadata[w] = metadata[i];
        buffer.copyWithin(w * dim, i * dim, (i + 1) * dim);
      }
      w++;
    }
    ids.length = w;
    metadata.length = w;
  }
  const top = links[links.length - 1];
  if (ids.length !== top.vectorCount) {
    throw new CorruptionError({ file: ctx.store.locate(snapshotKey(top.id, 'metadata.json')), section: 'vectorCount' }, `the chain restores ${ids.length} entries, metadata.json records ${top.vectorCount}`);
  }
  return { dimension: dim, metric: base.metric, ids, vectors: buffer.subarray(0, ids.length * dim), metadata };
}
