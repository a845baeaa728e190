/**
 * Frozen point-in-time views of a database for writers (full images and change images).
 *
 * Copy-on-write: an image remembers the slab it was opened on and which of its slots still hold its
 * bytes (`need`). Before the engine overwrites a slot in that slab (in-place replace, reuse of a freed
 * slot) it calls `ImageRegistry.preserve`, which copies just that vector into the image's side map.
 * Memory therefore grows only with the vectors actually overwritten.
 *
 * The engine never writes into an old slab: growth, `clear` and `replaceAll` install a new one, and an
 * open image keeps reading the old buffer (kept alive by its reference, not copied) until released.
 *
 * Zero-copy chunks are lent to the consumer, which may hand them to an asynchronous file write. While a
 * chunk is lent its slots cannot be overwritten in place even with a preserved copy, because the write
 * may still be reading them; the engine asks `isLent` and, if so, writes the new vector to another slot
 * (the id moves; its old slot is freed once no image lends it). A chunk is lent until the consumer asks
 * for the next, or, when the consumer keeps it through a hold (`holdChunks`), until the hold ends: a
 * writer whose hash of a chunk runs on another thread while it writes the next ones keeps each chunk it
 * hands to that thread until the digest is in.
 */
import { QuiverError } from '../errors.js';
import type { ChangeImage, ChunkHold, CollectionImage, Id, Metadata, Metric } from './types.js';
import { KeptBuffers } from '../util/kept-buffers.js';

/** Shortest run of untouched consecutive slots handed out zero-copy (shorter runs are copied). */
const ZERO_COPY_MIN = 64;

/** Largest walk buffer kept between walks. */
const KEPT_COPY_BYTES = 8 << 20;
/**
 * One copy buffer (up to KEPT_COPY_BYTES) kept between chunk walks: faulting in a fresh 1.5 MB buffer
 * (a 1% delta of 100,000 x 384) was a fifth of an incremental save on some virtual machines.
 */
const spareCopies = new KeptBuffers<Float32Array>(1, KEPT_COPY_BYTES);

/** What the engine passes to build an image. */
export interface ImageParts {
  dimension: number;
  metric: Metric;
  seq: number;
  slab: Float32Array;
  /** Slots of the view, in view order. */
  slots: Int32Array;
  ids: Id[];
  metadata: (Metadata | undefined)[];
  /** One past the highest slot in use when opened (size of the per-slot bitmap). */
  slotLimit: number;
  /** A full image's arrays (see {@link imageArrays}): behind `slots`, `ids`, `metadata` and the bitmap. */
  arrays?: ImageArrays;
  /** Give `arrays` back on release, for the next writer image. */
  recycle?: boolean;
}

/**
 * The arrays of a full image. A writer's are kept from one image to the next: filling 2.1 MB of fresh
 * ones per 100,000 entries (ids, metadata, slots, the per-slot bitmap) took ~5-10 ms of page faults
 * before a full save could write its first byte, and their allocation made the GC mark during the save.
 */
export interface ImageArrays {
  ids: Id[];
  metadata: (Metadata | undefined)[];
  /** Room for the slots (the image uses a prefix). */
  slots: Int32Array;
  /** Room for the per-slot bitmap (the image uses a prefix, zero when handed out). */
  need: Uint8Array;
  /** Approximate bytes held (KeptBuffers bounds on it). */
  byteLength: number;
}

/** Largest set of image arrays kept (about 3 million entries). */
const KEPT_ARRAY_BYTES = 64 << 20;
const spareArrays = new KeptBuffers<ImageArrays>(1, KEPT_ARRAY_BYTES);

/**
 * Arrays for a full image of `count` entries over `slotLimit` slots. `ids` and `metadata` have length
 * `count` (their elements are to be written) and `need` is zero over [0, slotLimit). With `reuse`
 * (a writer image, which gives them back on release) those of the last released one when they fit,
 * else new ones with an eighth of room to grow; without, new ones of exactly that size.
 */
export function imageArrays(count: number, slotLimit: number, reuse: boolean): ImageArrays {
  // A set much bigger than needed is left for a bigger image: shrinking a JS array's length to less
  // than half its room frees the rest, which the next big image would fault in again.
  const a = reuse ? spareArrays.take((b) => b.slots.length >= count && b.need.length >= slotLimit && b.slots.length <= 2 * count + 1024) : undefined;
  if (a !== undefined) {
    a.ids.length = count;
    a.metadata.length = count;
    a.need.fill(0, 0, slotLimit);
    return a;
  }
  // Room for an eighth more, so that a database that grows between saves still finds them big enough.
  const room = reuse ? count + (count >> 3) : count;
  const need = new Uint8Array(reuse ? slotLimit + (slotLimit >> 3) : slotLimit);
  const ids = new Array<Id>(room);
  const metadata = new Array<Metadata | undefined>(room);
  ids.length = count;
  metadata.length = count;
  return { ids, metadata, slots: new Int32Array(room), need, byteLength: room * 20 + need.length };
}

/** Gives back arrays from {@link imageArrays} once no image uses them; the references they hold are dropped now. */
function giveImageArrays(a: ImageArrays): void {
  a.ids.fill(undefined as unknown as Id);
  a.metadata.fill(undefined);
  spareArrays.give(a);
}

interface LentRange {
  start: number;
  end: number;
}

/** The set of open images of one database; held weakly so a forgotten image stops costing memory. */
export class ImageRegistry {
  private readonly refs = new Set<WeakRef<ViewImage>>();

  /** Number of images still open (and not garbage collected). */
  get size(): number {
    let n = 0;
    for (const r of this.refs) if (r.deref()) n++;
    return n;
  }

  /** Registers an image; returns the handle used to unregister it. */
  add(img: ViewImage): WeakRef<ViewImage> {
    const ref = new WeakRef(img);
    this.refs.add(ref);
    return ref;
  }

  /** Unregisters an image. */
  delete(ref: WeakRef<ViewImage>): void {
    this.refs.delete(ref);
  }

  /** True when some image has lent `slot` of `slab` to a consumer (it must not be overwritten now). */
  isLent(slab: Float32Array, slot: number): boolean {
    if (this.refs.size === 0) return false;
    for (const r of this.refs) if (r.deref()?.lends(slab, slot)) return true;
    return false;
  }

  /** Called before `slot` of `slab` is overwritten: every image that still needs it takes a copy. */
  preserve(slab: Float32Array, slot: number): void {
    if (this.refs.size === 0) return;
    for (const r of this.refs) {
      const img = r.deref();
      if (img) img.preserve(slab, slot);
      else this.refs.delete(r);
    }
  }
}

/** A full image: every entry present when it was opened. */
export class ViewImage implements CollectionImage {
  readonly dimension: number;
  readonly metric: Metric;
  readonly seq: number;
  readonly count: number;
  private idList: readonly Id[];
  private metadataList: readonly (Metadata | undefined)[];
  private recycled: ImageArrays | undefined;
  private slab: Float32Array | undefined;
  private readonly slots: Int32Array;
  private need: Uint8Array;
  private readonly saved = new Map<number, Float32Array>();
  private readonly lent = new Set<LentRange>();
  private readonly loans = new Set<ChunkLoan>();
  private readonly registry: ImageRegistry;
  private ref: WeakRef<ViewImage> | undefined;

  constructor(registry: ImageRegistry, parts: ImageParts) {
    this.dimension = parts.dimension;
    this.metric = parts.metric;
    this.seq = parts.seq;
    this.count = parts.slots.length;
    this.idList = parts.ids;
    this.metadataList = parts.metadata;
    this.recycled = parts.recycle ? parts.arrays : undefined;
    this.slab = parts.slab;
    this.slots = parts.slots;
    this.need = parts.arrays ? parts.arrays.need.subarray(0, parts.slotLimit) : new Uint8Array(parts.slotLimit);
    for (let i = 0; i < parts.slots.length; i++) this.need[parts.slots[i]] = 1;
    this.registry = registry;
    if (this.count > 0) this.ref = registry.add(this);
  }

  /** Ids in view order (empty once released when its arrays are reused, see `VectorDB.openWriterImage`). */
  get ids(): readonly Id[] {
    return this.idList;
  }

  /** Metadata in view order (likewise). */
  get metadata(): readonly (Metadata | undefined)[] {
    return this.metadataList;
  }

  /** Number of vectors copied aside because the database overwrote them (diagnostics and tests). */
  get preservedCount(): number {
    return this.saved.size;
  }

  /** True after `release()`. */
  get released(): boolean {
    return this.slab === undefined;
  }

  /** Engine hook: does a consumer currently hold a zero-copy chunk covering `slot` of `slab`? */
  lends(slab: Float32Array, slot: number): boolean {
    if (slab !== this.slab || (this.lent.size === 0 && this.loans.size === 0)) return false;
    for (const r of this.lent) if (slot >= r.start && slot < r.end) return true;
    for (const loan of this.loans) if (loan.covers(slot)) return true;
    return false;
  }

  /** Engine hook: `slot` of `slab` is about to be overwritten; keep a copy if this view still needs it. */
  preserve(slab: Float32Array, slot: number): void {
    if (slab !== this.slab || slot >= this.need.length || this.need[slot] !== 1) return;
    const d = this.dimension;
    this.saved.set(slot, slab.slice(slot * d, (slot + 1) * d));
    this.need[slot] = 0;
  }

  vectorChunks(maxEntries: number, hold?: ChunkHold): Iterable<Float32Array> {
    if (typeof maxEntries !== 'number' || !Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new QuiverError('INVALID_ARGUMENT', `vectorChunks(maxEntries) needs a positive integer, got ${String(maxEntries)}`);
    }
    this.liveSlab();
    // Another image's hold, or one that ended, is offered nothing: its `keep` then answers false.
    return this.chunks(maxEntries, hold instanceof ChunkLoan && this.loans.has(hold) ? hold : undefined);
  }

  holdChunks(): ChunkHold {
    const loan = new ChunkLoan(this.liveSlab(), this.dimension, (l) => this.loans.delete(l));
    this.loans.add(loan);
    return loan;
  }

  release(): void {
    if (this.ref) this.registry.delete(this.ref);
    this.ref = undefined;
    this.slab = undefined;
    this.saved.clear();
    for (const loan of [...this.loans]) loan.end(true);
    this.lent.clear();
    this.need = new Uint8Array(0);
    const a = this.recycled;
    this.recycled = undefined;
    if (a) {
      this.idList = [];
      this.metadataList = [];
      giveImageArrays(a);
    }
  }

  private liveSlab(): Float32Array {
    if (this.slab === undefined) {
      throw new QuiverError('CLOSED', 'this image was released; open a new image to read the database again');
    }
    return this.slab;
  }

  // Length (≤ cap) of the run of consecutive, untouched slots starting at view position p.
  private runAt(p: number, cap: number): number {
    const s0 = this.slots[p];
    if (this.need[s0] !== 1) return 0;
    let r = 1;
    while (r < cap && this.slots[p + r] === s0 + r && this.need[s0 + r] === 1) r++;
    return r;
  }

  private *chunks(maxEntries: number, loan: ChunkLoan | undefined): Generator<Float32Array, void, undefined> {
    const d = this.dimension;
    const slots = this.slots;
    const n = slots.length;
    const range: LentRange = { start: -1, end: -1 };
    let scratch: Float32Array | undefined;
    let p = 0;
    try {
      while (p < n) {
        const slab = this.liveSlab();
        const want = Math.min(maxEntries, n - p);
        const run = this.runAt(p, want);
        if (run === want || run >= ZERO_COPY_MIN) {
          const s0 = slots[p];
          range.start = s0;
          range.end = s0 + run;
          this.lent.add(range);
          loan?.offer(s0, run);
          yield slab.subarray(s0 * d, (s0 + run) * d);
          loan?.offer(-1, 0);
          this.lent.delete(range);
          p += run;
          continue;
        }
        if (scratch === undefined) {
          const floats = Math.min(maxEntries, n) * d;
          // A new buffer gets room for a power of two of entries: deltas of about the same size (995,
          // then 1,003 entries) then reuse it instead of each faulting in fresh pages (~4 ms per 1.5 MB).
          const room = Math.min(maxEntries, 2 ** Math.ceil(Math.log2(Math.min(maxEntries, n)))) * d;
          scratch = spareCopies.take((b) => b.length >= floats) ?? new Float32Array(room * 4 <= KEPT_COPY_BYTES ? room : floats);
        }
        let m = 0;
        while (p < n && m < maxEntries) {
          const s = slots[p];
          if (this.need[s] !== 1) {
            scratch.set(this.saved.get(s) as Float32Array, m * d);
            m++;
            p++;
            continue;
          }
          const r = this.runAt(p, maxEntries - m);
          if (m > 0 && r >= ZERO_COPY_MIN) break;
          scratch.set(slab.subarray(s * d, (s + r) * d), m * d);
          m += r;
          p += r;
        }
        yield scratch.subarray(0, m * d);
      }
    } finally {
      loan?.offer(-1, 0);
      this.lent.delete(range);
      // The consumer is done with every chunk once the walk ends (each is valid only until the next).
      if (scratch) spareCopies.give(scratch);
    }
  }
}

/**
 * A hold of one walk over a ViewImage (see CollectionImage.holdChunks). The walk offers it each
 * zero-copy chunk while that chunk is current; a kept chunk's slots join the loan's ranges (adjacent
 * ones merged, so a contiguous slab is one range) and stay lent until the loan ends.
 */
class ChunkLoan implements ChunkHold {
  private ended = false;
  private broken = false;
  private readonly ranges: LentRange[] = [];
  /** Whether `ranges` ascend (walks of full images do), so that `covers` can search them by halves. */
  private ascending = true;
  private offered = -1;
  private offeredCount = 0;

  constructor(
    private readonly slab: Float32Array,
    private readonly dimension: number,
    private readonly onEnd: (loan: ChunkLoan) => void,
  ) {}

  get intact(): boolean {
    return !this.broken;
  }

  /** The walk's current zero-copy chunk: `count` slots from `slot` (slot -1: none). */
  offer(slot: number, count: number): void {
    this.offered = slot;
    this.offeredCount = count;
  }

  keep(bytes: ArrayBufferView): boolean {
    if (this.ended || this.offered < 0 || bytes.buffer !== this.slab.buffer) return false;
    const entryBytes = this.dimension * 4;
    if (bytes.byteOffset !== this.slab.byteOffset + this.offered * entryBytes || bytes.byteLength !== this.offeredCount * entryBytes) return false;
    const start = this.offered;
    const end = start + this.offeredCount;
    const last = this.ranges.at(-1);
    if (last !== undefined && start >= last.start && end <= last.end) return true; // kept already
    if (last !== undefined && last.end === start) last.end = end;
    else {
      if (last !== undefined && start < last.end) this.ascending = false;
      this.ranges.push({ start, end });
    }
    return true;
  }

  /** True when a kept chunk covers `slot`. */
  covers(slot: number): boolean {
    const r = this.ranges;
    if (!this.ascending) return r.some((x) => slot >= x.start && slot < x.end);
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid].end <= slot) lo = mid + 1;
      else hi = mid;
    }
    return lo < r.length && slot >= r[lo].start;
  }

  release(): void {
    this.end(false);
  }

  /** Ends the loan; `imageReleased`: its image went first, so kept chunks may have changed since. */
  end(imageReleased: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.broken = imageReleased && this.ranges.length > 0;
    this.ranges.length = 0;
    this.offered = -1;
    this.onEnd(this);
  }
}

/** The entries changed since a sequence number, plus deletions: a `ViewImage` restricted to them. */
export class DeltaImage extends ViewImage implements ChangeImage {
  // Every entry of a delta was written by insert, insertBatch or updateMetadata, which check ids and
  // deep-copy checked metadata, or by a store's log replay during open, which adopts metadata that was
  // checked when it was logged and decoded from its checksummed record (and no delta is taken back to
  // before an open). replaceAll and applyDelta, which adopt metadata as it is, restart change tracking,
  // so no delta reaches back to what they adopted. (A full image may.)
  readonly checked = true;
  readonly sinceSeq: number;
  readonly cleared: boolean;
  readonly deletedIds: readonly Id[];
  readonly total: number;

  constructor(registry: ImageRegistry, parts: ImageParts, sinceSeq: number, cleared: boolean, deletedIds: Id[], total: number) {
    super(registry, parts);
    this.sinceSeq = sinceSeq;
    this.cleared = cleared;
    this.deletedIds = deletedIds;
    this.total = total;
  }
}
