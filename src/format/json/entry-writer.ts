/**
 * Writes entries as JSON objects, `{"id":…,"vector":[…],"metadata":{…}}`: the elements of the state
 * format's "vectors" array and the lines of a JSONL export. Vector text comes from the FormatPool
 * (worker threads for big saves), in chunk order, with the entry text around each vector, which the
 * ids and metadata are stringified into here.
 */
import { QuiverError } from '../../errors.js';
import type { CollectionImage } from '../../engine/types.js';
import type { ProgressReporter } from '../../util/progress.js';
import { acquireFormatPool, formatWorkerCount, releaseFormatPool } from './format-pool.js';
import type { FormatReply } from './format-chunk.js';
import type { PageWriter } from './page-writer.js';
import { checkAbort, idText, metadataText } from './write-values.js';

/** Floats per formatting chunk (512 KB of vectors; its text buffer is sized for the worst case, ~3 MB). */
const CHUNK_FLOATS = 1 << 17;
/**
 * Bytes of id and metadata text per formatting chunk, beyond which it takes fewer entries (at least
 * one): with large metadata (1 MiB an entry, say) a chunk of vectors' worth of entries would hold
 * hundreds of megabytes of text, times the chunks in flight.
 */
const CHUNK_PARTS_BYTES = 4 << 20;

const ENTRY_OPEN = '{"id":';
const VECTOR_KEY = ',"vector":';
const METADATA_KEY = ',"metadata":';

/** Where entries go: the elements of the state format's "vectors" array, or the lines of a JSONL export. */
export interface EntryLayout {
  /** Written before the first entry. */
  readonly first: string;
  /** Written before every later entry. */
  readonly between: string;
  /** Written after every entry. */
  readonly after: string;
  /** What the caller is doing, for error messages ('save', 'export'). */
  readonly verb: string;
  /** Throws the caller's ABORTED error once `signal` is aborted. */
  checkAbort(signal: AbortSignal | undefined): void;
}

/** The state format: `{"id":…,"vector":[…],"metadata":{…}}` elements, one per line. */
export const ARRAY_ELEMENTS: EntryLayout = { first: '\n', between: ',\n', after: '', verb: 'save', checkAbort };

/** Builds the encoded texts around each entry's vector (see FormatRequest) in a reused scratch buffer. */
class EntryParts {
  private scratch = Buffer.allocUnsafe(1 << 16);
  private pos = 0;

  constructor(private readonly image: CollectionImage, private readonly layout: EntryLayout) {}

  /**
   * The texts of entries `start..start+count)`, where `count` ≤ `n` stops once CHUNK_PARTS_BYTES are
   * used (at least one entry): bytes and cut offsets (two per entry, then the end).
   */
  build(start: number, n: number): { parts: Uint8Array; cuts: Uint32Array; count: number } {
    const { image, layout } = this;
    const cuts = new Uint32Array(2 * n + 1);
    const fixed = Math.max(layout.first.length, layout.between.length) + ENTRY_OPEN.length + VECTOR_KEY.length + METADATA_KEY.length + 1 + layout.after.length;
    this.pos = 0;
    let e = 0;
    for (; e < n && (e === 0 || this.pos < CHUNK_PARTS_BYTES); e++) {
      const index = start + e;
      const id = idText(image.ids[index]);
      const meta = metadataText(image.metadata[index], index);
      this.room(fixed + 3 * (id.length + (meta === undefined ? 0 : meta.length)));
      cuts[2 * e] = this.pos;
      this.ascii(index === 0 ? layout.first : layout.between);
      this.ascii(ENTRY_OPEN);
      this.pos += this.scratch.write(id, this.pos, 'utf8');
      this.ascii(VECTOR_KEY);
      cuts[2 * e + 1] = this.pos;
      if (meta !== undefined) {
        this.ascii(METADATA_KEY);
        this.pos += this.scratch.write(meta, this.pos, 'utf8');
      }
      this.scratch[this.pos++] = 125; // }
      this.ascii(layout.after);
    }
    cuts[2 * e] = this.pos;
    // A copy of exactly the bytes used: the request transfers it to a worker.
    return { parts: new Uint8Array(this.scratch.subarray(0, this.pos)), cuts: e === n ? cuts : cuts.slice(0, 2 * e + 1), count: e };
  }

  private room(n: number): void {
    if (this.pos + n <= this.scratch.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.scratch.length, this.pos + n));
    this.scratch.copy(grown, 0, 0, this.pos);
    this.scratch = grown;
  }

  private ascii(s: string): void {
    const b = this.scratch;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) b[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }
}

/**
 * Streams every entry of `image` into `out` as `{"id":…,"vector":[…],"metadata":{…}}`, laid out as
 * `layout` says. `workers` overrides the number of formatting threads (0 = format on this thread).
 * Ids and metadata are checked and encoded here as each chunk is handed out; the formatted chunk's
 * text is then written as it is (PageWriter.adopt).
 */
export async function writeEntries(out: PageWriter, image: CollectionImage, progress: ProgressReporter, signal: AbortSignal | undefined, workers?: number, layout: EntryLayout = ARRAY_ELEMENTS): Promise<void> {
  const dim = image.dimension;
  const perChunk = Math.max(1, Math.floor(CHUNK_FLOATS / dim));
  const pool = acquireFormatPool(formatWorkerCount(image.count * dim, workers));
  try {
    const depth = Math.max(2, pool.size * 2);
    const queue: Promise<FormatReply>[] = [];
    const chunks = image.vectorChunks(perChunk)[Symbol.iterator]();
    const parts = new EntryParts(image, layout);
    let handedOut = 0;
    // The part of the image's current chunk not handed out yet (a chunk whose entries carry much
    // metadata goes out in several requests).
    let pending: Float32Array | undefined;
    // Chunks may alias engine memory; each is copied (into a recycled buffer) before the next is
    // requested, which is only once the last of it is handed out.
    const submit = (): void => {
      if (pending === undefined) {
        const next = chunks.next();
        if (next.done) return;
        pending = next.value;
        if (handedOut + Math.floor(pending.length / dim) > image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded more vectors than its count ${image.count}.`);
      }
      const whole = Math.floor(pending.length / dim);
      if (whole * dim !== pending.length) throw new QuiverError('INVALID_ARGUMENT', `The image yielded a chunk of ${pending.length} floats, not whole entries of dimension ${dim}.`);
      const { parts: bytes, cuts, count } = parts.build(handedOut, whole);
      handedOut += count;
      const floats = count * dim;
      const copy = pool.takeVectors(floats);
      copy.set(pending.subarray(0, floats));
      pending = floats < pending.length ? pending.subarray(floats) : undefined;
      queue.push(pool.format(copy, bytes, cuts, dim, out.offloaded));
    };
    for (let i = 0; i < depth; i++) submit();
    let index = 0;
    while (queue.length > 0) {
      layout.checkAbort(signal);
      const reply = await queue.shift()!;
      submit();
      if (reply.bad) {
        const at = index + reply.bad.entry;
        const value = reply.vectors[reply.bad.entry * dim + reply.bad.element];
        throw new QuiverError('INVALID_VECTOR', `Cannot ${layout.verb} entry ${at}: element ${reply.bad.element} of its vector is ${value}, not a finite float32.`, { index: at, element: reply.bad.element });
      }
      const text = reply.text;
      await out.adopt(text.subarray(0, reply.length), () => pool.recycle(text));
      pool.recycleVectors(reply.vectors);
      index += reply.entries;
      progress.update(index, 'writing entries');
    }
    if (index !== image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded ${index} vectors but says it has ${image.count}.`);
  } finally {
    await releaseFormatPool(pool);
  }
}
