/**
 * The Parquet interchange format (docs/FORMAT.md "Parquet"): one row per entry with columns `id`,
 * `vector` (LIST of FLOAT), `metadata` (JSON text) and `id_num`, readable by DuckDB, Arrow and pandas.
 */
import type { ExchangeCodec } from '../exchange.js';
import { ENCRYPTED_MAGIC, MAGIC } from './constants.js';
import { readParquet } from './reader.js';
import { writeParquet } from './writer.js';

export { readParquet } from './reader.js';
export { writeParquet, quiverSchema, groupShape } from './writer.js';
export { PARQUET_FORMAT_VERSION, PARQUET_FORMAT_NAME, KV as PARQUET_KV, COLUMN as PARQUET_COLUMN } from './constants.js';

/** Parquet files start (and end) with the magic "PAR1", or "PARE" when their footer is encrypted (the reader says so). */
function sniff(head: Uint8Array): boolean {
  return head.length >= MAGIC.length && [MAGIC, ENCRYPTED_MAGIC].some((magic) => magic.every((b, i) => head[i] === b));
}

/** The Parquet codec: uncompressed pages on write; reads QuiverDB and foreign (DuckDB, Arrow) files. */
export const parquetCodec: ExchangeCodec = {
  format: 'parquet',
  compressions: ['none'],
  canWrite: true,
  readsCompressed: false,
  extension: () => '.parquet',
  sniff,
  write: (fs, path, image, options) => writeParquet(fs, path, image, options),
  read: readParquet,
};
