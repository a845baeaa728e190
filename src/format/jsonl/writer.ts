/**
 * `writeJsonl`: streams a CollectionImage as JSON Lines (header line, one `{"id","vector","metadata"}`
 * line per entry, trailer line with the SHA-256 of everything before it) into a temp file published
 * atomically. The lines are written by the JSON format's entry writer (shortest round-trip float32
 * text, on worker threads for big exports).
 */
import type { CollectionImage } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import type { ExchangeWriteOptions, ExchangeWriteResult } from '../exchange.js';
import { writeEntries, type EntryLayout } from '../json/entry-writer.js';
import { checkExportAbort } from '../stream/exchange-io.js';
import { writeExchange } from '../stream/exchange-write.js';
import { headerLine, trailerLine } from './header.js';

/** One entry per line. */
const LINES: EntryLayout = { first: '', between: '', after: '\n', verb: 'export', checkAbort: checkExportAbort };

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
    entries: (out, progress, signal) => writeEntries(out, image, progress, signal, options?.workers, LINES),
    trailer: trailerLine,
  });
}
