/**
 * Parquet files built for the bad-input tests: our own writer's bytes (with a footer editor that keeps
 * the footer CRC valid, to test the checks behind it), and foreign files made with hyparquet-writer
 * (any list lengths, nulls, page compression), so these tests never need DuckDB.
 */
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import type { CompressionCodec, SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { writeParquet } from '../../../src/format/parquet/index.js';
import { FOOTER_CRC_PLACEHOLDER, sealFooter } from '../../../src/format/parquet/footer-check.js';
import { makeImage, type ImageSpec } from './helpers.js';

/** The bytes our writer produces for `spec`. */
export async function ownBytes(spec: ImageSpec, shape?: { groupRows: number; pageRows: number }): Promise<Uint8Array> {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/w', { recursive: true });
  await writeParquet(fs, '/w/f.parquet', makeImage(spec), {}, shape);
  return Uint8Array.from(await fs.readFile('/w/f.parquet'));
}

/** Where the serialized footer metadata lies: [start, end). */
export function footerRange(bytes: Uint8Array): { start: number; end: number } {
  const end = bytes.length - 8;
  const len = new DataView(bytes.buffer, bytes.byteOffset + end, 4).getUint32(0, true);
  return { start: end - len, end };
}

/**
 * Replaces the value of key-value entry `key` (same length) and re-seals the footer CRC, as a writer
 * that meant it would have.
 */
export function editKeyValue(bytes: Uint8Array, key: string, value: string): Uint8Array {
  const out = Uint8Array.from(bytes);
  const { start, end } = footerRange(out);
  const meta = out.subarray(start, end);
  const buf = Buffer.from(meta.buffer, meta.byteOffset, meta.byteLength);
  const at = buf.indexOf(Buffer.from(key, 'utf8'));
  if (at < 0) throw new Error(`no key ${key}`);
  const valueAt = at + Buffer.byteLength(key) + 2;
  const old = buf[valueAt - 1];
  if (old !== Buffer.byteLength(value)) throw new Error(`value of ${key} has ${old} bytes, not ${Buffer.byteLength(value)}`);
  buf.write(value, valueAt, 'utf8');
  const crcAt = buf.indexOf(Buffer.from('quiverdb.footerCrc32', 'utf8')) + 'quiverdb.footerCrc32'.length + 2;
  buf.write(FOOTER_CRC_PLACEHOLDER, crcAt, 'latin1');
  sealFooter(meta);
  return out;
}

/** One foreign file's content: vectors may be any lists (or null), metadata any text (or null). */
export interface ForeignSpec {
  ids: (string | null)[];
  vectors: (number[] | null)[];
  metadata?: (string | null)[];
  /** An `id_num` column (INT64). */
  idNums?: (bigint | null)[];
  codec?: CompressionCodec;
  elementType?: 'FLOAT' | 'DOUBLE';
}

/** A Parquet file written by hyparquet-writer with DuckDB's layout (optional list, optional element). */
export function foreignBytes(spec: ForeignSpec): Uint8Array {
  const schema: SchemaElement[] = [
    { name: 'root', num_children: 2 + (spec.metadata ? 1 : 0) + (spec.idNums ? 1 : 0) },
    { name: 'id', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', converted_type: 'UTF8' },
    { name: 'vector', repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: spec.elementType ?? 'FLOAT', repetition_type: 'OPTIONAL' },
  ];
  if (spec.metadata) schema.push({ name: 'metadata', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', converted_type: 'UTF8' });
  if (spec.idNums) schema.push({ name: 'id_num', type: 'INT64', repetition_type: 'OPTIONAL' });
  const columnData = [
    { name: 'id', data: spec.ids },
    { name: 'vector', data: spec.vectors },
    ...(spec.metadata ? [{ name: 'metadata', data: spec.metadata }] : []),
    ...(spec.idNums ? [{ name: 'id_num', data: spec.idNums }] : []),
  ];
  const ab = parquetWriteBuffer({
    schema,
    columnData,
    codec: spec.codec ?? 'UNCOMPRESSED',
    compressors: { GZIP: (b: Uint8Array) => gzipSync(b), BROTLI: (b: Uint8Array) => brotliCompressSync(b, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } }) },
    rowGroupSize: 1000,
  });
  return new Uint8Array(ab);
}
