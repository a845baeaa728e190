/**
 * Reads a reference-000 state file (the reference DatabasePersistence's JSON: `{ version, options,
 * stats, vectors: [{ id, vector, metadata }], timestamp, checksum }`, plain, gzip or brotli) into
 * Columns, streaming: one window of text plus the output columns, whatever the file size.
 */
import { brotliDecompressSync, constants as zc } from 'node:zlib';
import { CorruptionError, QuiverError, ioError } from '../../errors.js';
import type { Columns, Id } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import { ProgressReporter } from '../../util/progress.js';
import { ColumnsBuilder } from '../columns-builder.js';
import { DEFAULT_IMPORT_METRIC, type ExchangeReadOptions, type ImportedColumns } from '../exchange.js';
import { parseJsonSlice, scanValue } from '../json/tokenizer.js';
import { checkedCap, type ByteSource, type JsonCompression } from '../stream/sources.js';
import { CanonicalHash } from './canonical.js';
import { duplicateIdError, openFile, withSource, type OpenedFile } from './files.js';
import { walkJson, type WalkHandler } from './json-walk.js';
import { windowSizeFor } from '../stream/window.js';
import { entryId, entryMetadata, readEntry } from './ref000-entry.js';
import { readReference000Header } from './ref000-header.js';

/** Options of {@link readReference000}; `windowSize` is for tests (a tiny window splits every unit). */
export interface Reference000ReadOptions extends ExchangeReadOptions {
  windowSize?: number;
}

const VECTORS = 'vectors';
const CHECKSUM = 'checksum';
/** Generous ratio of JSON to compressed size, used only to bound an up-front allocation. */
const HINT_RATIO = 20;

/** First pass: the entries into a ColumnsBuilder, members kept, whitespace-stripped text hashed. */
class StateHandler implements WalkHandler {
  readonly members = new Map<string, unknown>();
  readonly builder = new ColumnsBuilder();
  checksum: unknown;
  checksumOffset = 0;
  private fed = 0;
  private readonly firstAt = new Map<Id, number>();

  constructor(private readonly file: string, private readonly hash: CanonicalHash | undefined, private readonly sizeBound: number) {
    hash?.text('{');
  }

  member(name: string, value: unknown, buf: Uint8Array, start: number, end: number, offset: number): void {
    if (name === CHECKSUM) {
      this.checksum = value;
      this.checksumOffset = offset;
      return;
    }
    if (name === 'format' && value === 'quiverdb') {
      throw new QuiverError('UNSUPPORTED_FORMAT', `${this.file} is a QuiverDB JSON state file, not a reference one; import it with the 'json' format.`, { file: this.file });
    }
    this.members.set(name, value);
    if (this.hash) {
      if (this.fed++ > 0) this.hash.text(',');
      this.hash.stripped(buf, start, end);
    }
  }

  arrayStart(): void {
    if (this.hash) this.hash.text(this.fed++ > 0 ? ',"vectors":[' : '"vectors":[');
    // The reference writes options and stats before the vectors: size the store from them.
    const dimension = readReference000Header(this.membersWithVersion(), this.file).dimension;
    if (dimension === undefined) return;
    const count = (this.members.get('stats') as { count?: unknown } | undefined)?.count;
    if (typeof count === 'number') this.builder.capacityHint(Math.min(count, Math.floor(this.sizeBound / (2 * dimension + 20))));
    this.builder.setDimension(dimension);
  }

  /** The members, with a stand-in version when it comes later in the file (checked at the end). */
  private membersWithVersion(): Map<string, unknown> {
    if (this.members.has('version')) return this.members;
    return new Map([...this.members, ['version', '1']]);
  }

  element(buf: Uint8Array, pos: number, end: number, index: number, offset: number): number {
    const hash = this.hash;
    let mark = 0;
    if (hash) {
      // The stripped entry is never longer than the rest of the window: room for all of it now, so
      // an entry cut off by the window's end (NEED_MORE) can be taken back.
      hash.reserve(end - pos + 1);
      mark = hash.mark;
      if (index > 0) hash.byte(44);
    }
    let e: number;
    try {
      e = readEntry(buf, pos, end, this.builder, `${VECTORS}[${index}]`, hash);
    } catch (err) {
      hash?.rewind(mark);
      throw err;
    }
    const first = this.firstAt.get(entryId);
    if (first !== undefined) throw duplicateIdError(this.file, `${VECTORS}[${index}].id`, entryId, `${VECTORS}[${first}]`, `${VECTORS}[${index}]`, offset);
    this.firstAt.set(entryId, index);
    this.builder.commit(entryId, entryMetadata);
    return e;
  }

  arrayEnd(): void {
    this.hash?.text(']');
  }

  digest(): string | undefined {
    this.hash?.text('}');
    return this.hash?.digest();
  }
}

/** Second pass (only after the fast hash did not match): every value re-serialised as JSON.stringify would. */
class ExactHandler implements WalkHandler {
  private readonly hash = new CanonicalHash();
  private fed = 0;

  constructor() {
    this.hash.text('{');
  }

  member(name: string, value: unknown): void {
    if (name === CHECKSUM) return;
    if (this.fed++ > 0) this.hash.text(',');
    this.hash.text(`${JSON.stringify(name)}:${JSON.stringify(value)}`);
  }

  arrayStart(): void {
    this.hash.text(this.fed++ > 0 ? ',"vectors":[' : '"vectors":[');
  }

  element(buf: Uint8Array, pos: number, end: number, index: number): number {
    const e = scanValue(buf, pos, end);
    if (index > 0) this.hash.text(',');
    this.hash.text(JSON.stringify(parseJsonSlice(buf, pos, e)));
    return e;
  }

  arrayEnd(): void {
    this.hash.text(']');
  }

  digest(): string {
    this.hash.text('}');
    return this.hash.digest();
  }
}

const PROBE_BYTES = 4096;
const PROBE_OUTPUT = 1 << 16;

/** True when the bytes start (after a BOM and whitespace) like a JSON object or array. */
function looksLikeJson(b: Uint8Array): boolean {
  let i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  return i < b.length && (b[i] === 0x7b || b[i] === 0x5b);
}

/** True when `head` is the start of a brotli stream of JSON (or of something huge: a bomb for the reader to stop). */
function looksLikeBrotli(head: Uint8Array): boolean {
  try {
    const out = brotliDecompressSync(head, { finishFlush: zc.BROTLI_OPERATION_FLUSH, maxOutputLength: PROBE_OUTPUT });
    return looksLikeJson(out);
  } catch (err) {
    return (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
  }
}

/** Plain, gzip (magic 1f 8b) or brotli (by trial); anything else is UNSUPPORTED_FORMAT. */
async function compressionOf(file: OpenedFile, path: string): Promise<JsonCompression> {
  const head = new Uint8Array(Math.min(PROBE_BYTES, file.size));
  let n = 0;
  while (n < head.length) {
    let got: number;
    try {
      got = await file.handle.read(head, n, n, head.length - n);
    } catch (err) {
      throw ioError(err, 'read', path);
    }
    if (got <= 0) break;
    n += got;
  }
  const b = head.subarray(0, n);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (looksLikeJson(b)) return 'none';
  if (b.length > 0 && looksLikeBrotli(b)) return 'brotli';
  throw new QuiverError('UNSUPPORTED_FORMAT', `${path} is not JSON (plain, gzip or brotli), so it is not a reference DatabasePersistence state file.`, { file: path });
}

/** Builds the Columns from a finished first pass, checking what the header declares against the entries. */
function finish(h: StateHandler, sawArray: boolean, file: string): { columns: Columns; metricKnown: boolean; user: Record<string, unknown> } {
  const header = readReference000Header(h.members, file);
  if (!sawArray) throw new CorruptionError({ file, section: VECTORS }, 'the "vectors" member is missing');
  const b = h.builder;
  if (header.count !== undefined && header.count !== b.count) {
    throw new CorruptionError({ file, section: 'stats.count' }, `it says ${header.count} entries but "vectors" holds ${b.count}`);
  }
  if (header.dimension !== undefined && b.dimension !== 0 && b.dimension !== header.dimension) {
    throw new CorruptionError({ file, section: VECTORS }, `the vectors have ${b.dimension} numbers but the header says dimension ${header.dimension} (dimension mismatch)`);
  }
  const dimension = header.dimension ?? b.dimension;
  if (dimension === 0) throw new CorruptionError({ file, section: 'options.dimension' }, 'the file holds no vectors and declares no dimension, so the collection cannot be created');
  const columns: Columns = {
    dimension,
    metric: header.metric ?? DEFAULT_IMPORT_METRIC,
    ids: b.ids,
    vectors: b.count === 0 ? new Float32Array(0) : b.finalVectors(),
    metadata: b.metadata,
  };
  return { columns, metricKnown: header.metric !== undefined, user: header.user };
}

/**
 * Reads the reference-000 state at `path`. Verifies its checksum (when present, unless
 * `verifyChecksum` is false) exactly as the reference computes it; a mismatch is CHECKSUM_MISMATCH.
 */
export async function readReference000(fs: FileSystem, path: string, options: Reference000ReadOptions = {}): Promise<ImportedColumns> {
  const file: OpenedFile = await openFile(fs, path);
  try {
    const compression = await compressionOf(file, path);
    const cap = compression === 'none' ? undefined : checkedCap(options.maxDecompressedBytes);
    const sizeBound = compression === 'none' ? file.size : Math.min(cap ?? Infinity, file.size * HINT_RATIO);
    const verify = options.verifyChecksum !== false;
    const progress = new ProgressReporter('import', file.size, options.onProgress);
    const walk = (source: ByteSource, handler: WalkHandler) =>
      walkJson(
        source,
        { file: path, arrayMember: VECTORS, windowSize: options.windowSize ?? windowSizeFor(sizeBound), progressTotal: file.size, onProgress: progress.child(0, file.size), signal: options.signal },
        handler,
      );
    const h = new StateHandler(path, verify ? new CanonicalHash() : undefined, sizeBound);
    const { sawArray } = await withSource(file, path, compression, cap, (source) => walk(source, h));
    if (!h.members.has('version') && !sawArray) {
      throw new QuiverError('UNSUPPORTED_FORMAT', `${path} is JSON but not a reference DatabasePersistence state (it has neither "version" nor "vectors").`, { file: path });
    }
    // The checksum first: a damaged file is reported as damaged, not by the first rule its damage breaks.
    const stored = h.checksum;
    if (verify && stored !== undefined && typeof stored !== 'string') throw new CorruptionError({ file: path, section: CHECKSUM, offset: h.checksumOffset }, 'it must be a string');
    if (verify && stored !== undefined && h.digest() !== stored) {
      const exact = new ExactHandler();
      await withSource(file, path, compression, cap, (source) => walk(source, exact));
      const computed = exact.digest();
      if (computed !== stored) {
        throw new CorruptionError(
          { file: path, section: CHECKSUM, offset: h.checksumOffset },
          `checksum mismatch: the file says ${stored} but its content hashes to ${computed} (SHA-256 of the state without "checksum", as the reference computes it); import with verifyChecksum: false to read it anyway`,
          'CHECKSUM_MISMATCH',
        );
      }
    }
    const result = finish(h, sawArray, path);
    progress.finish('imported');
    return { ...result, checksum: typeof stored === 'string' ? stored : undefined };
  } finally {
    await file.handle.close().catch(() => undefined);
  }
}
