/**
 * The Parquet footer: magic bytes at both ends, the footer CRC (footer-check.ts), the thrift
 * FileMetaData (parsed by hyparquet) and the QuiverDB key-value entries. Every problem names the file;
 * nothing here allocates from an unchecked length.
 */
import type { FileMetaData } from 'hyparquet';
import { parquetMetadata } from 'hyparquet';
import { checkThriftStruct } from './thrift-bounds.js';
import { CorruptionError, QuiverError } from '../../errors.js';
import { METRICS, MAX_DIMENSION } from '../../engine/validate.js';
import type { Metric } from '../../engine/types.js';
import { isPlainObject } from '../../util/msgpack.js';
import { CREATED_BY, ENCRYPTED_MAGIC, FOOTER_TAIL, KV, MAGIC, PARQUET_FORMAT_NAME, PARQUET_FORMAT_VERSION } from './constants.js';
import type { ParquetFile } from './file-source.js';
import { verifyFooter } from './footer-check.js';

/** The parsed footer and where the data region ends. */
export interface Footer {
  metadata: FileMetaData;
  /** File offset of the serialized FileMetaData (column chunks must end at or before it). */
  dataEnd: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Reads and parses the footer; checks its CRC (QuiverDB files) when `verify`. */
export async function readFooter(pf: ParquetFile, verify: boolean): Promise<Footer> {
  const { file, byteLength: size } = pf;
  const headLen = Math.min(size, 4);
  const head = await pf.read(0, headLen);
  if (headLen >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    throw new QuiverError('UNSUPPORTED_FORMAT', `${file} is gzip-compressed; Parquet needs random access, so decompress it first (Parquet compresses its pages itself).`, { file });
  }
  // A file with an encrypted footer starts and ends with "PARE"; one of the two alone is damage.
  const encrypted = sameBytes(head, ENCRYPTED_MAGIC);
  if (!encrypted && !sameBytes(head, MAGIC)) {
    throw new CorruptionError({ file, section: 'header', offset: 0 }, 'the file does not start with the Parquet magic "PAR1" (not a Parquet file)');
  }
  if (size < 4 + FOOTER_TAIL) throw new CorruptionError({ file, section: 'footer', offset: size }, `the file is only ${size} bytes, too short for a Parquet footer (truncated?)`);
  const tail = await pf.read(size - FOOTER_TAIL, size);
  const tailMagic = tail.subarray(4);
  if (encrypted && sameBytes(tailMagic, ENCRYPTED_MAGIC)) {
    throw new QuiverError('UNSUPPORTED_FORMAT', `${file} is an encrypted Parquet file ("PARE"); decrypt it first.`, { file });
  }
  if (encrypted) throw new CorruptionError({ file, section: 'footer', offset: size - 4 }, 'the file starts with the encrypted-Parquet magic "PARE" but does not end with it (truncated or damaged)');
  if (!sameBytes(tailMagic, MAGIC)) {
    throw new CorruptionError({ file, section: 'footer', offset: size - 4 }, 'the file does not end with the Parquet magic "PAR1" (truncated or damaged)');
  }
  const metaLen = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true);
  const dataEnd = size - FOOTER_TAIL - metaLen;
  if (dataEnd < 4) {
    throw new CorruptionError({ file, section: 'footer', offset: size - FOOTER_TAIL }, `the footer claims ${metaLen} bytes of metadata but the file has only ${size - 4 - FOOTER_TAIL}`);
  }
  const bytes = await pf.read(dataEnd, size);
  const sealed = verify && verifyFooter(bytes.subarray(0, bytes.length - FOOTER_TAIL), file, dataEnd);
  let metadata: FileMetaData;
  try {
    // Declared lengths are checked against the bytes first: the parser sizes lists from them.
    checkThriftStruct(bytes.subarray(0, bytes.length - FOOTER_TAIL));
    metadata = parquetMetadata(bytes, { geoparquet: false });
  } catch (err) {
    throw new CorruptionError({ file, section: 'footer', offset: dataEnd }, `the file metadata cannot be parsed (${(err as Error).message})`, 'CORRUPT', { cause: err });
  }
  const ours = metadata.created_by === CREATED_BY || (metadata.key_value_metadata ?? []).some((e) => typeof e.key === 'string' && e.key.startsWith('quiverdb.'));
  if (verify && !sealed && ours) {
    throw new CorruptionError({ file, section: 'footer', offset: dataEnd }, `the QuiverDB footer has no intact "${KV.footerCrc}" entry`);
  }
  return { metadata, dataEnd };
}

/** What the QuiverDB key-value entries say (all optional in foreign files). */
export interface FileFacts {
  /** The file names itself a QuiverDB file (`quiverdb.format`). */
  quiver: boolean;
  dimension?: number;
  metric?: Metric;
  count?: number;
  user: Record<string, unknown>;
}

/** Reads the `quiverdb.*` key-value entries; a present but invalid entry is a CorruptionError. */
export function fileFacts(metadata: FileMetaData, file: string): FileFacts {
  const kv = new Map<string, string | undefined>();
  for (const e of metadata.key_value_metadata ?? []) kv.set(e.key, e.value);
  const bad = (key: string, problem: string): never => {
    throw new CorruptionError({ file, section: `key-value metadata "${key}"` }, problem);
  };
  const version = kv.get(KV.formatVersion);
  if (version !== undefined && version !== String(PARQUET_FORMAT_VERSION)) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${file} uses QuiverDB Parquet layout version ${JSON.stringify(version)}; this QuiverDB reads version ${PARQUET_FORMAT_VERSION}. Upgrade QuiverDB to read it.`, { file, version });
  }
  const format = kv.get(KV.format);
  if (format !== undefined && format !== PARQUET_FORMAT_NAME) bad(KV.format, `${JSON.stringify(format)} is not "${PARQUET_FORMAT_NAME}"`);
  const facts: FileFacts = { quiver: format !== undefined, user: {} };
  const int = (key: string, min: number, max: number): number | undefined => {
    const text = kv.get(key);
    if (text === undefined) return undefined;
    const v = /^(0|[1-9]\d{0,15})$/.test(text) ? Number(text) : NaN;
    if (!(Number.isSafeInteger(v) && v >= min && v <= max)) bad(key, `${JSON.stringify(text)} is not an integer from ${min} to ${max}`);
    return v;
  };
  facts.dimension = int(KV.dimension, 1, MAX_DIMENSION);
  facts.count = int(KV.count, 0, Number.MAX_SAFE_INTEGER);
  const metric = kv.get(KV.metric);
  if (metric !== undefined) {
    if (!(METRICS as readonly string[]).includes(metric)) bad(KV.metric, `${JSON.stringify(metric)} is not one of ${METRICS.join(', ')}`);
    facts.metric = metric as Metric;
  }
  const user = kv.get(KV.user);
  if (user !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(user);
    } catch {
      bad(KV.user, 'it is not valid JSON');
    }
    if (!isPlainObject(parsed)) bad(KV.user, 'it is not a JSON object');
    facts.user = parsed as Record<string, unknown>;
  }
  return facts;
}
