/**
 * Metadata kept in the MessagePack encoding it was logged or saved in, decoded the first time it is
 * read. Log replay adopts metadata this way: decoding ~100,000 small objects and keeping them alive
 * through the young generation was a fifth of a replay, and many entries are never read before the next
 * checkpoint. Loads of a .qvdb file into the engine do the same (see readQvdb's keepMetadataEncoded).
 */
import { unpackPlainMapAt } from '../util/msgpack.js';
import { copyBytes } from '../util/copy-bytes.js';
import type { Metadata } from './types.js';

/**
 * Bytes per arena chunk. Chunks are never copied or grown (doubling one arena faulted in twice the
 * memory it ended with); a slot's place is `chunk * CHUNK_BYTES + offset`.
 */
const CHUNK_BYTES = 1 << 20;
/** Encodings larger than this are not kept (the caller decodes them at once). */
export const MAX_KEPT_BYTES = CHUNK_BYTES >>> 4;
const FREED = Buffer.alloc(0);

/**
 * Stands in the metadata cell of an entry whose metadata is still encoded in a {@link PackedMetadata}
 * (the engine reads such cells through `SlotStore.metaAt`; nothing else ever sees one).
 */
export const PACKED: Metadata = Object.freeze({});

const handedOver = new WeakMap<readonly unknown[], PackedMetadata>();

/**
 * Records that the PACKED cells of `metadata` (a reader's fresh result, entry i at slot i) are kept
 * in `packed`; `VectorDB.replaceAll` takes both (see {@link takePacked}).
 */
export function rememberPacked(metadata: readonly unknown[], packed: PackedMetadata): void {
  handedOver.set(metadata, packed);
}

/** The PackedMetadata remembered for exactly this array (once: the record is dropped), or undefined. */
export function takePacked(metadata: readonly unknown[]): PackedMetadata | undefined {
  const p = handedOver.get(metadata);
  if (p) handedOver.delete(metadata);
  return p;
}

/**
 * Encoded metadata of some slots: the bytes in arena chunks, each slot's place in them. A chunk is
 * freed once none of its encodings is still kept (a log that rewrites the same ids keeps only what is
 * live, plus the chunk being filled), and filling starts over when nothing at all is kept.
 */
export class PackedMetadata {
  private chunks: Buffer[] = [];
  /** Encodings still kept in each chunk. */
  private chunkLive: number[] = [];
  /** Bytes used in the last chunk. */
  private used = CHUNK_BYTES;
  private held = 0;
  private place: Float64Array;
  private length: Uint32Array;
  /** Slots whose metadata is still encoded here. */
  live = 0;

  constructor(capacity: number) {
    this.place = new Float64Array(capacity);
    this.length = new Uint32Array(capacity);
  }

  /** Bytes held (the chunks not freed, including bytes of encodings no longer kept). */
  get byteLength(): number {
    return this.held * CHUNK_BYTES + this.place.byteLength + this.length.byteLength;
  }

  /** Slots there is room for. */
  get capacity(): number {
    return this.place.length;
  }

  /** Makes room for slots below `capacity`. */
  grow(capacity: number): void {
    if (capacity <= this.place.length) return;
    const place = new Float64Array(capacity);
    place.set(this.place);
    const length = new Uint32Array(capacity);
    length.set(this.length);
    this.place = place;
    this.length = length;
  }

  /**
   * Copies buf[from, to) as the encoded metadata of `slot` (whose previous encoding, if any, was taken
   * or released). Returns false, keeping nothing, when it is longer than MAX_KEPT_BYTES.
   */
  put(slot: number, buf: Buffer, from: number, to: number): boolean {
    const place = this.putSpan(buf, from, to);
    if (place < 0) return false;
    this.keepAt(slot, place, to - from);
    return true;
  }

  /**
   * Copies buf[from, to), the encodings of several slots laid end to end (a frame of a .qvdb metadata
   * section), into the arena in one copy, for {@link keepAt} to place each slot in; returns the arena
   * place of `from`, or -1 (nothing copied) when the span is longer than MAX_KEPT_BYTES.
   */
  putSpan(buf: Buffer, from: number, to: number): number {
    const n = to - from;
    if (n > MAX_KEPT_BYTES) return -1;
    if (this.used + n > CHUNK_BYTES) {
      this.chunks.push(Buffer.allocUnsafeSlow(CHUNK_BYTES));
      this.chunkLive.push(0);
      this.held++;
      this.used = 0;
    }
    const last = this.chunks.length - 1;
    const chunk = this.chunks[last];
    const at = this.used;
    // Most metadata is a few dozen bytes: a loop is cheaper than the view Buffer#copy makes.
    if (n <= 256) for (let i = 0; i < n; i++) chunk[at + i] = buf[from + i];
    else copyBytes(buf, from, to, chunk, at);
    this.used = at + n;
    return last * CHUNK_BYTES + at;
  }

  /**
   * Keeps the `length` bytes at arena `place`, inside a span just copied by {@link putSpan}, as the
   * encoded metadata of `slot` (whose previous encoding, if any, was taken or released).
   */
  keepAt(slot: number, place: number, length: number): void {
    this.place[slot] = place;
    this.length[slot] = length;
    this.chunkLive[Math.floor(place / CHUNK_BYTES)]++;
    this.live++;
  }

  /** Decodes the metadata of `slot` and stops keeping its encoding. */
  take(slot: number): Metadata {
    const place = this.place[slot];
    const c = Math.floor(place / CHUNK_BYTES);
    const at = place - c * CHUNK_BYTES;
    const decoded = unpackPlainMapAt(this.chunks[c], at, at + this.length[slot]);
    this.release(slot);
    return decoded;
  }

  /** Stops keeping the encoded metadata of `slot` (replaced or removed without being read). */
  release(slot: number): void {
    const c = Math.floor(this.place[slot] / CHUNK_BYTES);
    this.live--;
    if (--this.chunkLive[c] > 0) return;
    const last = this.chunks.length - 1;
    if (c < last) {
      this.chunks[c] = FREED;
      this.held--;
    } else if (this.live === 0) {
      // Nothing is kept anywhere: fill the last chunk from its start again.
      this.used = 0;
    }
  }
}
