/**
 * The SQLite export format (docs/FORMAT.md): a real SQLite 3 database that any SQLite tool can
 * query, with per-bucket SHA-256 digests so that incremental saves can update it in place.
 */
import type { ExchangeCodec, ExchangeCompression } from '../exchange.js';
import { isSqliteHeader } from './schema.js';
import { readSqliteState } from './reader.js';
import { writeSqliteState } from './writer.js';

export { writeSqliteState, type SqliteWriteOptions, type SqliteWriteResult } from './writer.js';
export { readSqliteState, type SqliteReadResult } from './reader.js';
export { applySqliteChanges, type SqliteApplyOptions } from './apply.js';
export type { SqliteHeader } from './meta.js';
export { SQLITE_FORMAT_NAME, SQLITE_FORMAT_VERSION, SQLITE_APPLICATION_ID, SQLITE_HEADER, TABLE as SQLITE_TABLES, META as SQLITE_META_KEYS, isSqliteHeader } from './schema.js';

/** The SQLite interchange codec: one uncompressed `.sqlite` file. */
export const sqliteCodec: ExchangeCodec = {
  format: 'sqlite',
  compressions: ['none'] as const,
  canWrite: true,
  readsCompressed: false,
  extension(_compression: ExchangeCompression): string {
    return '.sqlite';
  },
  sniff(head: Uint8Array): boolean {
    return isSqliteHeader(head);
  },
  async write(fs, path, image, options = {}) {
    const r = await writeSqliteState(fs, path, image, options);
    return { path: r.path, files: [r.path], bytes: r.bytes, count: r.count, checksum: r.checksum };
  },
  async read(fs, path, options = {}) {
    const r = await readSqliteState(fs, path, options);
    return { columns: r.columns, metricKnown: true, user: r.user, checksum: r.checksum };
  },
};
