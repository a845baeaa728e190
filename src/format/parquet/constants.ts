/**
 * Names and sizes of the QuiverDB Parquet layout (docs/FORMAT.md "Parquet"). Readers look columns up by
 * these names; writers use the sizes to cut row groups and pages.
 */

/** Version of the QuiverDB Parquet layout, stored under {@link KV.formatVersion}. */
export const PARQUET_FORMAT_VERSION = 1;
/** Value of {@link KV.format}. */
export const PARQUET_FORMAT_NAME = 'quiverdb';

/** File key-value metadata keys (all values are UTF-8 text). */
export const KV = {
  format: 'quiverdb.format',
  formatVersion: 'quiverdb.formatVersion',
  dimension: 'quiverdb.dimension',
  metric: 'quiverdb.metric',
  count: 'quiverdb.count',
  user: 'quiverdb.user',
  footerCrc: 'quiverdb.footerCrc32',
} as const;

/** Top-level column names. */
export const COLUMN = {
  id: 'id',
  vector: 'vector',
  metadata: 'metadata',
  idNum: 'id_num',
} as const;

/** Names of the two inner nodes of the standard three-level LIST (`vector.list.element`). */
export const LIST_NODE = 'list';
export const ELEMENT_NODE = 'element';

/** The four bytes at both ends of every Parquet file ("PAR1"). */
export const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]);
/** The magic of a Parquet file whose footer is encrypted (at both ends, instead of MAGIC). */
export const ENCRYPTED_MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x45]);
/** Footer tail: u32 metadata length + magic. */
export const FOOTER_TAIL = 8;

/** Most rows in one row group the writer emits. */
export const MAX_GROUP_ROWS = 8192;
/** Vector bytes the writer aims to put in one row group (fewer rows for very wide vectors). */
export const GROUP_VECTOR_BYTES = 16 << 20;
/** Bytes of values the writer aims to put in one data page. */
export const PAGE_BYTES = 1 << 20;

/** `created_by` written into the footer. */
export const CREATED_BY = 'QuiverDB parquet writer (format 1)';
