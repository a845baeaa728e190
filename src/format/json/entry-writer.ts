/**
 * Writes entries as JSON objects, `{"id":…,"vector":[…],"metadata":{…}}`: the elements of the state
 * format's "vectors" array and the lines of a JSONL export. Vector text comes from the FormatPool
 * (worker threads for big saves), in chunk order; ids and metadata are stringified here and everything
 * is assembled into the page buffer.
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

/**
 * Streams every entry of `image` into `out` as `{"id":…,"vector":[…],"metadata":{…}}`, laid out as
 * `layout` says. `workers` overrides the number of formatting threads (0 = format on this thread).
 */
export async function writeEntries(out: PageWriter, image: CollectionImage, progress: ProgressReporter, signal: AbortSignal | undefined, workers?: number, layout: EntryLayout = ARRAY_ELEMENTS): Promise<void> {
  const dim = image.dimension;
  const perChunk = Math.max(1, Math.floor(CHUNK_FLOATS / dim));
  const pool = acquireFormatPool(formatWorkerCount(image.count * dim, workers));
  try {
    const depth = Math.max(2, pool.size * 2);
    const queue: Promise<FormatReply>[] = [];
    const chunks = image.vectorChunks(perChunk)[Symbol.iterator]();
    // Chunks may alias engine memory; each is copied (into a recycled buffer) before the next is requested.
    const submit = (): void => {
      const next = chunks.next();
      if (next.done) return;
      const copy = pool.takeVectors(next.value.length);
      copy.set(next.value);
      queue.push(pool.format(copy, dim));
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
      if (index + reply.ends.length - 1 > image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded more vectors than its count ${image.count}.`);
      index = await assemble(out, image, reply, index, layout);
      pool.recycle(reply.text);
      pool.recycleVectors(reply.vectors);
      progress.update(index, 'writing entries');
    }
    if (index !== image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded ${index} vectors but says it has ${image.count}.`);
  } finally {
    await releaseFormatPool(pool);
  }
}

/** Appends the entries of one formatted chunk, starting at entry `index`; returns the next index. */
async function assemble(out: PageWriter, image: CollectionImage, reply: FormatReply, index: number, layout: EntryLayout): Promise<number> {
  const { text, ends } = reply;
  const fixed = Math.max(layout.first.length, layout.between.length) + ENTRY_OPEN.length + VECTOR_KEY.length + 1 + layout.after.length;
  for (let e = 0; e + 1 < ends.length; e++, index++) {
    const id = idText(image.ids[index]);
    const meta = metadataText(image.metadata[index], index);
    const vector = text.subarray(ends[e], ends[e + 1]);
    const need = fixed + id.length * 3 + vector.length + (meta === undefined ? 0 : METADATA_KEY.length + meta.length * 3);
    if (out.pos + need > out.page.length) await out.room(need);
    out.ascii(index === 0 ? layout.first : layout.between);
    out.ascii(ENTRY_OPEN);
    out.pos += out.page.write(id, out.pos, 'utf8');
    out.ascii(VECTOR_KEY);
    out.page.set(vector, out.pos);
    out.pos += vector.length;
    if (meta !== undefined) {
      out.ascii(METADATA_KEY);
      out.pos += out.page.write(meta, out.pos, 'utf8');
    }
    out.page[out.pos++] = 125; // }
    out.ascii(layout.after);
  }
  return index;
}
