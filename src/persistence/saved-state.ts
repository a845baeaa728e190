/**
 * A file read as the state it holds. A binary or JSON save file may be extended by delta files and a
 * save journal beside it (`<file>.delta-NNNNNN`, `<file>.wal/`); reading the file alone would give an
 * older state with no warning. `importSaved` reads them as a load does (every file verified when
 * verification is on, stale deltas of an older base ignored) and folds them in, for `import`, and for
 * the CLI's `verify`, `info` and `convert`.
 */
import type { Columns, CollectionImage, DeltaColumns, Metric } from '../engine/types.js';
import { VectorDB } from '../engine/vector-db.js';
import type { FileStat, FileSystem } from '../env/fs.js';
import { markOf, statIfExists } from '../env/stat-if-exists.js';
import { QuiverError } from '../errors.js';
import { importFile, type ImportFileOptions, type ImportedColumns } from '../interchange/index.js';
import type { ExchangeFormat } from '../interchange/index.js';
import type { ReadSpec } from './codec.js';
import { readDeltaChain, type LoadedChain } from './delta-chain.js';
import { journalDeltas, journalDir, readJournal, type JournalContents } from './journal.js';

/** What {@link importSaved} read: the file's columns with its chain folded in, and what the chain held. */
export interface SavedColumns extends ImportedColumns {
  format: ExchangeFormat;
  /** Delta files folded in (0 when the file has none). */
  deltas: number;
  /** Save-journal records folded in (0 without a journal that extends the file). */
  journalRecords: number;
}

/** The view's entries as new Columns (vectors copied into one new array). */
function columnsOf(image: CollectionImage): Columns {
  const vectors = new Float32Array(image.count * image.dimension);
  let at = 0;
  for (const chunk of image.vectorChunks(65536)) {
    vectors.set(chunk, at);
    at += chunk.length;
  }
  return { dimension: image.dimension, metric: image.metric, ids: [...image.ids], vectors, metadata: [...image.metadata] };
}

/** The deltas and journal records that extend a save file, read and decoded, in the order they apply. */
export interface ChainExtension {
  chain: LoadedChain;
  journal: JournalContents | undefined;
  /** Every delta file's delta, then the journal's records as deltas. */
  deltas: DeltaColumns[];
  /** What to call each of `deltas` in errors. */
  deltaNames: string[];
}

/**
 * Reads what extends the save file at `path` whose checksum is `checksum`: its delta chain (verified as
 * `spec` says; stale deltas of an older base set aside) and the save journal that follows its last link
 * (cut at its first damaged record with `repairJournal`).
 */
export async function readChainExtension(
  fs: FileSystem,
  path: string,
  checksum: string,
  shape: { dimension: number; metric: Metric },
  spec: ReadSpec & { repairJournal?: boolean },
  onFile?: (path: string, index: number) => ReadSpec['onProgress'],
): Promise<ChainExtension> {
  const chain = await readDeltaChain(fs, path, checksum, spec, onFile);
  const journal = await readJournal(fs, path, chain.lastChecksum, spec.repairJournal === true);
  const deltas = chain.deltas.map((d) => d.delta);
  const deltaNames = chain.deltas.map((d) => d.path);
  for (const d of journal ? journalDeltas(journal, shape.dimension, shape.metric, path) : []) {
    deltas.push(d);
    deltaNames.push(`the save journal ${journalDir(path)}`);
  }
  return { chain, journal, deltas, deltaNames };
}

/**
 * Reads the file at `path` (any format, as importFile does) and, for a binary or JSON save file, the
 * deltas and journal records that extend it, folded in. Damage anywhere in the chain fails the read.
 */
export function importSaved(fs: FileSystem, path: string, options: ImportFileOptions = {}): Promise<SavedColumns> {
  return readUnlessReplaced(fs, path, (before) => importSavedOnce(fs, path, options, before));
}

/** Reads of a save file that another process replaced meanwhile, at most, before a load or import gives up. */
const SAVED_READ_ATTEMPTS = 5;


async function markAt(fs: FileSystem, path: string): Promise<string | undefined> {
  const st = await statIfExists(fs, path);
  return st === undefined ? undefined : markOf(st);
}

/**
 * Runs `read` of the save file at `path` (given the file's mark at its start, undefined when there is no
 * file), and runs it again, up to 5 times, when it failed while another process replaced the file: a
 * full save replaces the base and then removes its deltas and journal, so a read meanwhile can find a
 * delta gone, or a base and journal of different saves. A read that succeeded checks the mark itself
 * before it counts (see {@link checkNotReplaced}). The one retry of load(), import() and the CLI.
 */
export async function readUnlessReplaced<T>(fs: FileSystem, path: string, read: (before: string | undefined) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const before = await markAt(fs, path);
    try {
      return await read(before);
    } catch (err) {
      // Not a cancellation, nor a progress callback's own error: a failure of reading the files.
      const retryable = err instanceof QuiverError && err.code !== 'ABORTED';
      // Another writer at work beside an unchanged base: a listed delta it removed (a leftover it
      // cleaned up), or a delta it published while this read recovered that number (BUSY).
      const raced = err instanceof QuiverError && (err.code === 'ENOENT' || err.code === 'BUSY');
      if (attempt >= SAVED_READ_ATTEMPTS || before === undefined || !retryable || (!raced && (await markAt(fs, path).catch(() => undefined)) === before)) throw err;
    }
  }
}

/**
 * The file at `path` as it is now, when it still has the mark `before` that a read began with; else
 * BUSY (which {@link readUnlessReplaced} retries): what was read is a state superseded before the read
 * ended, its deltas or journal maybe gone.
 */
export async function checkNotReplaced(fs: FileSystem, path: string, before: string): Promise<FileStat> {
  const st = await statIfExists(fs, path);
  if (st === undefined || markOf(st) !== before) throw new QuiverError('BUSY', `${path} was replaced by another save while it was read`, { path });
  return st;
}

async function importSavedOnce(fs: FileSystem, path: string, options: ImportFileOptions, before: string | undefined): Promise<SavedColumns> {
  const read = await importFile(fs, path, options);
  const plain = { ...read, deltas: 0, journalRecords: 0 };
  if ((read.format !== 'binary' && read.format !== 'json') || read.checksum === undefined) return plain;
  const cols = read.columns;
  const ext = await readChainExtension(fs, path, read.checksum, cols, { verifyChecksum: options.verifyChecksum, signal: options.signal });
  if (before !== undefined) await checkNotReplaced(fs, path, before);
  if (ext.deltas.length === 0) return plain;
  const db = new VectorDB({ dimension: cols.dimension, metric: cols.metric });
  db.replaceAll(cols, { deltas: ext.deltas, deltaNames: ext.deltaNames });
  const image = db.openImage();
  try {
    return { ...read, columns: columnsOf(image), deltas: ext.chain.deltas.length, journalRecords: ext.journal?.records.length ?? 0 };
  } finally {
    image.release();
  }
}
