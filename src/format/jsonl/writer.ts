/**
 * `writeJsonl`: streams a CollectionImage as JSON Lines (header line, one `{"id","vector","metadata"}`
 * line per entry, trailer line with the SHA-256 of everything before it) into a temp file published
 * atomically. Vector text comes from the JSON format's FormatPool (shortest round-trip float32 text,
 * on worker threads for big exports); ids and metadata are stringified here.
 */
import { QuiverError } from '../../errors.js';
import type { CollectionImage } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import type { ProgressReporter } from '../../util/progress.js';
import type { ExchangeWriteOptions, ExchangeWriteResult } from '../exchange.js';
import { acquireFormatPool, formatWorkerCount, releaseFormatPool } from '../json/format-pool.js';
import type { FormatReply } from '../json/format-chunk.js';
import type { PageWriter } from '../json/page-writer.js';
import { idText, metadataText } from '../json/write-values.js';
import { checkExportAbort } from '../stream/exchange-io.js';
import { writeExchange } from '../stream/exchange-write.js';
import { headerLine, trailerLine } from './header.js';

/** Floats per formatting chunk (1 MB of vectors). */
const CHUNK_FLOATS = 1 << 18;

const ENTRY_OPEN = '{"id":';
const VECTOR_KEY = ',"vector":';
const METADATA_KEY = ',"metadata":';

/** Appends the lines of one formatted chunk, starting at entry `index`; returns the next index. */
async function assemble(out: PageWriter, image: CollectionImage, reply: FormatReply, index: number): Promise<number> {
  const { text, ends } = reply;
  for (let e = 0; e + 1 < ends.length; e++, index++) {
    const id = idText(image.ids[index]);
    const meta = metadataText(image.metadata[index], index);
    const vector = text.subarray(ends[e], ends[e + 1]);
    const need = ENTRY_OPEN.length + id.length * 3 + VECTOR_KEY.length + vector.length + (meta === undefined ? 0 : METADATA_KEY.length + meta.length * 3) + 2;
    if (out.pos + need > out.page.length) await out.room(need);
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
    out.page[out.pos++] = 10; // \n
  }
  return index;
}

/** Streams every entry line of `image` into `out`. `workers` overrides the formatting threads (0 = inline). */
async function writeLines(out: PageWriter, image: CollectionImage, progress: ProgressReporter, signal: AbortSignal | undefined, workers?: number): Promise<void> {
  const dim = image.dimension;
  const perChunk = Math.max(1, Math.floor(CHUNK_FLOATS / dim));
  const pool = acquireFormatPool(formatWorkerCount(image.count * dim, workers));
  try {
    const depth = Math.max(2, pool.size * 2);
    const queue: Promise<FormatReply>[] = [];
    const chunks = image.vectorChunks(perChunk)[Symbol.iterator]();
    // Chunks may alias engine memory; each is copied (slice) before the next is requested.
    const submit = (): void => {
      const next = chunks.next();
      if (!next.done) queue.push(pool.format(next.value.slice(), dim));
    };
    for (let i = 0; i < depth; i++) submit();
    let index = 0;
    while (queue.length > 0) {
      checkExportAbort(signal);
      const reply = await queue.shift()!;
      submit();
      if (reply.bad) {
        const at = index + reply.bad.entry;
        const value = reply.vectors[reply.bad.entry * dim + reply.bad.element];
        throw new QuiverError('INVALID_VECTOR', `Cannot export entry ${at}: element ${reply.bad.element} of its vector is ${value}, not a finite float32.`, { index: at });
      }
      if (index + reply.ends.length - 1 > image.count) break;
      index = await assemble(out, image, reply, index);
      pool.recycle(reply.text);
      progress.update(index, 'writing entries');
    }
    if (index !== image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded a different number of vectors than its count ${image.count}.`);
  } finally {
    await releaseFormatPool(pool);
  }
}

/** Options of {@link writeJsonl}: the codec options plus the formatting thread count (tests). */
export interface WriteJsonlOptions extends ExchangeWriteOptions {
  /** Threads formatting numbers (default: 2 for big exports on multi-core machines, else none). */
  workers?: number;
}

/**
 * Writes `image` to `path` atomically as a QuiverDB JSONL export (docs/FORMAT.md), optionally
 * gzip- or brotli-compressed. Never builds more than a page of text in memory.
 */
export function writeJsonl(fs: FileSystem, path: string, image: CollectionImage, options?: WriteJsonlOptions): Promise<ExchangeWriteResult> {
  return writeExchange(fs, path, image, options, {
    header: (user, createdAt) => headerLine(image.dimension, image.metric, image.count, user, createdAt),
    entries: (out, progress, signal) => writeLines(out, image, progress, signal, options?.workers),
    trailer: trailerLine,
  });
}
