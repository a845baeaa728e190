/**
 * Reads a Parquet file into Columns, row group by row group: the vector column through the fast path
 * of vector-reader.ts straight into one preallocated Float32Array, the id / id_num / metadata columns
 * by the strict checker (our files) or hyparquet (foreign files) after their pages were checked. A row
 * group's vector chunk is read on the I/O thread while its other columns are decoded and the previous
 * group's entries are committed. Any problem throws; nothing partial is returned.
 */
import type { DecodedArray, FileMetaData, ParquetScan } from 'hyparquet';
import { parquetScan } from 'hyparquet';
import { CorruptionError, QuiverError } from '../../errors.js';
import type { FileHandle, FileSystem } from '../../env/fs.js';
import { MAX_DIMENSION } from '../../engine/validate.js';
import { ProgressReporter } from '../../util/progress.js';
import { ColumnsBuilder } from '../columns-builder.js';
import { DEFAULT_IMPORT_METRIC, type ExchangeReadOptions, type ImportedColumns } from '../exchange.js';
import { openFile } from '../stream/open-file.js';
import { decompressionCap } from '../stream/sources.js';
import { Inflater } from './codecs.js';
import { commitGroup, type GroupValues } from './entries.js';
import { ChunkWindow, ParquetFile } from './file-source.js';
import { VectorChunks } from './vector-source.js';
import { fileFacts, readFooter } from './footer.js';
import { chunkOf, describeLayout, type ChunkRef, type Layout, type Leaf } from './layout.js';
import { checkFlatChunk, type WalkOptions } from './page-reader.js';
import { copyDecodedVectors, probeDimension, readVectorChunk, type VectorTarget } from './vector-reader.js';
import { throwIfAborted } from '../../util/abort.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Encodings that store each float in 4 bytes (levels aside): chunks in only these hold all they declare. */
const SIZE_KEEPING_ENCODINGS = new Set<string>(['PLAIN', 'RLE', 'BIT_PACKED', 'BYTE_STREAM_SPLIT']);

function checkAbort(signal: AbortSignal | undefined, file: string): void {
  throwIfAborted(signal, `Importing ${file} was cancelled; nothing was changed.`);
}

/** Everything one read needs. */
interface ReadContext {
  pf: ParquetFile;
  file: string;
  metadata: FileMetaData;
  layout: Layout;
  dataEnd: number;
  inflater: Inflater;
  walk: WalkOptions;
  scan: ParquetScan;
  /** Section named when hyparquet fails. */
  current: string;
}

/** Runs hyparquet, turning its plain errors into CorruptionErrors naming the file and section. */
async function viaHyparquet<T>(ctx: ReadContext, section: string, run: () => Promise<T>): Promise<T> {
  ctx.current = section;
  try {
    return await run();
  } catch (err) {
    if (err instanceof QuiverError) throw err;
    throw new CorruptionError({ file: ctx.file, section }, `it cannot be decoded (${(err as Error).message})`, 'CORRUPT', { cause: err });
  }
}

/** A flat column chunk of one row group whose read has started. */
interface FlatChunk {
  leaf: Leaf;
  ref: ChunkRef;
  win: ChunkWindow;
}

/** Starts reading one flat column's chunk of row group `g`. */
function openFlat(ctx: ReadContext, g: number, leaf: Leaf): FlatChunk {
  const ref = chunkOf(ctx.metadata.row_groups[g], g, leaf, ctx.layout, ctx.dataEnd, ctx.file);
  return { leaf, ref, win: ChunkWindow.open(ctx.pf, ref.start, ref.end) };
}

/** Checks a flat chunk's pages and decodes them (our files) or has hyparquet decode them. */
async function decodeFlat(ctx: ReadContext, chunk: FlatChunk, firstRow: number, rows: number): Promise<DecodedArray> {
  const { leaf, ref, win } = chunk;
  const own = await checkFlatChunk(win, ref, rows, { optional: leaf.optional, type: leaf.type }, ctx.walk);
  if (own) return own;
  ctx.pf.prime(ref.start, await win.get(ref.start, ref.end - ref.start));
  const name = leaf.path[0];
  return viaHyparquet(ctx, ref.section, () => ctx.scan.readColumn({ column: name, rowStart: firstRow, rowEnd: firstRow + rows }));
}

function groupRows(metadata: FileMetaData, file: string): number[] {
  const rows = metadata.row_groups.map((rg, g) => {
    const n = Number(rg.num_rows);
    if (!(Number.isSafeInteger(n) && n >= 0)) throw new CorruptionError({ file, section: `row group ${g}` }, `it declares ${String(rg.num_rows)} rows`);
    return n;
  });
  const total = rows.reduce((a, b) => a + b, 0);
  if (BigInt(total) !== metadata.num_rows) throw new CorruptionError({ file, section: 'footer' }, `the row groups hold ${total} rows but the file declares ${String(metadata.num_rows)}`);
  return rows;
}

async function findDimension(ctx: ReadContext, declared: number | undefined, rows: number[]): Promise<number> {
  const g = rows.findIndex((n) => n > 0);
  let dim = declared;
  if (dim === undefined && g >= 0) {
    const ref = chunkOf(ctx.metadata.row_groups[g], g, ctx.layout.vector, ctx.layout, ctx.dataEnd, ctx.file);
    dim = await probeDimension(ChunkWindow.open(ctx.pf, ref.start, ref.end), ref, ctx.layout.vector.maxDef, ctx.inflater, ctx.walk);
    if (dim === 0) {
      const first = rows.slice(0, g).reduce((a, b) => a + b, 0);
      const v = await viaHyparquet(ctx, ref.section, () => ctx.scan.readColumn({ column: ctx.layout.vector.path[0], rowStart: first, rowEnd: first + 1 }));
      dim = Array.isArray(v[0]) ? (v[0] as unknown[]).length : 0;
    }
  }
  if (dim === undefined) {
    throw new QuiverError('UNSUPPORTED_FORMAT', `${ctx.file} has no rows and no "quiverdb.dimension" entry, so the dimension of its vectors is unknown.`, { file: ctx.file });
  }
  if (!(dim >= 1 && dim <= MAX_DIMENSION)) throw new CorruptionError({ file: ctx.file, section: 'column vector' }, `the first vector has ${dim} elements; vectors need 1 to ${MAX_DIMENSION}`);
  return dim;
}

async function readOpen(handle: FileHandle, size: number, path: string, options: ExchangeReadOptions): Promise<ImportedColumns> {
  const { signal } = options;
  const pf = new ParquetFile(handle, path, size);
  const { metadata, dataEnd } = await readFooter(pf, options.verifyChecksum !== false);
  const facts = fileFacts(metadata, path);
  const layout = describeLayout(metadata, path);
  const rows = groupRows(metadata, path);
  const total = rows.reduce((a, b) => a + b, 0);
  if (facts.count !== undefined && facts.count !== total) throw new CorruptionError({ file: path, section: 'key-value metadata "quiverdb.count"' }, `it says ${facts.count} entries but the file holds ${total} rows`);
  const cap = decompressionCap(size, options.maxDecompressedBytes);
  const inflater = new Inflater(path, cap);
  const ctx: ReadContext = { pf, file: path, metadata, layout, dataEnd, inflater, walk: { file: path, verifyCrc: options.verifyChecksum !== false, strict: facts.quiver }, current: 'footer', scan: undefined as unknown as ParquetScan };
  const columns = [layout.id, layout.idNum, layout.metadata, layout.vector].filter((l): l is Leaf => l !== undefined).map((l) => l.path[0]);
  ctx.scan = await viaHyparquet(ctx, 'footer', () =>
    parquetScan({
      file: pf,
      metadata,
      columns,
      useOffsetIndex: false,
      compressors: inflater.compressors(() => ctx.current),
      parsers: { stringFromBytes: (b: Uint8Array) => b && utf8.decode(b), jsonFromBytes: (b: Uint8Array) => b && utf8.decode(b) },
    }),
  );
  const dim = await findDimension(ctx, facts.dimension, rows);
  // The output is bounded by the bytes present (or the decompression cap): a damaged row count
  // cannot make this allocate more.
  if (total * dim * 4 > Math.max(size, cap)) {
    throw new CorruptionError(
      { file: path, section: 'footer' },
      `it declares ${total} vectors of ${dim} floats (${total * dim * 4} bytes), more than its ${size} bytes can hold or decompress to within the allowed ${cap} bytes (pass a larger maxDecompressedBytes if the file is genuine)`,
    );
  }
  // Uncompressed, plainly encoded vector chunks must hold every float they declare: the decompression cap (up to 256×
  // the file) is no bound for them, and a crafted row count would otherwise reserve that much.
  let stored = 0;
  let compressed = false;
  for (const rg of metadata.row_groups) {
    for (const col of rg.columns) {
      const meta = col.meta_data;
      if (!meta || meta.path_in_schema.join('.') !== layout.vector.path.join('.')) continue;
      stored += Number(meta.total_compressed_size);
      // Dictionary and delta encodings shrink values without a codec: only plain values are a bound.
      if (meta.codec !== 'UNCOMPRESSED' || meta.encodings.some((e) => !SIZE_KEEPING_ENCODINGS.has(e))) compressed = true;
    }
  }
  if (!compressed && total * dim * 4 > stored) {
    throw new CorruptionError({ file: path, section: 'footer' }, `it declares ${total} vectors of ${dim} floats (${total * dim * 4} bytes), but its uncompressed, plainly encoded vector column chunks hold only ${stored} bytes`);
  }
  const chunks = new VectorChunks(pf, metadata, layout, dataEnd, rows, dim);
  const builder = new ColumnsBuilder();
  const capacity = Math.ceil(chunks.outputBytes / (4 * dim));
  builder.capacityHint(capacity);
  builder.setDimension(dim);
  const out = builder.reserve(capacity);
  const progress = new ProgressReporter('import', total, options.onProgress);
  progress.countItems(total);
  let firstRow = 0;
  // Ids and metadata of a row group are committed during the next group's vector read.
  let pending: GroupValues | undefined;
  const commitPending = () => {
    if (!pending) return;
    commitGroup(builder, pending, path);
    progress.update(pending.firstRow + pending.rows, `imported ${pending.firstRow + pending.rows} of ${total} entries`);
    pending = undefined;
  };
  for (let g = 0; g < rows.length; g++) {
    checkAbort(signal, path);
    const n = rows[g];
    // All of the group's reads start at once; the vector bytes arrive (on the I/O threads) while the
    // other columns are decoded here.
    const cur = chunks.open(g, out);
    const flats = [layout.id, layout.idNum, layout.metadata].map((leaf) => leaf && openFlat(ctx, g, leaf));
    try {
      const decoded: (DecodedArray | undefined)[] = [];
      for (const f of flats) decoded.push(f && (await decodeFlat(ctx, f, firstRow, n)));
      const [ids, idNums, meta] = decoded as [DecodedArray, DecodedArray | undefined, DecodedArray | undefined];
      pf.clearPrimed();
      commitPending();
      const target: VectorTarget = { out, dimension: dim, firstRow, rows: n, maxDef: layout.vector.maxDef };
      if (!(await readVectorChunk(cur.win, cur.ref, target, inflater, ctx.walk))) {
        const decoded = await viaHyparquet(ctx, cur.ref.section, () => ctx.scan.readColumn({ column: layout.vector.path[0], rowStart: firstRow, rowEnd: firstRow + n }));
        copyDecodedVectors(decoded, target, path, cur.ref.section);
      }
      chunks.done(g, cur);
      pending = { firstRow, rows: n, ids, idNums, metadata: meta };
    } finally {
      await Promise.all([cur, ...flats].map((c) => c?.win.settle()));
    }
    firstRow += n;
  }
  commitPending();
  progress.finish(`imported ${total} entries`);
  return {
    columns: { dimension: dim, metric: facts.metric ?? DEFAULT_IMPORT_METRIC, ids: builder.ids, vectors: builder.finalVectors(), metadata: builder.metadata },
    metricKnown: facts.metric !== undefined,
    user: facts.user,
  };
}

/** Reads the Parquet file at `path` into Columns (see docs/FORMAT.md "Parquet"). */
export async function readParquet(fs: FileSystem, path: string, options: ExchangeReadOptions = {}): Promise<ImportedColumns> {
  checkAbort(options.signal, path);
  const { handle, size } = await openFile(fs, path);
  try {
    return await readOpen(handle, size, path, options);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
