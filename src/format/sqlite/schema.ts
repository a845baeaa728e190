/**
 * The SQLite export layout, format version 1 (docs/FORMAT.md): table and key names, the DDL,
 * and the digest bucket size. Everything a reader or writer needs to agree on lives here.
 */

/** The 16 bytes every SQLite 3 database starts with. */
export const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Value of the `format` key in quiver_meta. */
export const SQLITE_FORMAT_NAME = 'quiverdb-sqlite';
/** Highest format version this code reads, and the one it writes. */
export const SQLITE_FORMAT_VERSION = 1;
/** `PRAGMA application_id` of files we write ("QVDB"); informational, readers do not rely on it. */
export const SQLITE_APPLICATION_ID = 0x51564442;
/** Page size of small files (SQLite's default). */
export const SMALL_PAGE_SIZE = 4096;
/** Vector bytes below which a file keeps the default page size (a 64 KiB page per table would dominate). */
const SMALL_FILE_BYTES = 4 << 20;
/** Estimated bytes per row besides the vector (cell header, pos, id, small metadata). */
const ROW_OVERHEAD = 64;

/** Table and column names (all lowercase, referenced by the docs and by raw-SQL users). */
export const TABLE = {
  meta: 'quiver_meta',
  entries: 'entries',
  digests: 'quiver_digests',
  index: 'quiver_index',
} as const;

/** Keys of quiver_meta. Values are TEXT: numbers in decimal, `user` as JSON, times as ISO 8601. */
export const META = {
  format: 'format',
  formatVersion: 'formatVersion',
  dimension: 'dimension',
  metric: 'metric',
  count: 'count',
  seq: 'seq',
  bucketRows: 'bucketRows',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  user: 'user',
  checksum: 'checksum',
} as const;

/** Columns `entries` must have (reader check). */
export const ENTRY_COLUMNS = ['pos', 'id', 'vector', 'metadata'] as const;

/**
 * The schema of a new file (the unique id index, {@link ID_INDEX_SQL}, is created after the bulk insert:
 * one sort instead of 100,000 scattered index inserts). `pos` is an explicit INTEGER PRIMARY KEY (an alias of the rowid, so VACUUM
 * keeps it) giving each entry its place in export order and its digest bucket. `id` has no declared
 * type on purpose: with no affinity SQLite keeps integers INTEGER and text TEXT, so numeric ids stay
 * numeric and `42` and `'42'` are different ids, as in the engine.
 */
export const SCHEMA_SQL = `
CREATE TABLE ${TABLE.meta} (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE ${TABLE.entries} (
  pos INTEGER PRIMARY KEY,
  id NOT NULL CHECK (typeof(id) IN ('integer', 'text')),
  vector BLOB NOT NULL CHECK (typeof(vector) = 'blob'),
  metadata TEXT
);
CREATE TABLE ${TABLE.digests} (
  bucket INTEGER PRIMARY KEY,
  digest BLOB NOT NULL
);
CREATE TABLE ${TABLE.index} (
  name TEXT PRIMARY KEY NOT NULL,
  data BLOB NOT NULL
);
`;

/** Makes ids unique and fast to look up (created by writers once the rows are in). */
export const ID_INDEX_SQL = `CREATE UNIQUE INDEX entries_id ON ${TABLE.entries} (id);`;

/** Vector bytes a digest bucket aims at: small enough that an incremental save rehashes little. */
export const BUCKET_TARGET_BYTES = 1 << 20;
/** Largest bucket (tiny vectors). */
export const MAX_BUCKET_ROWS = 65536;

/** Rows per digest bucket for a dimension (recorded in quiver_meta.bucketRows when the file is created). */
export function bucketRowsFor(dimension: number): number {
  return Math.max(1, Math.min(MAX_BUCKET_ROWS, Math.floor(BUCKET_TARGET_BYTES / (dimension * 4))));
}

/**
 * The page size for a new file: SQLite's default for small files; otherwise the size (4-64 KiB) that
 * wastes the least space at page ends for rows of this dimension, preferring larger pages within half a percent (fewer pages, fewer page headers).
 */
export function pageSizeFor(dimension: number, count: number): number {
  if (dimension * 4 * count < SMALL_FILE_BYTES) return SMALL_PAGE_SIZE;
  const row = dimension * 4 + ROW_OVERHEAD;
  let best = 65536;
  let bestFill = 0;
  for (let size = 4096; size <= 65536; size *= 2) {
    const usable = size - 8; // leaf page header; each cell also has a 2-byte pointer (in ROW_OVERHEAD)
    const perPage = Math.floor(usable / row);
    if (perPage === 0) continue;
    const fill = (perPage * row) / usable;
    if (fill >= bestFill - 0.005) {
      best = size;
      bestFill = fill;
    }
  }
  return best;
}

/** True when `head` starts with the SQLite 3 header. */
export function isSqliteHeader(head: Uint8Array): boolean {
  if (head.length < SQLITE_HEADER.length) return false;
  for (let i = 0; i < SQLITE_HEADER.length; i++) if (head[i] !== SQLITE_HEADER[i]) return false;
  return true;
}
