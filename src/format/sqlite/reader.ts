/**
 * `readSqliteState`: a SQLite export back into Columns. The file is opened read-only, its schema and
 * quiver_meta checked, the entries read in position order in batches (progress and cancellation between
 * them), and, unless told not to, every digest bucket and the file checksum verified. Nothing partial
 * is ever returned.
 */
import type Database from 'better-sqlite3';
import { CorruptionError } from '../../errors.js';
import type { Columns } from '../../engine/types.js';
import { findNonFinite } from '../../engine/load.js';
import type { FileSystem } from '../../env/fs.js';
import { ProgressReporter } from '../../util/progress.js';
import type { ExchangeReadOptions } from '../exchange.js';
import { HOST_IS_LITTLE_ENDIAN, swap32InPlace } from '../qvdb/endian.js';
import { ENTRY_SELECT, RowCollector, type EntryRow } from './collector.js';
import { OFFLOAD_MIN_BYTES, fileChecksum } from './digest.js';
import { checkIdTypes, checkSchema, idsAreUnique, readBucketDigests, readHeader, type SqliteHeader } from './meta.js';
import { openExport } from './open.js';
import { idLabel } from './rows.js';
import { TABLE } from './schema.js';
import { checkAbort, mapSqliteError, yieldToEventLoop } from './sqlite-errors.js';

/** What {@link readSqliteState} returns. */
export interface SqliteReadResult {
  columns: Columns;
  /** The file checksum recorded in quiver_meta (verified unless `verifyChecksum: false`). */
  checksum: string;
  user: Record<string, unknown>;
  seq: number;
  /** Everything quiver_meta says, validated. */
  header: SqliteHeader;
}

/** Rows fetched per statement call. */
const BATCH_ROWS = 2048;

/** Reads the SQLite export at `path` (docs/FORMAT.md). */
export async function readSqliteState(fs: FileSystem, path: string, opts: ExchangeReadOptions = {}): Promise<SqliteReadResult> {
  const verify = opts.verifyChecksum !== false;
  checkAbort(opts.signal, `Loading ${path} was cancelled; nothing was changed.`);
  const { db, size } = await openExport(fs, path, false);
  let section = 'schema';
  let collector: RowCollector | undefined;
  try {
    // One read transaction: every batch sees the same snapshot even if another connection commits an
    // incremental save meanwhile (that commit waits for us instead).
    db.exec('BEGIN');
    checkSchema(db, path);
    section = TABLE.meta;
    const header = readHeader(db, path);
    // Every vector is stored in the file, so the announced count is bounded by the file's size: a
    // damaged count cannot make us allocate more than the file could hold.
    if (header.count * header.dimension * 4 > size) {
      throw new CorruptionError({ file: path, section: `${TABLE.meta}.count` }, `${header.count} entries of dimension ${header.dimension} cannot fit in a ${size}-byte file`);
    }
    section = TABLE.digests;
    const stored = verify ? readBucketDigests(db, path) : undefined;
    section = TABLE.entries;
    checkIdTypes(db, path);
    const offload = verify && HOST_IS_LITTLE_ENDIAN && header.count * header.dimension * 4 >= 4 * OFFLOAD_MIN_BYTES;
    // The UNIQUE id index is not covered by the checksums (a damaged one may have let a second row with
    // an id in): a verifying read checks the ids itself.
    collector = new RowCollector(path, header, verify, offload, !verify && idsAreUnique(db));
    await readEntries(db, path, collector, header, opts);
    const computed = await collector.finish();
    if (stored && computed) verifyDigests(path, header, stored, computed);
    if (!HOST_IS_LITTLE_ENDIAN) swap32InPlace(collector.bytes);
    const vectors = new Float32Array(collector.bytes.buffer, collector.bytes.byteOffset, header.count * header.dimension);
    const bad = findNonFinite(vectors, 0, vectors.length);
    if (bad >= 0) {
      const e = Math.floor(bad / header.dimension);
      throw new CorruptionError({ file: path, section: TABLE.entries }, `the vector of entry ${e} (id ${idLabel(collector.ids[e])}) has ${vectors[bad]} at element ${bad - e * header.dimension}; stored vectors must be finite`);
    }
    const columns: Columns = { dimension: header.dimension, metric: header.metric, ids: collector.ids, vectors, metadata: collector.metadata };
    return { columns, checksum: header.checksum, user: header.user, seq: header.seq, header };
  } catch (err) {
    collector?.abandon();
    throw mapSqliteError(err, path, section, 'load');
  } finally {
    db.close();
  }
}

async function readEntries(db: Database.Database, file: string, collector: RowCollector, header: SqliteHeader, opts: ExchangeReadOptions): Promise<void> {
  const first = db.prepare(`SELECT ${ENTRY_SELECT} FROM ${TABLE.entries} ORDER BY pos LIMIT ?`).raw();
  const next = db.prepare(`SELECT ${ENTRY_SELECT} FROM ${TABLE.entries} WHERE pos > ? ORDER BY pos LIMIT ?`).raw();
  const progress = new ProgressReporter('load', header.count + 1, opts.onProgress);
  progress.countItems(header.count);
  const cancelled = `Loading ${file} was cancelled; nothing was changed.`;
  let rows = first.all(BATCH_ROWS) as EntryRow[];
  while (rows.length > 0) {
    for (let i = 0; i < rows.length; i++) collector.add(rows[i]);
    progress.update(collector.count, `read ${collector.count} of ${header.count} entries`);
    checkAbort(opts.signal, cancelled);
    await yieldToEventLoop();
    checkAbort(opts.signal, cancelled);
    if (rows.length < BATCH_ROWS) break;
    rows = next.all(collector.lastPos, BATCH_ROWS) as EntryRow[];
  }
  progress.finish(`read ${collector.count} entries`);
}

function verifyDigests(file: string, header: SqliteHeader, stored: Map<number, Buffer>, computed: Map<number, Buffer>): void {
  const range = (b: number) => `${b * header.bucketRows}..${(b + 1) * header.bucketRows - 1}`;
  for (const [bucket, digest] of computed) {
    const want = stored.get(bucket);
    if (!want || !want.equals(digest)) {
      const problem = want
        ? `the entries at positions ${range(bucket)} (digest bucket ${bucket}) do not match their SHA-256 in ${TABLE.digests}`
        : `the entries at positions ${range(bucket)} (digest bucket ${bucket}) have no digest in ${TABLE.digests}`;
      throw new CorruptionError({ file, section: TABLE.entries }, problem, 'CHECKSUM_MISMATCH');
    }
  }
  for (const bucket of stored.keys()) {
    if (!computed.has(bucket)) {
      throw new CorruptionError({ file, section: TABLE.entries }, `${TABLE.digests} has a digest for positions ${range(bucket)} (bucket ${bucket}) but no entries are there`, 'CHECKSUM_MISMATCH');
    }
  }
  const actual = fileChecksum(header.rows, stored);
  if (actual !== header.checksum) {
    throw new CorruptionError({ file, section: TABLE.meta }, `checksum mismatch: ${TABLE.meta}.checksum is ${header.checksum} but the metadata and digests hash to ${actual}`, 'CHECKSUM_MISMATCH');
  }
}
