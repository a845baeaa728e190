/**
 * The frame every MessagePack and JSONL export is written in: options and image checked before any
 * I/O, a temp file published atomically, output compressed through a sink, and a trailer carrying the
 * SHA-256 of every byte before it. The codec supplies the header, the entries and the trailer.
 */
import type { CollectionImage } from '../../engine/types.js';
import { publishAtomically } from '../../env/atomic.js';
import type { FileSystem } from '../../env/fs.js';
import { ProgressReporter } from '../../util/progress.js';
import type { ExchangeWriteOptions, ExchangeWriteResult } from '../exchange.js';
import { PageWriter } from '../json/page-writer.js';
import { OFFLOAD_MIN_BYTES } from '../../util/hash-worker.js';
import { writeWithHashRetry } from '../../env/hash-retry.js';
import { checkExportAbort, checkImage, checkWriteOptions } from './exchange-io.js';
import { openSink } from './sink.js';

/** Header or trailer bytes: text is written as UTF-8. */
export type ExchangePiece = string | Uint8Array;

/** What a codec contributes to {@link writeExchange}. */
export interface ExchangeLayout {
  /** The header, built before the temp file is created (`user` is checked plain JSON). */
  header(user: Record<string, unknown>, createdAt: number): ExchangePiece;
  /** Streams every entry into `out`, updating `progress` and checking `signal` as it goes. */
  entries(out: PageWriter, progress: ProgressReporter, signal: AbortSignal | undefined): Promise<void>;
  /** The trailer for `count` entries whose bytes before it hash to `checksum`. */
  trailer(count: number, checksum: string): ExchangePiece;
}

async function put(out: PageWriter, piece: ExchangePiece): Promise<void> {
  if (typeof piece === 'string') return out.text(piece);
  await out.room(piece.length);
  out.page.set(piece, out.pos);
  out.pos += piece.length;
}

/**
 * Writes `image` to `path` atomically in `layout`, optionally gzip- or brotli-compressed; never holds
 * more than a page of output in memory. Aborting leaves any existing file at `path` unchanged.
 */
export async function writeExchange(fs: FileSystem, path: string, image: CollectionImage, options: ExchangeWriteOptions | undefined, layout: ExchangeLayout): Promise<ExchangeWriteResult> {
  const { compression, level, user } = checkWriteOptions(options);
  checkImage(image);
  const signal = options?.signal;
  checkExportAbort(signal);
  const header = layout.header(user, Date.now());
  const progress = new ProgressReporter('export', image.count, options?.onProgress);
  const offload = image.count * image.dimension * 4 >= OFFLOAD_MIN_BYTES;
  const result = await publishAtomically(fs, path, (handle) => writeWithHashRetry(handle, offload, async (offloadHash) => {
    const sink = openSink(handle, compression, level);
    const out = new PageWriter(sink, { offloadHash });
    try {
      await put(out, header);
      await layout.entries(out, progress, signal);
      const checksum = await out.digest();
      await put(out, layout.trailer(image.count, checksum));
      await out.drain();
      const bytes = await sink.finish();
      checkExportAbort(signal);
      return { path, files: [path], bytes, count: image.count, checksum };
    } catch (err) {
      await out.abort();
      sink.abort();
      throw err;
    }
  }), { signal });
  progress.finishDone('exported');
  return result;
}
