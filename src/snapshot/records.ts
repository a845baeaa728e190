/**
 * metadata.bin: the record stream of a snapshot, in the .qvdb record-stream framing (a sequence of
 * frames, each a little-endian u32 byte length and one MessagePack array of 1..65,536 items). The
 * items, in order:
 *
 *   1. one header map: { format: "quiver-snapshot-records", version: 1, contentHash: "quiver-content-v1",
 *      entries: U, deleted: D, cleared: boolean, dimension: d }
 *   2. U entry records `[id, metadata]`: id a string or a safe integer, metadata a map or nil; entry i
 *      owns floats [i*d, (i+1)*d) of vectors.bin
 *   3. D deleted ids (incremental snapshots only)
 *   4. content hashes: bin items whose bytes, concatenated, are U × 8 bytes: for entry i two
 *      little-endian u32 (lane A, lane B) of its content hash (content-hash.ts)
 *
 * Sections 1-3 never share a frame with each other; hash items follow the last id frame.
 */
import { CorruptionError } from '../errors.js';
import type { Id, Metadata } from '../engine/types.js';
import { checkIdType } from '../engine/validate.js';
import { FrameDecoder, writeFrames } from '../format/qvdb/frames.js';
import { isPlainObject } from '../format/qvdb/msgpack.js';
import { HOST_IS_LITTLE_ENDIAN, swap32InPlace } from '../format/qvdb/endian.js';
import { RECORDS_FORMAT } from './layout.js';

/** The header item of metadata.bin. */
export interface RecordsHeader {
  format: typeof RECORDS_FORMAT;
  version: 1;
  /** The content-hash algorithm of section 4 (content-hash.ts). */
  contentHash: typeof CONTENT_HASH;
  entries: number;
  deleted: number;
  cleared: boolean;
  dimension: number;
}

/** Name of the content-hash algorithm version 1 writers use. */
export const CONTENT_HASH = 'quiver-content-v1';

/** Entries per hash item (64 KiB of hashes). */
const HASHES_PER_ITEM = 8192;

/**
 * Writes a record stream. `hashes` resolves to the content hashes of the entries (2 lanes each) once
 * the vectors have been hashed, so the entries and ids can stream while the vectors are still read.
 */
export async function writeRecords(
  header: RecordsHeader,
  ids: readonly Id[],
  metadata: readonly (Metadata | undefined)[],
  deletedIds: readonly Id[],
  hashes: Promise<Uint32Array>,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  await writeFrames([header], (h) => h, write);
  await writeFrames(ids, (id, i) => [checkIdType(id, 'entries[].id', i), metadata[i] ?? null], write);
  await writeFrames(deletedIds, (id, i) => checkIdType(id, 'deleted ids', i), write);
  const h = await hashes;
  if (h.length !== ids.length * 2) throw new Error(`internal: ${h.length / 2} hashes for ${ids.length} entries`);
  const blocks: Uint8Array[] = [];
  for (let i = 0; i < ids.length; i += HASHES_PER_ITEM) {
    const part = h.subarray(2 * i, 2 * Math.min(ids.length, i + HASHES_PER_ITEM));
    const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength).slice();
    if (!HOST_IS_LITTLE_ENDIAN) swap32InPlace(bytes);
    blocks.push(bytes);
  }
  await writeFrames(blocks, (b) => b, write);
}

/** A decoded record stream. */
export interface DecodedRecords {
  header: RecordsHeader;
  ids: Id[];
  /** Empty unless `keepMetadata`. */
  metadata: (Metadata | undefined)[];
  deletedIds: Id[];
  /** 2 × entries lanes; empty unless `keepHashes`. */
  hashes: Uint32Array;
}

/** What the decoder must find (from the verified metadata.json) and what to keep. */
export interface RecordsExpectation {
  entries: number;
  deleted: number;
  cleared: boolean;
  dimension: number;
  keepMetadata: boolean;
  keepHashes: boolean;
}

/** Incremental decoder of metadata.bin: push raw (decompressed) bytes, then `finish()`. */
export class RecordsDecoder {
  private readonly frames: FrameDecoder;
  private header: RecordsHeader | undefined;
  private readonly ids: Id[] = [];
  private readonly metadata: (Metadata | undefined)[] = [];
  private readonly deletedIds: Id[] = [];
  /** Sized at the first hash item, by the entries actually decoded (never by a declared count). */
  private hashes = new Uint32Array(0);
  private hashBytes = 0;
  private rawOffset = 0;

  constructor(private readonly file: string, rawLength: number, private readonly want: RecordsExpectation) {
    this.frames = new FrameDecoder(rawLength, (items) => this.take(items), (problem, offset, cause) => this.fail(problem, offset, cause));
  }

  /** Feeds decompressed bytes (the decoder copies what it keeps). */
  push(chunk: Uint8Array): void {
    this.frames.push(chunk);
    this.rawOffset += chunk.length;
  }

  /** Checks the stream is complete and returns its contents. */
  finish(): DecodedRecords {
    this.frames.end();
    const w = this.want;
    if (!this.header) this.fail('the stream holds no header', 0);
    if (this.ids.length !== w.entries || this.deletedIds.length !== w.deleted || this.hashBytes !== w.entries * 8) {
      this.fail(`the stream ends early: ${this.ids.length}/${w.entries} entries, ${this.deletedIds.length}/${w.deleted} deleted ids, ${this.hashBytes}/${w.entries * 8} hash bytes`, this.rawOffset);
    }
    return { header: this.header as RecordsHeader, ids: this.ids, metadata: this.metadata, deletedIds: this.deletedIds, hashes: this.hashes };
  }

  private fail(problem: string, offset: number, cause?: unknown): never {
    throw new CorruptionError({ file: this.file, section: 'records', offset }, problem, 'CORRUPT', cause === undefined ? undefined : { cause });
  }

  private take(items: unknown[]): void {
    const w = this.want;
    let i = 0;
    if (!this.header) {
      const h = items[i++];
      if (!isPlainObject(h) || h.format !== RECORDS_FORMAT || h.version !== 1 || h.contentHash !== CONTENT_HASH) this.fail('the first item is not a version-1 records header', this.rawOffset);
      const hh = h as unknown as RecordsHeader;
      if (hh.entries !== w.entries || hh.deleted !== w.deleted || hh.cleared !== w.cleared || hh.dimension !== w.dimension) {
        this.fail(`the header (${hh.entries} entries, ${hh.deleted} deleted, cleared ${String(hh.cleared)}, dimension ${hh.dimension}) disagrees with metadata.json`, this.rawOffset);
      }
      this.header = hh;
    }
    for (; i < items.length; i++) {
      const item = items[i];
      if (this.ids.length < w.entries) {
        if (!Array.isArray(item) || item.length !== 2) this.fail(`entry ${this.ids.length} is not an [id, metadata] pair`, this.rawOffset);
        const [id, md] = item as [unknown, unknown];
        if (!(typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)))) this.fail(`entry ${this.ids.length} has an invalid id`, this.rawOffset);
        if (md !== null && !isPlainObject(md)) this.fail(`entry ${this.ids.length} has metadata that is not a map`, this.rawOffset);
        this.ids.push(id as Id);
        if (w.keepMetadata) this.metadata.push(md === null ? undefined : (md as Metadata));
      } else if (this.deletedIds.length < w.deleted) {
        if (!(typeof item === 'string' || (typeof item === 'number' && Number.isSafeInteger(item)))) this.fail(`deleted id ${this.deletedIds.length} is invalid`, this.rawOffset);
        this.deletedIds.push(item as Id);
      } else {
        if (!(item instanceof Uint8Array) || item.length % 8 !== 0 || this.hashBytes + item.length > w.entries * 8) {
          this.fail('an item after the ids is not a block of content hashes, or there are too many', this.rawOffset);
        }
        const bytes = item as Uint8Array;
        if (w.keepHashes) {
          // Every id was decoded before the first hash item: they exist in the stream, so this is bounded by its bytes.
          if (this.hashes.length === 0) this.hashes = new Uint32Array(this.ids.length * 2);
          const dst = new Uint8Array(this.hashes.buffer, this.hashBytes, bytes.length);
          dst.set(bytes);
          if (!HOST_IS_LITTLE_ENDIAN) swap32InPlace(dst);
        }
        this.hashBytes += bytes.length;
      }
    }
  }
}
