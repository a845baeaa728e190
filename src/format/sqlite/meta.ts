/**
 * Reading what a SQLite export says about itself: the schema (required tables and columns) and the
 * quiver_meta rows, each checked before any entry is read. A SQLite file without quiver_meta is some
 * other database (UNSUPPORTED_FORMAT); one that has it but breaks its rules is corrupt.
 */
import type Database from 'better-sqlite3';
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Metric } from '../../engine/types.js';
import { MAX_DIMENSION, METRICS } from '../../engine/validate.js';
import { isPlainObject } from '../../util/msgpack.js';
import { ENTRY_COLUMNS, MAX_BUCKET_ROWS, META, SQLITE_FORMAT_NAME, SQLITE_FORMAT_VERSION, TABLE } from './schema.js';

/** The validated contents of quiver_meta. */
export interface SqliteHeader {
  formatVersion: number;
  dimension: number;
  metric: Metric;
  count: number;
  seq: number;
  bucketRows: number;
  createdAt: string | undefined;
  updatedAt: string | undefined;
  user: Record<string, unknown>;
  checksum: string;
  /** Every quiver_meta row as stored (the checksum covers them all but `checksum`). */
  rows: [string, string][];
}

const HEX64 = /^[0-9a-f]{64}$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

function columnsOf(db: Database.Database, table: string): Map<string, { type: string; pk: number }> {
  const info = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string; type: string; pk: number }[];
  return new Map(info.map((c) => [c.name, { type: c.type.toUpperCase(), pk: c.pk }]));
}

/**
 * Checks that the tables and columns of format version 1 are present. Throws UNSUPPORTED_FORMAT when
 * quiver_meta is missing, CorruptionError (section "schema") when anything else is.
 */
export function checkSchema(db: Database.Database, file: string): void {
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as unknown[]).map(String));
  if (!tables.has(TABLE.meta)) {
    throw new QuiverError(
      'UNSUPPORTED_FORMAT',
      `${file} is a SQLite database but not a QuiverDB export: it has no ${TABLE.meta} table (tables: ${[...tables].join(', ') || 'none'}); import it with a matching importer instead.`,
      { file },
    );
  }
  const bad = (problem: string) => new CorruptionError({ file, section: 'schema' }, problem);
  const need = (table: string, cols: readonly string[]) => {
    if (!tables.has(table)) throw bad(`the table ${table} is missing`);
    const have = columnsOf(db, table);
    const missing = cols.filter((c) => !have.has(c));
    if (missing.length) throw bad(`the table ${table} has no column ${missing.join(', ')}`);
    return have;
  };
  need(TABLE.meta, ['key', 'value']);
  const entries = need(TABLE.entries, ENTRY_COLUMNS);
  const pos = entries.get('pos');
  if (!pos || pos.pk !== 1 || pos.type !== 'INTEGER') throw bad(`${TABLE.entries}.pos must be the INTEGER PRIMARY KEY`);
  const digests = need(TABLE.digests, ['bucket', 'digest']);
  const bucket = digests.get('bucket');
  if (!bucket || bucket.pk !== 1 || bucket.type !== 'INTEGER') throw bad(`${TABLE.digests}.bucket must be the INTEGER PRIMARY KEY`);
}

function integerValue(raw: string | undefined, key: string, file: string, min: number, max: number): number {
  const bad = (problem: string) => new CorruptionError({ file, section: `${TABLE.meta}.${key}` }, problem);
  if (raw === undefined) throw bad('the key is missing');
  if (!DECIMAL.test(raw)) throw bad(`its value ${JSON.stringify(raw.slice(0, 40))} is not a non-negative decimal integer`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(`its value ${raw} is outside ${min}..${max}`);
  return n;
}

/** Reads and validates quiver_meta (call {@link checkSchema} first). */
export function readHeader(db: Database.Database, file: string): SqliteHeader {
  const raw = db.prepare(`SELECT key, value FROM ${TABLE.meta} ORDER BY key`).raw().all() as unknown[][];
  const rows: [string, string][] = [];
  const map = new Map<string, string>();
  for (const [k, v] of raw) {
    if (typeof k !== 'string' || typeof v !== 'string') {
      throw new CorruptionError({ file, section: TABLE.meta }, `the row with key ${JSON.stringify(k)} is not a pair of TEXT values`);
    }
    rows.push([k, v]);
    map.set(k, v);
  }
  const format = map.get(META.format);
  if (format !== SQLITE_FORMAT_NAME) {
    throw new QuiverError(
      'UNSUPPORTED_FORMAT',
      `${file} is not a QuiverDB SQLite export (its ${TABLE.meta}.format is ${format === undefined ? 'missing' : JSON.stringify(format)}, expected "${SQLITE_FORMAT_NAME}"); import it with a matching importer instead.`,
      { file },
    );
  }
  const formatVersion = integerValue(map.get(META.formatVersion), META.formatVersion, file, 1, Number.MAX_SAFE_INTEGER);
  if (formatVersion > SQLITE_FORMAT_VERSION) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${file} uses SQLite export format version ${formatVersion}; this QuiverDB reads up to version ${SQLITE_FORMAT_VERSION}. Upgrade QuiverDB to load it.`, {
      file,
      formatVersion,
    });
  }
  const bad = (key: string, problem: string) => new CorruptionError({ file, section: `${TABLE.meta}.${key}` }, problem);
  const metric = map.get(META.metric);
  if (!METRICS.includes(metric as Metric)) throw bad(META.metric, `${metric === undefined ? 'the key is missing' : `${JSON.stringify(metric)} is not one of ${METRICS.join(', ')}`}`);
  const userText = map.get(META.user) ?? '{}';
  let user: unknown;
  try {
    user = JSON.parse(userText);
  } catch {
    throw bad(META.user, 'it is not valid JSON');
  }
  if (!isPlainObject(user)) throw bad(META.user, 'it must be a JSON object');
  const checksum = map.get(META.checksum);
  if (checksum === undefined || !HEX64.test(checksum)) throw bad(META.checksum, 'it must be 64 lowercase hex digits (SHA-256)');
  return {
    formatVersion,
    dimension: integerValue(map.get(META.dimension), META.dimension, file, 1, MAX_DIMENSION),
    metric: metric as Metric,
    count: integerValue(map.get(META.count), META.count, file, 0, Number.MAX_SAFE_INTEGER),
    seq: integerValue(map.get(META.seq), META.seq, file, 0, Number.MAX_SAFE_INTEGER),
    bucketRows: integerValue(map.get(META.bucketRows), META.bucketRows, file, 1, MAX_BUCKET_ROWS),
    createdAt: map.get(META.createdAt),
    updatedAt: map.get(META.updatedAt),
    user,
    checksum,
    rows,
  };
}

/** Reads quiver_digests as bucket → digest, checking each row's shape. */
export function readBucketDigests(db: Database.Database, file: string): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const [bucket, digest] of db.prepare(`SELECT bucket, digest FROM ${TABLE.digests} ORDER BY bucket`).raw().iterate() as Iterable<unknown[]>) {
    if (typeof bucket !== 'number' || !Number.isSafeInteger(bucket) || bucket < 0 || !Buffer.isBuffer(digest) || digest.length !== 32) {
      throw new CorruptionError({ file, section: TABLE.digests }, `the row for bucket ${String(bucket)} must be a non-negative integer and a 32-byte BLOB`);
    }
    out.set(bucket, digest);
  }
  return out;
}

/**
 * True when a UNIQUE index (or constraint) covers exactly `entries.id`: SQLite then guarantees that no
 * id repeats, and the reader skips its own duplicate check.
 */
export function idsAreUnique(db: Database.Database): boolean {
  const indexes = db.prepare(`PRAGMA index_list(${TABLE.entries})`).all() as { name: string; unique: number; partial: number }[];
  for (const ix of indexes) {
    if (ix.unique !== 1 || ix.partial === 1) continue;
    const cols = db.prepare(`PRAGMA index_info(${JSON.stringify(ix.name)})`).all() as { name: string | null }[];
    if (cols.length === 1 && cols[0].name === 'id') return true;
  }
  return false;
}

/**
 * Rejects ids stored as anything but INTEGER or TEXT (a REAL 42.0 would read back as the number 42).
 * One pass over the id index, not the table.
 */
export function checkIdTypes(db: Database.Database, file: string): void {
  const row = db.prepare(`SELECT pos, typeof(id) FROM ${TABLE.entries} WHERE typeof(id) NOT IN ('integer', 'text') LIMIT 1`).raw().get() as [number, string] | undefined;
  if (row) {
    throw new CorruptionError({ file, section: `${TABLE.entries} pos ${row[0]}` }, `the entry has an id of SQLite type ${row[1].toUpperCase()}; ids must be INTEGER or TEXT`);
  }
}
