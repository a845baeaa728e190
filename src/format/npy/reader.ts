/**
 * Reads an .npy export back: the header (validated against the file size before anything is
 * allocated), the ids sidecar (required), the metadata sidecar (optional) and then the float32 data,
 * read straight into the output array and checked for NaN/Infinity chunk by chunk.
 */
import { endianness } from 'node:os';
import { CorruptionError, ioError } from '../../errors.js';
import type { Columns, Id, Metadata } from '../../engine/types.js';
import { findNonFinite } from '../../engine/load.js';
import type { FileHandle, FileSystem } from '../../env/fs.js';
import { ProgressReporter } from '../../util/progress.js';
import { DEFAULT_IMPORT_METRIC, type ExchangeReadOptions, type ImportedColumns } from '../exchange.js';
import { checkAborted, fileExists, openFile, withSource, type OpenedFile } from '../reference/files.js';
import { HEADER_PROBE_BYTES, parseNpyHeader, type NpyHeader } from './header.js';
import { readIdsFile, readMetadataFile } from './sidecar-readers.js';
import { npySidecarPaths } from './sidecars.js';

/** Bytes read per call (whole rows are not needed: the check runs on whole floats). */
const READ_BYTES = 8 << 20;
const LITTLE_ENDIAN = endianness() === 'LE';

async function readFully(handle: FileHandle, into: Uint8Array, position: number, file: string): Promise<number> {
  let n = 0;
  while (n < into.length) {
    let got: number;
    try {
      got = await handle.read(into, position + n, n, into.length - n);
    } catch (err) {
      throw ioError(err, 'read', file);
    }
    if (got <= 0) break;
    n += got;
  }
  return n;
}

/** Reads and validates the header of the open .npy file. */
async function readHeader(npy: OpenedFile, file: string): Promise<NpyHeader> {
  const head = new Uint8Array(Math.min(npy.size, HEADER_PROBE_BYTES));
  const n = await readFully(npy.handle, head, 0, file);
  return parseNpyHeader(head.subarray(0, n), npy.size, file);
}

/** Why a data read stopped early without an error of its own (the caller is already failing). */
const STOPPED = new Error('stopped');

/**
 * Reads the float32 data into one array in blocks, keeping the next block's read in flight while
 * the current one is checked for NaN and Infinity. `stopped()` ends it quietly between blocks (the
 * caller failed elsewhere); it never returns with a read still running.
 */
async function readData(npy: OpenedFile, h: NpyHeader, file: string, signal: AbortSignal | undefined, stopped: () => boolean, progress: (bytes: number) => void): Promise<Float32Array> {
  const vectors = new Float32Array(h.rows * h.dimension);
  const bytes = new Uint8Array(vectors.buffer);
  const block = (at: number) => {
    const part = bytes.subarray(at, Math.min(bytes.length, at + READ_BYTES));
    const p = readFully(npy.handle, part, h.dataOffset + at, file);
    p.catch(() => undefined); // awaited below; marked handled in case this function throws first
    return p;
  };
  let next = bytes.length > 0 ? block(0) : undefined;
  for (let at = 0; next; at += READ_BYTES) {
    const got = await next;
    next = undefined;
    const want = Math.min(READ_BYTES, bytes.length - at);
    if (got !== want) throw new CorruptionError({ file, section: 'data', offset: h.dataOffset + at + got }, 'the file ended early (it shrank while being read)');
    if (stopped()) throw STOPPED;
    checkAborted(signal, `Importing ${file}`);
    if (at + want < bytes.length) next = block(at + want);
    try {
      checkBlock(vectors, at, want, h, file);
    } catch (err) {
      await next?.catch(() => undefined);
      throw err;
    }
    progress(at + want);
  }
  return vectors;
}

/** Byte-swaps (big-endian hosts) and checks for NaN/Infinity the floats of bytes [at, at + length). */
function checkBlock(vectors: Float32Array, at: number, length: number, h: NpyHeader, file: string): void {
  if (!LITTLE_ENDIAN) {
    const view = new DataView(vectors.buffer);
    for (let i = at; i < at + length; i += 4) vectors[i >> 2] = view.getFloat32(i, true);
  }
  const bad = findNonFinite(vectors, at >> 2, (at + length) >> 2);
  if (bad < 0) return;
  const row = Math.floor(bad / h.dimension);
  throw new CorruptionError(
    { file, section: `data row ${row}`, offset: h.dataOffset + bad * 4 },
    `element ${bad - row * h.dimension} of vector ${row} is ${vectors[bad]}; vectors must be finite (replace it with np.nan_to_num or drop the row)`,
  );
}

/** Reads the ids file (its count must match the rows) and the metadata file when there is one. */
async function readSidecars(
  ids: OpenedFile,
  meta: OpenedFile | undefined,
  paths: { ids: string; metadata: string },
  header: NpyHeader,
  path: string,
  signal: AbortSignal | undefined,
  progress: ProgressReporter,
): Promise<{ idList: Id[]; metadata: (Metadata | undefined)[] }> {
  const idList = await withSource(ids, paths.ids, 'none', undefined, (source) => readIdsFile(source, { signal, file: paths.ids, size: ids.size, onProgress: progress.child(0, ids.size) }));
  if (idList.length !== header.rows) {
    throw new CorruptionError({ file: paths.ids, section: 'ids' }, `it holds ${idList.length} ids but ${path} holds ${header.rows} vectors; they must match row for row (are the files from the same export?)`);
  }
  if (!meta) return { idList, metadata: new Array<Metadata | undefined>(header.rows).fill(undefined) };
  const metadata = await withSource(meta, paths.metadata, 'none', undefined, (source) =>
    readMetadataFile(source, header.rows, { signal, file: paths.metadata, size: meta.size, onProgress: progress.child(ids.size, meta.size) }),
  );
  return { idList, metadata };
}

/**
 * Reads `path` (an .npy file of shape (count, dimension), '<f4', C order) with its sidecars into
 * Columns. A missing ids file is NOT_FOUND naming the path expected; a missing metadata file means
 * no metadata. The metric is not stored: the columns say 'cosine' and `metricKnown` is false.
 */
export async function readNpy(fs: FileSystem, path: string, options: ExchangeReadOptions = {}): Promise<ImportedColumns> {
  const paths = npySidecarPaths(path);
  const npy = await openFile(fs, path);
  const opened: OpenedFile[] = [npy];
  try {
    const header = await readHeader(npy, path);
    const ids = await openFile(
      fs,
      paths.ids,
      `${paths.ids} does not exist: an .npy import reads the row ids from a JSON array in that file next to ${path} (QuiverDB's npy export writes it). Create it, e.g. json.dump(list_of_ids, open('${paths.ids}', 'w')).`,
    );
    opened.push(ids);
    const meta = (await fileExists(fs, paths.metadata)) ? await openFile(fs, paths.metadata) : undefined;
    if (meta) opened.push(meta);
    const dataBytes = header.rows * header.dimension * 4;
    const sidecarBytes = ids.size + (meta?.size ?? 0);
    const progress = new ProgressReporter('import', sidecarBytes + dataBytes, options.onProgress);
    progress.countItems(header.rows);
    // The data is read on the I/O threads while the sidecars are parsed here.
    let failed = false;
    const data = readData(npy, header, path, options.signal, () => failed, (b) => progress.update(sidecarBytes + b, 'reading vectors'));
    data.catch(() => undefined);
    let idList: Id[];
    let metadata: (Metadata | undefined)[];
    try {
      ({ idList, metadata } = await readSidecars(ids, meta, paths, header, path, options.signal, progress));
    } catch (err) {
      failed = true;
      await data.catch(() => undefined);
      throw err;
    }
    const vectors = await data;
    const columns: Columns = { dimension: header.dimension, metric: DEFAULT_IMPORT_METRIC, ids: idList, vectors, metadata };
    progress.finish('imported');
    return { columns, metricKnown: false, user: {} };
  } finally {
    for (const f of opened) await f.handle.close().catch(() => undefined);
  }
}
