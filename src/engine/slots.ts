/**
 * The engine's columns: one growable float32 slab (slot i at [i*dim, (i+1)*dim)), per-slot norms (cosine
 * only), last-modified seq, metadata and id, the id -> slot map and a free-slot stack. Everything that
 * overwrites vector bytes goes through here, so copy-on-write for open images happens in one place.
 */
import { QuiverError } from '../errors.js';
import { normAt } from './distance.js';
import type { ImageRegistry } from './image.js';
import { OFFLOAD_MIN_BYTES, startPrefault, type Prefault } from '../util/hash-worker.js';
import { estimateJsonBytes } from './metadata.js';
import { PACKED, PackedMetadata } from './packed-metadata.js';
import { unpackPlainMapAt } from '../util/msgpack.js';
import type { Id, Metadata, MetadataBytes, Metric } from './types.js';
import { UpsertLog } from './upsert-log.js';

/** Rough per-entry bookkeeping cost (map entry, array slots) used by the memory estimate. */
const ENTRY_OVERHEAD = 64;

/**
 * How far ahead of one-at-a-time appends the helper thread faults in the slab's fresh room. Bounded, so
 * that the room a doubling reserved is made resident only shortly before it is used.
 */
export const APPEND_PREFAULT_BYTES = 32 << 20;

function idBytes(id: Id): number {
  return typeof id === 'string' ? 16 + 2 * id.length : 8;
}

/** Slot storage; fields are read directly by search and image code in this folder. */
export class SlotStore {
  slab: Float32Array;
  /** Norm of each slot's vector (cosine only; empty otherwise). */
  norms: Float64Array;
  /** Seq of the last upsert into each slot. */
  slotSeq: Float64Array;
  /** The slots upserted recently, for change views that should not scan every slot. */
  readonly upserts = new UpsertLog();
  ids: (Id | undefined)[] = [];
  /** Each slot's metadata, or PACKED while it is encoded in `packed`: read it through `metaAt`. */
  private meta: (Metadata | undefined)[] = [];
  private packed: PackedMetadata | undefined;
  idMap = new Map<Id, number>();
  free: number[] = [];
  /** One past the highest slot ever used since the last reset. */
  highWater = 0;
  count = 0;
  capacity: number;
  readonly cosine: boolean;
  private metaSize: Float64Array;
  private metaTotal = 0;
  private metaStale = false;
  private idTotal = 0;
  /** A prefault of the slab in progress, the slot its region starts at and the slot it ends before. */
  private prefault: Prefault | undefined;
  private prefaultBase = 0;
  private prefaultEnd = 0;
  /** The prefault covers room reserved for a bulk fill (prefaultTail), not a stretch ahead of appends. */
  private bulkPrefault = false;
  /** Slots in APPEND_PREFAULT_BYTES. */
  private readonly aheadSlots: number;

  constructor(
    readonly dim: number,
    metric: Metric,
    private readonly initialCapacity: number,
    private readonly images: ImageRegistry,
  ) {
    this.cosine = metric === 'cosine';
    this.aheadSlots = Math.max(1, Math.floor(APPEND_PREFAULT_BYTES / (dim * 4)));
    this.capacity = 0;
    this.slab = new Float32Array(0);
    this.norms = new Float64Array(0);
    this.slotSeq = new Float64Array(0);
    this.metaSize = new Float64Array(0);
    this.reset();
  }

  /** Empties the store onto a fresh slab (open images keep the old one); `seq` is the seq it is emptied at. */
  reset(seq = 0): void {
    this.allocate(this.initialCapacity);
    this.upserts.restart(seq);
    this.ids = [];
    this.meta = [];
    this.packed = undefined;
    this.idMap = new Map();
    this.free = [];
    this.highWater = 0;
    this.count = 0;
    this.metaTotal = 0;
    this.metaStale = false;
    this.idTotal = 0;
  }

  private allocate(capacity: number): void {
    this.stopPrefault();
    try {
      const bytes = capacity * this.dim * 4;
      // Big slabs live in shared memory so that writers can have them hashed on a helper thread
      // without copying (loads already hand the engine shared slabs; both behave the same here).
      this.slab = new Float32Array(bytes >= OFFLOAD_MIN_BYTES ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    } catch (err) {
      throw new QuiverError('LIMIT_EXCEEDED', `cannot allocate room for ${capacity} vectors of dimension ${this.dim}: ${(err as Error).message}`, {}, { cause: err });
    }
    this.capacity = capacity;
    this.norms = new Float64Array(this.cosine ? capacity : 0);
    this.slotSeq = new Float64Array(capacity);
    this.metaSize = new Float64Array(capacity);
  }

  /** Makes room for at least `slots` slots, doubling so that appends stay amortised O(1). */
  ensureCapacity(slots: number): void {
    if (slots <= this.capacity) return;
    const old = { slab: this.slab, norms: this.norms, slotSeq: this.slotSeq, metaSize: this.metaSize };
    this.allocate(Math.max(slots, this.capacity * 2, 4));
    const used = this.highWater;
    this.slab.set(old.slab.subarray(0, used * this.dim));
    if (this.cosine) this.norms.set(old.norms.subarray(0, used));
    this.slotSeq.set(old.slotSeq.subarray(0, used));
    this.metaSize.set(old.metaSize.subarray(0, used));
    this.packed?.grow(this.capacity);
  }

  /** A slot to write a new vector into: a freed one (after images copied what they need) or a new one. */
  private takeSlot(): number {
    const n = this.free.length;
    if (n > 0) {
      const s = this.free[n - 1];
      if (!this.images.isLent(this.slab, s)) {
        this.free.pop();
        this.images.preserve(this.slab, s);
        return s;
      }
    }
    this.ensureCapacity(this.highWater + 1);
    const slot = this.highWater++;
    if (!this.bulkPrefault && slot + this.aheadSlots / 2 >= this.prefaultEnd) this.prefaultAhead(slot);
    this.prefault?.advance((slot - this.prefaultBase) * this.dim);
    return slot;
  }

  /**
   * Appends write fresh pages of the slab one vector at a time; on machines where a first touch of a
   * page is slow (see util/prefault-pages.ts) that was a third of a single insert's time. The helper
   * thread faults in the next stretch of room ahead of them, started again halfway through it.
   */
  private prefaultAhead(slot: number): void {
    const end = Math.min(this.capacity, slot + this.aheadSlots);
    if (end <= this.prefaultEnd) return;
    if (!(this.slab.buffer instanceof SharedArrayBuffer)) {
      // Not shared (small): nothing to prefault until the slab is reallocated (which resets the end).
      this.prefaultEnd = this.capacity;
      return;
    }
    this.stopPrefault();
    this.prefault = startPrefault(new Int32Array(this.slab.buffer, this.slab.byteOffset + slot * this.dim * 4, (end - slot) * this.dim));
    this.prefaultBase = slot;
    this.prefaultEnd = end;
  }

  /**
   * Faults in the slab's unused room on the helper thread, just ahead of appends (see
   * util/prefault-pages.ts), until `stopPrefault` or a reallocation. For bulk appends into reserved room.
   */
  prefaultTail(): void {
    this.stopPrefault();
    const from = this.highWater * this.dim;
    const words = this.capacity * this.dim - from;
    if (words <= 0) return;
    this.prefault = startPrefault(new Int32Array(this.slab.buffer, this.slab.byteOffset + from * 4, words));
    this.prefaultBase = this.highWater;
    this.prefaultEnd = this.capacity;
    this.bulkPrefault = true;
  }

  /**
   * Ends a prefault ahead of appends (a bulk one keeps running): a writer about to hash or copy the
   * slab on the helper thread should not queue behind it. The next append starts a new one.
   */
  yieldPrefault(): void {
    if (!this.bulkPrefault) this.stopPrefault();
  }

  /** The slots `[from, end)` a prefault is running over, if any (for tests). */
  get prefaultRange(): readonly [number, number] | undefined {
    return this.prefault ? [this.prefaultBase, this.prefaultEnd] : undefined;
  }

  /** Ends a prefault started by `prefaultTail` or by appends (no-op without one). */
  stopPrefault(): void {
    this.prefault?.stop();
    this.prefault = undefined;
    this.prefaultEnd = 0;
    this.bulkPrefault = false;
  }

  /**
   * Inserts or replaces `id` with the vector `src[srcOff .. srcOff+dim)` (already validated) and `meta`.
   * A replaced id keeps its slot unless an image has lent that slot to a writer. Returns the slot.
   */
  upsert(id: Id, src: ArrayLike<number>, srcOff: number, meta: Metadata | undefined, metaBytes: number, seq: number): number {
    let slot = this.idMap.get(id);
    if (slot === undefined) {
      slot = this.takeSlot();
      this.ids[slot] = id;
      this.idMap.set(id, slot);
      this.count++;
      this.idTotal += idBytes(id);
    } else if (this.images.isLent(this.slab, slot)) {
      // A writer may be reading this slot's bytes right now: move the id instead of overwriting.
      const old = slot;
      slot = this.takeSlot();
      this.ids[old] = undefined;
      this.dropMeta(old);
      this.metaTotal -= this.metaSize[old];
      this.metaSize[old] = 0;
      this.free.push(old);
      this.ids[slot] = id;
      this.idMap.set(id, slot);
    } else {
      this.images.preserve(this.slab, slot);
    }
    this.writeVector(slot, src, srcOff);
    this.setMeta(slot, meta, metaBytes, seq);
    return slot;
  }

  private writeVector(slot: number, src: ArrayLike<number>, srcOff: number): void {
    const d = this.dim;
    const o = slot * d;
    const slab = this.slab;
    if (src instanceof Float32Array) slab.set(srcOff === 0 && src.length === d ? src : src.subarray(srcOff, srcOff + d), o);
    else for (let j = 0; j < d; j++) slab[o + j] = src[srcOff + j];
    if (this.cosine) this.norms[slot] = normAt(slab, o, d);
  }

  /** Replaces a slot's metadata (the vector is untouched) and stamps its seq. */
  setMeta(slot: number, meta: Metadata | undefined, metaBytes: number, seq: number): void {
    this.dropMeta(slot);
    this.meta[slot] = meta;
    this.metaTotal += metaBytes - this.metaSize[slot];
    this.metaSize[slot] = metaBytes;
    this.slotSeq[slot] = seq;
    this.upserts.record(slot, seq, this.highWater);
  }

  /** The metadata of `slot`, decoded now if it was kept encoded. */
  metaAt(slot: number): Metadata | undefined {
    const m = this.meta[slot];
    if (m !== PACKED) return m;
    const packed = this.packed!;
    const decoded = packed.take(slot);
    this.meta[slot] = decoded;
    // Its size was counted with the encodings: have it estimated as an object now.
    this.metaStale = true;
    // Reads after a replay decode the rest: let the chunks go with the last of them.
    if (packed.live === 0) this.packed = undefined;
    return decoded;
  }

  /**
   * Keeps `bytes` (copied) as the metadata of `slot`, which was just upserted without metadata:
   * decoded on first read (log replay; see packed-metadata.ts), or now when they are large. The size
   * estimate counts the bytes.
   */
  keepEncoded(slot: number, bytes: MetadataBytes): void {
    const packed = (this.packed ??= new PackedMetadata(this.capacity));
    this.meta[slot] = packed.put(slot, bytes.buf, bytes.start, bytes.end) ? PACKED : unpackPlainMapAt(bytes.buf, bytes.start, bytes.end);
  }

  /**
   * Empties the metadata cell of `slot`, letting go of its encoding if it had one (the arena stays:
   * a replay that rewrites the same ids keeps filling it).
   */
  private dropMeta(slot: number): void {
    if (this.meta[slot] === PACKED) this.packed!.release(slot);
    this.meta[slot] = undefined;
  }

  /** Removes `id`; its bytes stay in the slab (images may still read them) until the slot is reused. */
  remove(id: Id): boolean {
    const slot = this.idMap.get(id);
    if (slot === undefined) return false;
    this.idMap.delete(id);
    this.ids[slot] = undefined;
    this.dropMeta(slot);
    this.metaTotal -= this.metaSize[slot];
    this.metaSize[slot] = 0;
    this.free.push(slot);
    this.count--;
    this.idTotal -= idBytes(id);
    return true;
  }

  /**
   * Adopts validated columns as the whole content: `vectors` becomes the slab without copying (it may
   * be longer than `ids.length` entries: the rest is spare capacity). Cells of `metadata` that are
   * PACKED are kept encoded in `packed` (slot i = entry i).
   * `idMap` must be the inverse of `ids` (the caller builds it while checking for duplicates).
   */
  adopt(ids: Id[], idMap: Map<Id, number>, vectors: Float32Array, metadata: (Metadata | undefined)[], norms: Float64Array, seq: number, packed?: PackedMetadata): void {
    const n = ids.length;
    // `vectors` may hold room for more entries than given (zeroed, unused): adopt it as capacity.
    const capacity = Math.floor(vectors.length / this.dim);
    this.stopPrefault();
    this.slab = vectors;
    this.capacity = capacity;
    if (this.cosine && norms.length < capacity) {
      const grown = new Float64Array(capacity);
      grown.set(norms);
      norms = grown;
    }
    this.norms = norms;
    this.slotSeq = new Float64Array(capacity).fill(seq, 0, n);
    this.upserts.restart(seq);
    this.metaSize = new Float64Array(capacity);
    this.ids = ids;
    this.meta = metadata;
    packed?.grow(capacity);
    this.packed = packed;
    this.idMap = idMap;
    this.free = [];
    this.highWater = n;
    this.count = n;
    this.metaTotal = 0;
    this.metaStale = true;
    this.idTotal = 0;
    for (let i = 0; i < n; i++) this.idTotal += idBytes(ids[i]);
  }

  /** Metadata was adopted without size estimates; recompute them on the next `memoryUsage()`. */
  markMetadataSizesStale(): void {
    this.metaStale = true;
  }

  /** Estimated bytes held: the slab, per-slot arrays, ids and metadata. */
  memoryUsage(): number {
    if (this.metaStale) {
      this.metaTotal = 0;
      for (let s = 0; s < this.highWater; s++) {
        const m = this.meta[s];
        // Encoded metadata is counted with its arena chunks below.
        const b = m === undefined || m === PACKED ? 0 : estimateJsonBytes(m);
        this.metaSize[s] = b;
        this.metaTotal += b;
      }
      this.metaStale = false;
    }
    return (
      this.slab.byteLength + this.norms.byteLength + this.slotSeq.byteLength + this.metaSize.byteLength + this.upserts.byteLength +
      this.count * ENTRY_OVERHEAD + this.idTotal + this.metaTotal + (this.packed?.byteLength ?? 0)
    );
  }
}
