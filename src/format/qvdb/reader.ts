/**
 * readQvdb and readQvdbInfo: load a .qvdb file into Columns (full) or DeltaColumns (delta), verifying
 * every checksum on the way, or describe it cheaply without reading the data sections.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Columns, DeltaColumns, Id, Metadata } from '../../engine/types.js';
import { prepareIds } from '../../engine/load.js';
import { PACKED, PackedMetadata, rememberPacked } from '../../engine/packed-metadata.js';
import { unpackPlainMapAt } from '../../util/msgpack.js';
import type { FileSystem } from '../../env/fs.js';
import { ProgressReporter, type ProgressCallback } from '../../util/progress.js';
import { Codec, MAX_MANIFEST_BYTES, SectionType } from './constants.js';
import type { Compression } from './codec.js';
import { FrameDecoder, plainMapItemExtents } from './frames.js';
import { sectionName, type DirectoryEntry } from './layout.js';
import { decodeManifest, type QvdbManifest } from './manifest.js';
import { isJsonValue, isPlainObject, jsonProblem } from './msgpack.js';
import { openQvdb, type OpenedQvdb } from './open.js';
import { checkPadding, readVectorSection, readWholeSection, streamSection, type SectionReadControl } from './sections.js';
import { throwIfAborted } from '../../util/abort.js';

/** Options of {@link readQvdb}. */
export interface ReadQvdbOptions {
  /** Verify the SHA-256 of every data section (default true). Header, footer, directory and manifest are always verified. */
  verifyChecksum?: boolean;
  /** Progress reports, operation 'load', counted in file bytes. */
  onProgress?: ProgressCallback;
  /** Aborting fails the load with ABORTED. */
  signal?: AbortSignal;
  /** Refuse (LIMIT_EXCEEDED) files whose decoded data sections exceed this many bytes. */
  maxBytes?: number;
  /**
   * Full, uncompressed files: allocate the vectors' buffer with zeroed room for this many more entries
   * after the loaded ones (see `vectorCapacity`), so a caller about to append does not copy the slab.
   */
  spareEntries?: number;
  /**
   * Full files: keep each entry's metadata map encoded, decoded when first read, for a caller that hands
   * the columns straight to `VectorDB.replaceAll` (which takes them over; no one else may read
   * `columns.metadata` then). Decoding ~100,000 small objects at load, and collecting them, was a third
   * of a checkpoint load's main-thread time. What is rejected, and how, does not change.
   */
  keepMetadataEncoded?: boolean;
}

/** What {@link readQvdb} returns: the decoded contents plus the manifest and file checksum. */
export type ReadQvdbResult =
  | {
    kind: 'full';
    manifest: QvdbManifest;
    columns: Columns;
    checksum: string;
    /** Entries the buffer behind `columns.vectors` has room for from its start (>= count; see `spareEntries`). */
    vectorCapacity: number;
  }
  | { kind: 'delta'; manifest: QvdbManifest; delta: DeltaColumns; checksum: string };

/** One section as {@link readQvdbInfo} describes it. */
export interface QvdbSectionInfo {
  section: string;
  type: number;
  compression: Compression;
  level: number;
  offset: number;
  storedLength: number;
  rawLength: number;
  /** Hex SHA-256 of the stored bytes. */
  sha256: string;
}

/** What {@link readQvdbInfo} returns. */
export interface QvdbInfo {
  kind: 'full' | 'delta';
  formatVersion: number;
  manifest: QvdbManifest;
  directory: QvdbSectionInfo[];
  /** File checksum: hex SHA-256 of the directory bytes. */
  checksum: string;
  /** File size in bytes. */
  bytes: number;
}

const CODEC_NAMES: Record<number, Compression> = { [Codec.NONE]: 'none', [Codec.GZIP]: 'gzip', [Codec.BROTLI]: 'brotli' };

function find(q: OpenedQvdb, type: number): DirectoryEntry {
  const e = q.entries.find((x) => x.type === type);
  if (!e) throw new CorruptionError({ file: q.file, section: 'directory', offset: q.directoryOffset }, `the required section "${sectionName(type)}" is missing`);
  return e;
}

async function readManifest(q: OpenedQvdb): Promise<QvdbManifest> {
  const e = find(q, SectionType.MANIFEST);
  return decodeManifest(await readWholeSection(q, e, MAX_MANIFEST_BYTES), q.file, q.kind, e.offset);
}

function recordFail(q: OpenedQvdb, e: DirectoryEntry) {
  // Offsets inside a compressed section are offsets of decoded bytes: report the section start instead.
  return (problem: string, rawOffset?: number, cause?: unknown): never => {
    const offset = e.codec === Codec.NONE && rawOffset !== undefined ? e.offset + rawOffset : e.offset;
    throw new CorruptionError({ file: q.file, section: sectionName(e.type), offset }, problem, 'CORRUPT', cause === undefined ? undefined : { cause });
  };
}

/**
 * Streams a record section, validating each item with `take`, and checks it holds exactly `expected`
 * items. A `raw` sink may take frames undecoded (appending their items to `out` itself), given the
 * number of items it may still take.
 */
async function readRecords<T>(q: OpenedQvdb, e: DirectoryEntry, expected: number, ctl: SectionReadControl, take: (item: unknown, i: number) => T, raw?: (frame: Uint8Array, index: number, room: number) => number | undefined, out: T[] = []): Promise<T[]> {
  const fail = recordFail(q, e);
  const dec = new FrameDecoder(e.rawLength, (items, index) => {
    if (index + items.length > expected) fail(`it holds more than the manifest's ${expected} items`);
    for (let i = 0; i < items.length; i++) out.push(take(items[i], index + i));
  }, fail, raw && ((frame, index) => raw(frame, index, expected - index)));
  await streamSection(q, e, ctl, (chunk) => dec.push(chunk));
  dec.end();
  if (dec.itemCount !== expected) fail(`it holds ${dec.itemCount} items, the manifest says ${expected}`, e.rawLength);
  return out;
}

function idTaker(q: OpenedQvdb, e: DirectoryEntry) {
  const fail = recordFail(q, e);
  return (v: unknown, i: number): Id => {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v))) return v;
    return fail(`item ${i} is ${typeof v}, not a string or integer id`);
  };
}

/** Reads the ids and builds their map at once, while the vectors are still being read (see prepareIds). */
async function readIdsAndPrepare(q: OpenedQvdb, e: DirectoryEntry, expected: number, ctl: SectionReadControl): Promise<Id[]> {
  const list = await readRecords(q, e, expected, ctl, idTaker(q, e));
  prepareIds(list);
  return list;
}

function metadataTaker(q: OpenedQvdb, e: DirectoryEntry) {
  const fail = recordFail(q, e);
  return (v: unknown, i: number): Metadata | undefined => {
    if (v === null) return undefined;
    if (isPlainObject(v) && isJsonValue(v)) return v;
    const problem = isPlainObject(v) ? jsonProblem(v, `metadata of entry ${i}`) : `metadata of entry ${i} is not a map or nil`;
    if (problem) fail(problem);
    return v as Metadata;
  };
}

/**
 * The metadata section with each entry's map kept encoded (cells PACKED, handed over with the array:
 * see rememberPacked). A frame is kept only when every item is nil or a plain map (see
 * plainMapItemExtents); any other frame, and one with more items than the manifest leaves room for, is
 * decoded and checked by `metadataTaker` as without the option, so what is rejected, and the error,
 * stay the same.
 */
async function readMetadataKept(q: OpenedQvdb, e: DirectoryEntry, expected: number, ctl: SectionReadControl): Promise<(Metadata | undefined)[]> {
  // Grown as frames arrive, never sized from the manifest's count alone: a crafted count (with
  // compressed sections, whose raw lengths cannot be held against the file's size) reserved GBs.
  const packed = new PackedMetadata(Math.min(expected, 4096));
  const out: (Metadata | undefined)[] = [];
  const ends: number[] = [];
  const raw = (frame: Uint8Array, index: number, room: number): number | undefined => {
    const items = plainMapItemExtents(frame, ends);
    if (items === undefined || items.count > room) return undefined;
    if (index + items.count > packed.capacity) packed.grow(Math.min(expected, Math.max(index + items.count, packed.capacity * 2)));
    const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    // The frame's maps are copied into the arena together, each kept where it landed (a copy per map
    // was a tenth of a checkpoint load's main-thread time); a frame too big for that is kept map by map.
    const span = packed.putSpan(buf, items.start, ends[items.count - 1]);
    let from = items.start;
    for (let i = 0; i < items.count; i++) {
      const to = ends[i];
      if (buf[from] === 0xc0) out.push(undefined);
      else if (span >= 0) {
        packed.keepAt(index + i, span + (from - items.start), to - from);
        out.push(PACKED);
      } else {
        // Encodings too large for the arena are decoded now (in place: the walk found them plain).
        out.push(packed.put(index + i, buf, from, to) ? PACKED : unpackPlainMapAt(buf, from, to));
      }
      from = to;
    }
    return items.count;
  };
  await readRecords(q, e, expected, ctl, metadataTaker(q, e), raw, out);
  // Every entry's metadata was there: room for all of them is bounded by the bytes read.
  packed.grow(expected);
  rememberPacked(out, packed);
  return out;
}

/**
 * Runs the section reads together, so decoding ids and metadata on this thread overlaps the vector
 * reads on libuv threads. The first failure stops the others (through the signal they are given) and
 * is the error reported; a caller's abort is reported as ABORTED.
 */
async function readConcurrently<T extends readonly Promise<unknown>[]>(outer: AbortSignal | undefined, start: (signal: AbortSignal) => T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const stop = new AbortController();
  const follow = (): void => stop.abort();
  outer?.addEventListener('abort', follow);
  try {
    const tasks = start(stop.signal).map((p) => p.catch((err: unknown) => {
      stop.abort();
      throw err;
    }));
    const settled = await Promise.allSettled(tasks);
    throwIfAborted(outer, 'the load was aborted; nothing was changed');
    const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    const cause = failures.find((err) => !(err instanceof QuiverError && err.code === 'ABORTED')) ?? failures[0];
    if (cause !== undefined) throw cause;
    return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
  } finally {
    outer?.removeEventListener('abort', follow);
  }
}

/**
 * Reads and verifies a .qvdb file. Damaged bytes raise CorruptionError naming the section; a file of
 * another format raises UNSUPPORTED_FORMAT, a newer version UNSUPPORTED_VERSION.
 */
export async function readQvdb(fs: FileSystem, path: string, opts: ReadQvdbOptions = {}): Promise<ReadQvdbResult> {
  throwIfAborted(opts.signal, 'the load was aborted before it started');
  const q = await openQvdb(fs, path);
  try {
    const progress = new ProgressReporter('load', q.size, opts.onProgress);
    const ctl: SectionReadControl = { verify: opts.verifyChecksum !== false, signal: opts.signal, progress };
    const manifest = await readManifest(q);
    progress.countItems(manifest.count);
    const ids = find(q, SectionType.IDS);
    const vec = find(q, SectionType.VECTORS);
    const meta = find(q, SectionType.METADATA);
    const del = q.kind === 'delta' ? find(q, SectionType.DELETED) : undefined;
    const floats = manifest.count * manifest.dimension;
    const spareWanted = opts.spareEntries ?? 0;
    if (!Number.isSafeInteger(spareWanted) || spareWanted < 0) throw new QuiverError('INVALID_ARGUMENT', `spareEntries must be a non-negative integer, got ${String(spareWanted)}`);
    const spare = q.kind === 'full' && vec.codec === Codec.NONE ? spareWanted : 0;
    if (!Number.isSafeInteger(floats * 4) || vec.rawLength !== floats * 4) {
      throw new CorruptionError({ file: q.file, section: 'vectors', offset: vec.offset }, `it holds ${vec.rawLength} bytes but count ${manifest.count} x dimension ${manifest.dimension} x 4 = ${floats * 4}`);
    }
    const decoded = [ids, vec, meta, del].reduce((s, e) => s + (e?.rawLength ?? 0), 0);
    if (opts.maxBytes !== undefined && decoded > opts.maxBytes) {
      throw new QuiverError('LIMIT_EXCEEDED', `${q.file} decodes to ${decoded} bytes, over maxBytes ${opts.maxBytes}; raise maxBytes to load it`, { file: q.file, bytes: decoded });
    }
    await checkPadding(q);
    const [idList, vectors, metadata, deletedIds] = await readConcurrently(opts.signal, (signal) => {
      const c: SectionReadControl = { ...ctl, signal };
      return [
        readIdsAndPrepare(q, ids, manifest.count, c),
        readVectorSection(q, vec, floats, c, spare * manifest.dimension, manifest.metric === 'cosine' && !del ? manifest.dimension : 0),
        opts.keepMetadataEncoded && !del ? readMetadataKept(q, meta, manifest.count, c) : readRecords(q, meta, manifest.count, c, metadataTaker(q, meta)),
        del ? readRecords(q, del, manifest.deletedCount ?? 0, c, idTaker(q, del)) : Promise.resolve([]),
      ] as const;
    });
    const columns: Columns = { dimension: manifest.dimension, metric: manifest.metric, ids: idList, vectors, metadata };
    if (!del) {
      progress.finish(`loaded ${manifest.count} entries`);
      return { kind: 'full', manifest, columns, checksum: q.checksum, vectorCapacity: manifest.count + spare };
    }
    progress.finish(`loaded a delta of ${manifest.count} upserts and ${deletedIds.length} deletes`);
    return { kind: 'delta', manifest, delta: { ...columns, cleared: manifest.cleared === true, deletedIds }, checksum: q.checksum };
  } finally {
    await q.handle.close().catch(() => undefined);
  }
}

/** Reads only header, footer, directory and manifest: what the file is, without loading its data. */
export async function readQvdbInfo(fs: FileSystem, path: string): Promise<QvdbInfo> {
  const q = await openQvdb(fs, path);
  try {
    const manifest = await readManifest(q);
    const directory = q.entries.map((e) => ({
      section: sectionName(e.type), type: e.type, compression: CODEC_NAMES[e.codec], level: e.level, offset: e.offset,
      storedLength: e.storedLength, rawLength: e.rawLength, sha256: Buffer.from(e.sha256).toString('hex'),
    }));
    return { kind: q.kind, formatVersion: q.header.version, manifest, directory, checksum: q.checksum, bytes: q.size };
  } finally {
    await q.handle.close().catch(() => undefined);
  }
}
