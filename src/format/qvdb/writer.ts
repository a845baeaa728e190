/**
 * writeQvdb: saves a CollectionImage (kind full) or a ChangeImage (kind delta) as one .qvdb file,
 * published atomically, with its sections in the order MANIFEST, VECTORS, IDS, METADATA, DELETED.
 * Vectors go from the image's chunks straight to the file; ids and metadata stream as frames (up to
 * FRAMES_AHEAD_BYTES of each encoded ahead). Never holds the whole database in one buffer.
 */
import { QuiverError } from '../../errors.js';
import type { ChangeImage, ChunkHold, CollectionImage } from '../../engine/types.js';
import { checkIdType } from '../../engine/validate.js';
import type { FileStat, FileSystem } from '../../env/fs.js';
import { publishAtomically } from '../../env/atomic.js';
import { DELTA_BYTES_PER_SYNC } from '../../env/background-sync.js';
import { ProgressReporter, type ProgressCallback } from '../../util/progress.js';
import { FileKind, FORMAT_VERSION, IO_CHUNK_BYTES, LIBRARY_VERSION, MAX_DIMENSION, SectionType, Codec } from './constants.js';
import { resolveCodec, type Compression } from './codec.js';
import { QvdbAssembler, type RawWrite } from './assembler.js';
import { FramesAhead, writeFrames } from './frames.js';
import { writeWithHashRetry } from '../../env/hash-retry.js';
import { OFFLOAD_MIN_BYTES } from '../../util/hash-worker.js';
import { encodeManifest, userMapProblem, type QvdbManifest } from './manifest.js';
import { isJsonValue, isPlainObject, jsonProblem } from './msgpack.js';
import { littleEndianBytes } from './endian.js';
import { throwIfAborted } from '../../util/abort.js';

/** Options of {@link writeQvdb}. */
export interface WriteQvdbOptions {
  /** Compression of the data sections (the manifest is always stored plain). Default 'none'. */
  compression?: Compression;
  /** Compression level: gzip 0..9 (default 6), brotli 0..11 (default 4). */
  level?: number;
  /** Caller's map stored in the manifest and returned verbatim by readers (plain JSON). */
  user?: Record<string, unknown>;
  /** Creation time in ms since the epoch (default now). */
  createdAt?: number;
  /** For deltas: the file checksum of the base the delta applies to. */
  baseChecksum?: string;
  /** Progress reports, operation 'save', counted in raw bytes. */
  onProgress?: ProgressCallback;
  /** Aborting fails the save with ABORTED; nothing is published. */
  signal?: AbortSignal;
  /** Publish only where no file is (BUSY otherwise, nothing published): see PublishOptions.noReplace. */
  noReplace?: boolean;
  /** Told the new file's stat just before it is published (see PublishOptions.onSealed). */
  onSealed?: (stat: FileStat) => void;
  /** Awaited before the written file is made durable; a rejection publishes nothing (see PublishOptions.ready). */
  ready?: Promise<unknown>;
}

/** What {@link writeQvdb} returns. `checksum` is the file checksum (hex SHA-256 of the directory). */
export interface WriteQvdbResult {
  path: string;
  bytes: number;
  checksum: string;
  count: number;
}

const METRICS: readonly string[] = ['cosine', 'euclidean', 'dot', 'manhattan'];

/** Bytes of id frames, and of metadata frames, encoded ahead while the vectors are written (the rest in their turn). */
const FRAMES_AHEAD_BYTES = 64 << 20;

function isChangeImage(image: CollectionImage | ChangeImage): image is ChangeImage {
  return 'sinceSeq' in image;
}

function invalid(message: string): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', message);
}

function buildManifest(image: CollectionImage | ChangeImage, opts: WriteQvdbOptions): QvdbManifest {
  const { dimension, count } = image;
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) throw invalid(`image dimension ${dimension} must be an integer 1..${MAX_DIMENSION}`);
  if (!METRICS.includes(image.metric)) throw invalid(`image metric ${JSON.stringify(image.metric)} must be one of ${METRICS.join(', ')}`);
  if (!Number.isSafeInteger(count) || count < 0 || image.ids.length !== count || image.metadata.length !== count) {
    throw invalid(`image count ${count} must equal its ${image.ids.length} ids and ${image.metadata.length} metadata entries`);
  }
  if (!Number.isSafeInteger(image.seq) || image.seq < 0) throw invalid(`image seq ${image.seq} must be a non-negative integer`);
  const createdAt = opts.createdAt ?? Date.now();
  if (!Number.isFinite(createdAt)) throw invalid('opts.createdAt must be a finite number of milliseconds');
  const user = opts.user ?? {};
  const userProblem = userMapProblem(user);
  if (userProblem) throw invalid(`${userProblem}; store only plain JSON there`);
  const m: QvdbManifest = {
    format: 'qvdb', formatVersion: FORMAT_VERSION, kind: 'full', dimension, metric: image.metric, count,
    seq: image.seq, createdAt, library: LIBRARY_VERSION, user,
  };
  if (isChangeImage(image)) {
    if (!Number.isSafeInteger(image.sinceSeq) || image.sinceSeq < 0) throw invalid(`image sinceSeq ${image.sinceSeq} must be a non-negative integer`);
    if (opts.baseChecksum !== undefined && typeof opts.baseChecksum !== 'string') throw invalid('opts.baseChecksum must be a string');
    m.kind = 'delta';
    m.sinceSeq = image.sinceSeq;
    m.cleared = image.cleared === true;
    m.deletedCount = image.deletedIds.length;
    m.baseChecksum = opts.baseChecksum ?? null;
  }
  return m;
}

function checkMetadata(m: unknown, i: number): unknown {
  if (m === undefined || m === null) return null;
  if (isPlainObject(m) && isJsonValue(m)) return m;
  const problem = isPlainObject(m) ? jsonProblem(m, `metadata of entry ${i}`) : `metadata of entry ${i} is not a plain object`;
  if (problem) throw new QuiverError('INVALID_METADATA', `${problem}; metadata must be plain JSON`);
  return m;
}

/** Metadata of a checked image (see CollectionImage.checked): only absent becomes null. */
function storedMetadata(m: unknown): unknown {
  return m ?? null;
}

/** Ids of a checked image are stored as they are. */
function storedId(id: unknown): unknown {
  return id;
}

async function writeVectors(image: CollectionImage, write: RawWrite, hold: ChunkHold | undefined): Promise<void> {
  const expected = image.count * image.dimension;
  const perChunk = Math.max(1, Math.floor(IO_CHUNK_BYTES / (image.dimension * 4)));
  let floats = 0;
  for (const chunk of image.vectorChunks(perChunk, hold)) {
    floats += chunk.length;
    if (floats > expected) break;
    if (chunk.length === 0) continue;
    const bytes = littleEndianBytes(chunk);
    await write(bytes, hold && (() => hold.keep(bytes)));
  }
  if (floats !== expected) throw invalid(`the image's vector chunks hold ${floats} floats, expected count x dimension = ${expected}`);
}

/**
 * Writes `image` to `path` atomically (temp file, fsync, rename, fsync directory). A ChangeImage
 * (detected by `'sinceSeq' in image`) makes a delta file. Returns size and file checksum.
 */
export async function writeQvdb(fs: FileSystem, path: string, image: CollectionImage | ChangeImage, opts: WriteQvdbOptions = {}): Promise<WriteQvdbResult> {
  const { codec, level } = resolveCodec(opts.compression, opts.level);
  const manifest = buildManifest(image, opts);
  const delta = isChangeImage(image) ? image : undefined;
  const total = image.count * image.dimension * 4 + image.count * 16 + (delta?.deletedIds.length ?? 0) * 16;
  const progress = new ProgressReporter('save', total, opts.onProgress);
  throwIfAborted(opts.signal, 'the save was aborted before it started; nothing was written');
  // Big uncompressed vector sections are hashed on the helper thread, and they come first: the calling
  // thread encodes the id and metadata frames that follow while the vectors are written.
  const offload = codec === Codec.NONE && image.count * image.dimension * 4 >= OFFLOAD_MIN_BYTES;
  const done = await publishAtomically(fs, path, (handle) => writeWithHashRetry(handle, offload, async (offloadHash) => {
    const asm = new QvdbAssembler(handle, { signal: opts.signal, progress });
    // The vectors' hash on the helper thread may lag behind their writes (and the sections after them)
    // only for chunks the image keeps unchanged until the digest is in; then they are given back.
    const hold = offloadHash ? image.holdChunks?.() : undefined;
    let keptIntact = true;
    const onHashed = hold && ((): void => {
      keptIntact = hold.intact;
      hold.release();
    });
    try {
      await asm.header(delta ? FileKind.DELTA : FileKind.FULL);
      await asm.section(SectionType.MANIFEST, Codec.NONE, 0, (w) => w(encodeManifest(manifest)));
      const budget = offloadHash ? FRAMES_AHEAD_BYTES : 0;
      // An engine image's ids and metadata were checked on insert: the per-entry checks (~0.3 ms per
      // 1,000 entries, on the critical path of a small delta) are for images built elsewhere.
      const ids = new FramesAhead(image.ids, image.checked ? storedId : (id, i) => checkIdType(id, 'entries[].id', i), budget);
      const metadata = new FramesAhead(image.metadata, image.checked ? storedMetadata : checkMetadata, budget);
      const ahead = ids.encodeAhead().then(() => metadata.encodeAhead());
      try {
        await asm.section(SectionType.VECTORS, codec, level, (w) => writeVectors(image, w, hold), { offloadHash, onHashed });
      } finally {
        ids.stop();
        metadata.stop();
        await ahead;
      }
      await asm.section(SectionType.IDS, codec, level, (w) => ids.write(w));
      await asm.section(SectionType.METADATA, codec, level, (w) => metadata.write(w));
      if (delta) await asm.section(SectionType.DELETED, codec, level, (w) => writeFrames(delta.deletedIds, image.checked ? storedId : (id, i) => checkIdType(id, 'deleted ids', i), w));
      const finished = await asm.finish();
      if (!keptIntact) {
        throw new QuiverError('CLOSED', `the image being saved to ${path} was released before its vectors were hashed, so their bytes may have changed; nothing was published. Release an image only after its save has finished.`, { path });
      }
      return finished;
    } catch (err) {
      asm.abandon();
      throw err;
    } finally {
      hold?.release();
    }
  }), { syncEveryBytes: delta ? DELTA_BYTES_PER_SYNC : undefined, noReplace: opts.noReplace === true, onSealed: opts.onSealed, signal: opts.signal, ready: opts.ready });
  progress.finishDone(`saved ${image.count} entries (${done.bytes} bytes)`);
  return { path, bytes: done.bytes, checksum: done.checksum, count: image.count };
}
