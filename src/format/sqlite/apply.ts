/**
 * `applySqliteChanges`: the incremental save. The existing file is changed in place by SQLite in ONE
 * transaction with a rollback journal and synchronous=EXTRA, so a crash at any point leaves the state
 * before the save (the journal is rolled back on the next open) and a returned call is durable. Only
 * the changed rows are written; the digest buckets they fall in are verified first and rehashed after.
 */
import type Database from 'better-sqlite3';
import { CorruptionError, QuiverError } from '../../errors.js';
import type { ChangeImage } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import { ProgressReporter, type ProgressCallback } from '../../util/progress.js';
import { littleEndianBytes } from '../qvdb/endian.js';
import { StoredBuckets } from './bucket-db.js';
import { fileChecksum } from './digest.js';
import { checkSchema, readHeader, type SqliteHeader } from './meta.js';
import { openExport } from './open.js';
import { idParam, metadataText } from './rows.js';
import { META, TABLE } from './schema.js';
import { checkAbort, mapSqliteError, yieldToEventLoop } from './sqlite-errors.js';
import { writeBytesAtomically, type SqliteWriteResult } from './writer.js';

/** Options of {@link applySqliteChanges}. */
export interface SqliteApplyOptions {
  /** The checksum the caller's last save returned; a different stored one means the file changed since. */
  expectedChecksum?: string;
  /** Recorded as quiver_meta.seq; default `change.seq`. */
  seq?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** Rows written between progress reports and cancellation checks. */
const CHUNK_ROWS = 1024;

/** Applies `change` to the SQLite export at `path` in place (docs/FORMAT.md "Incremental saves"). */
export async function applySqliteChanges(fs: FileSystem, path: string, change: ChangeImage, opts: SqliteApplyOptions = {}): Promise<SqliteWriteResult & { changedRows: number }> {
  const seq = opts.seq ?? change.seq;
  if (!Number.isSafeInteger(seq) || seq < 0) throw new QuiverError('INVALID_ARGUMENT', `seq must be a non-negative integer, got ${String(seq)}`);
  const cancelled = `The incremental save to ${path} was cancelled; the file is unchanged.`;
  checkAbort(opts.signal, cancelled);
  const { db, onDisk } = await openExport(fs, path, true);
  let section = 'schema';
  try {
    if (onDisk) {
      db.pragma('journal_mode = DELETE');
      db.pragma('synchronous = EXTRA');
      // Another writer holding the file (another instance, between the chunks of its transaction) makes
      // BEGIN fail at once with BUSY: SQLite's default 5 s busy wait blocked the whole event loop, the
      // other writer's transaction included, and then failed anyway.
      db.pragma('busy_timeout = 0');
    }
    const progress = new ProgressReporter('save', change.count + change.deletedIds.length + 1, opts.onProgress);
    // The write lock is taken before the checksum is compared, so nobody can change the file between
    // the comparison and our commit.
    db.exec('BEGIN IMMEDIATE');
    let result: { checksum: string; count: number; changedRows: number };
    try {
      checkSchema(db, path);
      section = TABLE.meta;
      const header = readHeader(db, path);
      checkCompatible(path, header, change, opts.expectedChecksum);
      section = TABLE.entries;
      result = await applyInTransaction(db, path, header, change, seq, progress, opts.signal, cancelled);
      checkAbort(opts.signal, cancelled);
      db.exec('COMMIT');
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
    let bytes: number;
    if (onDisk) {
      bytes = (await fs.stat(path)).size;
    } else {
      const image = db.serialize();
      await writeBytesAtomically(fs, path, image, opts.signal);
      bytes = image.length;
    }
    progress.finishDone(`saved ${result.changedRows} changed entries to ${path}`);
    return { path, bytes, ...result };
  } catch (err) {
    throw mapSqliteError(err, path, section, 'incremental save to');
  } finally {
    db.close();
  }
}

function checkCompatible(path: string, header: SqliteHeader, change: ChangeImage, expected: string | undefined): void {
  if (expected !== undefined && expected !== header.checksum) {
    throw new QuiverError(
      'CHECKSUM_MISMATCH',
      `${path} changed since the last save (its checksum is ${header.checksum}, the last save wrote ${expected}); do a full save instead of an incremental one.`,
      { file: path, expected, actual: header.checksum },
    );
  }
  if (header.dimension !== change.dimension) {
    throw new QuiverError('DIMENSION_MISMATCH', `${path} stores ${header.dimension}-dimensional vectors but the changes are ${change.dimension}-dimensional; do a full save.`, {
      expected: header.dimension,
      actual: change.dimension,
    });
  }
  if (header.metric !== change.metric) {
    throw new QuiverError('INVALID_ARGUMENT', `${path} was saved with metric ${header.metric} but the database uses ${change.metric}; do a full save.`);
  }
}

async function applyInTransaction(
  db: Database.Database,
  path: string,
  header: SqliteHeader,
  change: ChangeImage,
  seq: number,
  progress: ProgressReporter,
  signal: AbortSignal | undefined,
  cancelled: string,
): Promise<{ checksum: string; count: number; changedRows: number }> {
  const dim = change.dimension;
  const bucketOf = (pos: number) => Math.floor(pos / header.bucketRows);
  const buckets = new StoredBuckets(db, path, header.bucketRows);
  // The id index is not covered by the checksums: the row it leads to is checked to hold that id, so a
  // damaged index entry fails the save (CORRUPT) instead of having it write one entry over another's row.
  // (The id is read back by position, from the table: read through the index, it would be the index's.)
  const byId = db.prepare(`SELECT pos FROM ${TABLE.entries} WHERE id = ?`).pluck();
  const idAt = db.prepare(`SELECT id FROM ${TABLE.entries} WHERE pos = ?`).pluck();
  const lookup = {
    get(param: string | bigint): number | undefined {
      const pos = byId.get(param) as number | undefined;
      if (pos === undefined) return undefined;
      const found = idAt.get(pos) as unknown;
      const same = typeof param === 'string' ? found === param : (typeof found === 'number' || typeof found === 'bigint') && BigInt(found) === param;
      if (!same) {
        throw new CorruptionError({ file: path, section: 'entries_id index' }, `the id index leads ${typeof param === 'bigint' ? param.toString() : JSON.stringify(param)} to the row at position ${pos}, which holds ${String(found)}; rebuild it with REINDEX or save in full`);
      }
      return pos;
    },
  };
  const touched = new Set<number>();
  let count = header.count;
  let changedRows = 0;
  if (change.cleared) {
    db.exec(`DELETE FROM ${TABLE.entries}; DELETE FROM ${TABLE.digests};`);
    count = 0;
  }
  // Where every changed id lives now (undefined: a new entry), before anything moves.
  const deletePos: number[] = [];
  // An id both deleted and upserted is present now (a ChangeImage never lists both, but be safe).
  const upserted = change.deletedIds.length > 0 ? new Set(change.ids) : undefined;
  for (const [k, id] of (change.cleared ? [] : change.deletedIds).entries()) {
    if (upserted?.has(id)) continue;
    const pos = lookup.get(idParam(id, k, 'deleted id')) as number | undefined;
    if (pos !== undefined) deletePos.push(pos);
  }
  const upsertPos = change.ids.map((id, i) => (change.cleared ? undefined : (lookup.get(idParam(id, i)) as number | undefined)));
  // A miss in the id index is taken as "not in the file". A damaged index can miss an id that is there:
  // its delete is then skipped, or its upsert adds a second row. Either leaves one row more than the
  // database holds, which no checksum would notice afterwards (the index is not covered by them).
  const after = count - deletePos.length + upsertPos.filter((p) => p === undefined).length;
  if (after !== change.total) {
    throw new CorruptionError(
      { file: path, section: 'entries_id index' },
      `after the update the file would hold ${after} entries but the database holds ${change.total}: the id index missed ids that are in the file; rebuild it with REINDEX or save in full`,
    );
  }
  let nextPos = ((db.prepare(`SELECT max(pos) FROM ${TABLE.entries}`).pluck().get() as number | null) ?? -1) + 1;
  for (const p of deletePos) touched.add(bucketOf(p));
  for (const p of upsertPos) if (p !== undefined) touched.add(bucketOf(p));
  if (upsertPos.some((p) => p === undefined) && nextPos > 0) touched.add(bucketOf(nextPos - 1));
  // A bucket is rehashed from its rows after the change; verifying it first keeps a damaged row from
  // being blessed with a fresh digest.
  for (const b of touched) buckets.verify(b);

  const del = db.prepare(`DELETE FROM ${TABLE.entries} WHERE pos = ?`);
  let deleted = 0;
  for (const p of deletePos) deleted += del.run(p).changes;
  changedRows += deleted;
  count -= deleted;
  progress.update(change.deletedIds.length, `deleted ${deletePos.length} entries`);

  const update = db.prepare(`UPDATE ${TABLE.entries} SET vector = ?, metadata = ? WHERE pos = ?`);
  const insert = db.prepare(`INSERT INTO ${TABLE.entries} (pos, id, vector, metadata) VALUES (?, ?, ?, ?)`);
  let i = 0;
  for (const chunk of change.vectorChunks(CHUNK_ROWS)) {
    checkAbort(signal, cancelled);
    const bytes = littleEndianBytes(chunk);
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const rows = chunk.length / dim;
    for (let r = 0; r < rows; r++, i++) {
      const vector = buf.subarray(r * dim * 4, (r + 1) * dim * 4);
      const meta = metadataText(change.metadata[i], i);
      const pos = upsertPos[i];
      if (pos !== undefined) {
        changedRows += update.run(vector, meta, pos).changes;
      } else {
        touched.add(bucketOf(nextPos));
        changedRows += insert.run(nextPos++, idParam(change.ids[i], i), vector, meta).changes;
        count++;
      }
    }
    progress.update(change.deletedIds.length + i, `wrote ${i} of ${change.count} changed entries`);
    await yieldToEventLoop();
  }
  for (const b of touched) buckets.refresh(b);
  return { checksum: updateMeta(db, count, seq), count, changedRows };
}

/** Records the new count, seq and time, then the checksum over all meta rows and bucket digests. */
function updateMeta(db: Database.Database, count: number, seq: number): string {
  const put = db.prepare(`INSERT OR REPLACE INTO ${TABLE.meta} (key, value) VALUES (?, ?)`);
  put.run(META.count, String(count));
  put.run(META.seq, String(seq));
  put.run(META.updatedAt, new Date().toISOString());
  const meta = db.prepare(`SELECT key, value FROM ${TABLE.meta}`).raw().all() as [string, string][];
  const digests = db.prepare(`SELECT bucket, digest FROM ${TABLE.digests}`).raw().all() as [number, Buffer][];
  const checksum = fileChecksum(meta, digests);
  put.run(META.checksum, checksum);
  return checksum;
}
