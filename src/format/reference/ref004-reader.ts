/**
 * Reads a reference-004 store directory: `ann_metadata.json` (`{ dimension, algorithm, vectorCount,
 * faissAvailable, vectors: [[id, number[]], ...] }`) and `payloads.json` (`[[id, payload], ...]`),
 * both streamed. Numeric ids stay numbers. `ann_index.faiss` is never read (the reference never
 * wrote a real index). The rules are in docs/FORMAT.md.
 */
import { basename, dirname, join } from 'node:path';
import { CorruptionError } from '../../errors.js';
import type { Columns, Id, Metadata } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import { ProgressReporter } from '../../util/progress.js';
import { ColumnsBuilder } from '../columns-builder.js';
import { DEFAULT_IMPORT_METRIC, type ExchangeReadOptions, type ImportedColumns } from '../exchange.js';
import { MAX_DIMENSION } from '../json/entry-parser.js';
import { JsonSyntaxError, expected, skipWs } from '../json/tokenizer.js';
import { duplicateIdError, fileExists, openFile, withSource, type OpenedFile } from './files.js';
import { walkJson, type WalkHandler } from './json-walk.js';
import { windowSizeFor } from '../stream/window.js';
import { failedNumber, lastId, lastMetadata, readId, readMetadata, readVector } from './values.js';

/** The reference-004 file holding the vectors. */
export const REFERENCE_METADATA_FILE = 'ann_metadata.json';
/** The reference-004 file holding the payloads (optional). */
export const REFERENCE_PAYLOADS_FILE = 'payloads.json';

/** Options of {@link readReference004}. */
export interface Reference004ReadOptions extends ExchangeReadOptions {
  /** Initial window size (tests use a tiny one to split every element). */
  windowSize?: number;
  /** Dimension to use when the file declares none and holds no vectors (the store knows its own). */
  fallbackDimension?: number;
}

/** Names a syntax error that carries no JSON path yet with `path`. */
function named(err: unknown, path: string): unknown {
  if (err instanceof JsonSyntaxError && err.path === '') err.path = path;
  return err;
}

/** Reads the `[id, [numbers]]` pairs of ann_metadata.json into a builder. */
class VectorsHandler implements WalkHandler {
  readonly builder = new ColumnsBuilder();
  readonly members = new Map<string, unknown>();
  private readonly firstAt = new Map<Id, number>();

  constructor(private readonly file: string, private readonly sizeBound: number) {}

  member(name: string, value: unknown): void {
    this.members.set(name, value);
  }

  arrayStart(): void {
    const d = this.members.get('dimension');
    if (d === undefined) return;
    checkDimension(d, this.file);
    const dim = d as number;
    this.builder.capacityHint(Math.floor(this.sizeBound / (2 * dim + 8)));
    this.builder.setDimension(dim);
  }

  element(buf: Uint8Array, pos: number, end: number, index: number, offset: number): number {
    const b = this.builder;
    const path = `vectors[${index}]`;
    let where = path;
    let p = pos;
    try {
      if (buf[p] !== 91 /* [ */) expected(buf, p, end, 'an [id, vector] pair');
      where = `${path}[0]`;
      p = skipWs(buf, readId(buf, skipWs(buf, p + 1), end));
      where = path;
      if (buf[p] !== 44 /* , */) expected(buf, p, end, '"," after the id');
      where = `${path}[1]`;
      p = skipWs(buf, readVector(buf, skipWs(buf, p + 1), end, b));
      where = path;
      if (buf[p] !== 93 /* ] */) expected(buf, p, end, '"]" closing the [id, vector] pair');
    } catch (err) {
      throw named(err, where === `${path}[1]` && failedNumber >= 0 ? `${where}[${failedNumber}]` : where);
    }
    const id = lastId;
    const first = this.firstAt.get(id);
    if (first !== undefined) throw duplicateIdError(this.file, `${path}[0]`, id, `vectors[${first}]`, path, offset);
    this.firstAt.set(id, index);
    b.commit(id, undefined);
    return p + 1;
  }
}

function checkDimension(d: unknown, file: string): void {
  if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > MAX_DIMENSION) throw new CorruptionError({ file, section: 'dimension' }, `it must be an integer in 1..${MAX_DIMENSION}`);
}

/** Reads the `[id, payload]` pairs of payloads.json. */
class PayloadsHandler implements WalkHandler {
  readonly payloads = new Map<Id, { meta: Metadata | undefined; index: number }>();

  constructor(private readonly file: string) {}

  element(buf: Uint8Array, pos: number, end: number, index: number, offset: number): number {
    const path = `[${index}]`;
    let where = path;
    let p = pos;
    try {
      if (buf[p] !== 91 /* [ */) expected(buf, p, end, 'an [id, payload] pair');
      where = `${path}[0]`;
      p = skipWs(buf, readId(buf, skipWs(buf, p + 1), end));
      where = path;
      if (buf[p] !== 44 /* , */) expected(buf, p, end, '"," after the id');
      where = `${path}[1]`;
      p = skipWs(buf, readMetadata(buf, skipWs(buf, p + 1), end, 'a payload'));
      where = path;
      if (buf[p] !== 93 /* ] */) expected(buf, p, end, '"]" closing the [id, payload] pair');
    } catch (err) {
      throw named(err, where);
    }
    const id = lastId;
    const first = this.payloads.get(id);
    if (first !== undefined) throw duplicateIdError(this.file, `${path}[0]`, id, `[${first.index}]`, path, offset);
    this.payloads.set(id, { meta: lastMetadata, index });
    return p + 1;
  }
}

/** The directory to read: `path` itself, or its parent when `path` names ann_metadata.json. */
async function directoryOf(fs: FileSystem, path: string): Promise<string> {
  if (basename(path) !== REFERENCE_METADATA_FILE) return path;
  try {
    return (await fs.stat(path)).isFile ? dirname(path) : path;
  } catch {
    return path;
  }
}

/**
 * Reads the reference-004 directory `path` into Columns (vectors in ann_metadata.json order, each
 * with its payload from payloads.json, none when it has no payload or a null one). Payloads of ids
 * without a vector are ignored, as the reference store never showed them.
 */
export async function readReference004(fs: FileSystem, path: string, options: Reference004ReadOptions = {}): Promise<ImportedColumns> {
  const dir = await directoryOf(fs, path);
  const metaPath = join(dir, REFERENCE_METADATA_FILE);
  const payPath = join(dir, REFERENCE_PAYLOADS_FILE);
  const meta = await openFile(fs, metaPath, `${metaPath} does not exist: a reference-004 directory holds ann_metadata.json (and optionally payloads.json); pass that directory.`);
  let pay: OpenedFile | undefined;
  try {
    if (await fileExists(fs, payPath)) pay = await openFile(fs, payPath);
    const total = meta.size + (pay?.size ?? 0);
    const progress = new ProgressReporter('import', total, options.onProgress);
    const vh = new VectorsHandler(metaPath, meta.size);
    const vr = await withSource(meta, metaPath, 'none', undefined, (source) =>
      walkJson(source, { file: metaPath, arrayMember: 'vectors', windowSize: options.windowSize ?? windowSizeFor(meta.size), progressTotal: meta.size, onProgress: progress.child(0, meta.size), signal: options.signal }, vh),
    );
    if (!vr.sawArray) throw new CorruptionError({ file: metaPath, section: 'vectors' }, 'it has no "vectors" array');
    const ph = new PayloadsHandler(payPath);
    if (pay) {
      const size = pay.size;
      await withSource(pay, payPath, 'none', undefined, (source) =>
        walkJson(source, { file: payPath, arrayMember: '', windowSize: options.windowSize ?? windowSizeFor(size), progressTotal: size, onProgress: progress.child(meta.size, size), signal: options.signal }, ph),
      );
    }
    const columns = join004(vh, ph, metaPath, options.fallbackDimension);
    progress.finish('imported');
    return { columns, metricKnown: false, user: {} };
  } finally {
    await meta.handle.close().catch(() => undefined);
    await pay?.handle.close().catch(() => undefined);
  }
}

/** Checks the declared facts and pairs every vector with its payload. */
function join004(vh: VectorsHandler, ph: PayloadsHandler, file: string, fallbackDimension: number | undefined): Columns {
  const b = vh.builder;
  const declared = vh.members.get('dimension');
  if (declared !== undefined) {
    checkDimension(declared, file);
    if (b.dimension !== 0 && b.dimension !== declared) {
      throw new CorruptionError({ file, section: 'vectors' }, `the vectors have ${b.dimension} numbers but "dimension" says ${String(declared)} (dimension mismatch)`);
    }
  }
  const count = vh.members.get('vectorCount');
  if (count !== undefined && count !== b.count) throw new CorruptionError({ file, section: 'vectorCount' }, `it says ${JSON.stringify(count)} but "vectors" holds ${b.count} pairs`);
  const dimension = (declared as number | undefined) ?? (b.dimension || fallbackDimension || 0);
  if (dimension === 0) throw new CorruptionError({ file, section: 'dimension' }, 'the file holds no vectors and declares no dimension, so the collection cannot be created');
  const metadata = b.ids.map((id) => ph.payloads.get(id)?.meta);
  return { dimension, metric: DEFAULT_IMPORT_METRIC, ids: b.ids, vectors: b.count === 0 ? new Float32Array(0) : b.finalVectors(), metadata };
}
