/**
 * Writes a CollectionImage as a Parquet file (docs/FORMAT.md "Parquet"), row group by row group,
 * published atomically. Columns per row group, in file order: id, vector, metadata, id_num. The footer
 * (thrift FileMetaData) is serialized by hyparquet-writer.
 */
import type { FileMetaData, KeyValue, RowGroup, SchemaElement } from 'hyparquet';
import { ByteWriter } from 'hyparquet-writer';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { QuiverError } from '../../errors.js';
import type { FileSystem } from '../../env/fs.js';
import { publishAtomically } from '../../env/atomic.js';
import type { CollectionImage } from '../../engine/types.js';
import { ProgressReporter } from '../../util/progress.js';
import { isPlainObject, jsonProblem } from '../../util/msgpack.js';
import { metadataText } from '../json/write-values.js';
import type { ExchangeWriteOptions, ExchangeWriteResult } from '../exchange.js';
import { COLUMN, CREATED_BY, ELEMENT_NODE, GROUP_VECTOR_BYTES, KV, LIST_NODE, MAGIC, MAX_GROUP_ROWS, PAGE_BYTES, PARQUET_FORMAT_NAME, PARQUET_FORMAT_VERSION } from './constants.js';
import { HandleSink } from './sink.js';
import { FOOTER_CRC_PLACEHOLDER, sealFooter } from './footer-check.js';
import { Scratch, VectorFeed, writeInt64Chunk, writeTextChunk, writeVectorChunk } from './pages.js';
import { throwIfAborted } from '../../util/abort.js';

/** The schema of every file this writer produces. */
export function quiverSchema(): SchemaElement[] {
  return [
    { name: 'schema', num_children: 4 },
    { name: COLUMN.id, type: 'BYTE_ARRAY', repetition_type: 'REQUIRED', converted_type: 'UTF8', logical_type: { type: 'STRING' } },
    { name: COLUMN.vector, repetition_type: 'REQUIRED', num_children: 1, converted_type: 'LIST', logical_type: { type: 'LIST' } },
    { name: LIST_NODE, repetition_type: 'REPEATED', num_children: 1 },
    { name: ELEMENT_NODE, type: 'FLOAT', repetition_type: 'REQUIRED' },
    { name: COLUMN.metadata, type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL', converted_type: 'JSON', logical_type: { type: 'JSON' } },
    { name: COLUMN.idNum, type: 'INT64', repetition_type: 'OPTIONAL', converted_type: 'INT_64' },
  ];
}

/** Rows per row group and per vector page for a dimension. */
export function groupShape(dimension: number): { groupRows: number; pageRows: number } {
  const pageRows = Math.max(1, Math.floor(PAGE_BYTES / (4 * dimension)));
  const groupRows = Math.max(1, Math.min(MAX_GROUP_ROWS, Math.floor(GROUP_VECTOR_BYTES / (4 * dimension))));
  return { groupRows, pageRows: Math.min(pageRows, groupRows) };
}

function checkOptions(options: ExchangeWriteOptions): Record<string, unknown> {
  const compression = options.compression ?? 'none';
  if (compression !== 'none') {
    throw new QuiverError('UNSUPPORTED_FORMAT', `Parquet export writes uncompressed pages only (compression 'none'); got ${JSON.stringify(compression)}. Omit the compression option.`, { compression });
  }
  const user = options.user ?? {};
  if (!isPlainObject(user)) throw new QuiverError('INVALID_ARGUMENT', 'options.user must be a plain object of JSON values.');
  const problem = jsonProblem(user, 'options.user');
  if (problem) throw new QuiverError('INVALID_ARGUMENT', `${problem}; options.user must be plain JSON.`);
  return user;
}

function checkAbort(signal: AbortSignal | undefined): void {
  throwIfAborted(signal, 'The Parquet export was cancelled; the previous file (if any) is unchanged.');
}

function keyValues(image: CollectionImage, user: Record<string, unknown>): KeyValue[] {
  return [
    { key: KV.format, value: PARQUET_FORMAT_NAME },
    { key: KV.formatVersion, value: String(PARQUET_FORMAT_VERSION) },
    { key: KV.dimension, value: String(image.dimension) },
    { key: KV.metric, value: image.metric },
    { key: KV.count, value: String(image.count) },
    { key: KV.user, value: JSON.stringify(user) },
    // Last, so that a reader sees every other entry covered by it.
    { key: KV.footerCrc, value: FOOTER_CRC_PLACEHOLDER },
  ];
}

/**
 * Streams `image` to a Parquet file at `path` (temp file, fsync, rename, directory fsync). `shape`
 * overrides the row group and page sizes (tests use tiny ones to cross every boundary).
 */
export async function writeParquet(
  fs: FileSystem,
  path: string,
  image: CollectionImage,
  options: ExchangeWriteOptions = {},
  shape?: { groupRows: number; pageRows: number },
): Promise<ExchangeWriteResult> {
  const user = checkOptions(options);
  const { signal } = options;
  checkAbort(signal);
  const dim = image.dimension;
  const n = image.count;
  const { groupRows, pageRows } = shape ?? groupShape(dim);
  const progress = new ProgressReporter('export', n, options.onProgress);
  const bytes = await publishAtomically(fs, path, async (handle) => {
    const sink = new HandleSink(handle, path);
    const scratch = new Scratch();
    const rowGroups: RowGroup[] = [];
    sink.appendBytes(MAGIC);
    const feed = new VectorFeed(image.vectorChunks(groupRows), dim);
    try {
      for (let a = 0; a < n; a += groupRows) {
        checkAbort(signal);
        const b = Math.min(n, a + groupRows);
        const groupStart = sink.offset;
        const ids = image.ids.slice(a, b);
        const columns = [
          await writeTextChunk(sink, scratch, COLUMN.id, ids.map(String), false),
          await writeVectorChunk(sink, feed, [COLUMN.vector, LIST_NODE, ELEMENT_NODE], b - a, dim, pageRows),
          await writeTextChunk(sink, scratch, COLUMN.metadata, image.metadata.slice(a, b).map((m, i) => metadataText(m, a + i)), true),
          await writeInt64Chunk(sink, COLUMN.idNum, ids.map((id) => (typeof id === 'number' ? id : undefined))),
        ];
        const size = BigInt(sink.offset - groupStart);
        rowGroups.push({ columns, num_rows: BigInt(b - a), total_byte_size: size, total_compressed_size: size, file_offset: BigInt(groupStart) });
        progress.update(b, `exported ${b} of ${n} entries`);
      }
    } finally {
      feed.close();
    }
    checkAbort(signal);
    const meta: Omit<FileMetaData, 'metadata_length'> = {
      version: 2,
      schema: quiverSchema(),
      num_rows: BigInt(n),
      row_groups: rowGroups,
      key_value_metadata: keyValues(image, user),
      created_by: CREATED_BY,
    };
    const footer = new ByteWriter(1 << 16);
    writeMetadata(footer, meta as FileMetaData);
    const bytes = footer.getBytes();
    // The last four bytes are the metadata length, outside the sealed region.
    sealFooter(bytes.subarray(0, bytes.length - 4));
    sink.appendBytes(bytes);
    sink.appendBytes(MAGIC);
    await sink.finish();
    return sink.offset;
  }, { signal });
  progress.finishDone(`exported ${n} entries`);
  return { path, files: [path], bytes, count: n };
}
