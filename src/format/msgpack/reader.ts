/**
 * `readMsgpack`: decodes a QuiverDB MessagePack export into Columns, streaming over a refillable
 * window (values may be split across reads at any byte). The header fixes the dimension and a
 * capacity hint; entries are decoded one by one (vector bytes straight into the slab); the trailer
 * must follow the last entry and end the file, and its SHA-256 covers every byte before it.
 */
import { CorruptionError } from '../../errors.js';
import type { Columns } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import { isPlainObject, unpackOne } from '../../util/msgpack.js';
import { ColumnsBuilder } from '../columns-builder.js';
import type { ExchangeReadOptions, ImportedColumns } from '../exchange.js';
import { ByteWindow } from '../json/byte-window.js';
import type { ByteSource } from '../stream/sources.js';
import { decodeEntry, entryBadElement, entryId, entryMeta } from './entry.js';
import { idLabel, readExchangeFile, type ExchangeSourceOptions } from '../stream/exchange-io.js';
import { startPrefault, type Prefault } from '../../util/hash-worker.js';
import { sniffMsgpack, validateHeader, validateTrailer, type MsgpackHeader } from './header.js';
import { WireProblem, mapSizeAt, skipValue } from './wire.js';

/** Options of {@link readMsgpackFrom} (the source-level entry point; tests feed split chunks). */
export interface ReadMsgpackSourceOptions extends ExchangeSourceOptions {
  /**
   * Vector stores of at least this many bytes are faulted in by the helper thread just ahead of the
   * decoder (util/prefault-pages.ts; on some VMs touching fresh memory costs more than decoding).
   * Default PREFAULT_MIN_BYTES.
   */
  prefaultMinBytes?: number;
}

/** Default of {@link ReadMsgpackSourceOptions.prefaultMinBytes}. */
export const PREFAULT_MIN_BYTES = 32 << 20;

const S_HEADER = 0;
const S_ENTRIES = 1;
const S_TRAILER = 2;
const S_DONE = 3;

/** Smallest encoded entry of dimension `dim`: fixmap, "id" + 1-byte id, "vector" + bin32 header + floats. */
const minEntryBytes = (dim: number) => 1 + 4 + 7 + 5 + dim * 4;

class MsgpackParser extends ByteWindow {
  private header: MsgpackHeader | undefined;
  private readonly builder = new ColumnsBuilder({ shared: true });
  /** File offset of each committed entry (for messages about duplicates and bad floats). */
  private offsets = new Float64Array(16);
  private checksum = '';
  /** The first entry holding a NaN or ±Infinity, and the element (reported after the checksum). */
  private badEntry = -1;
  private badElement = -1;
  private prefault: Prefault | undefined;
  /** The vector store the prefault runs over (a reallocation ends it). */
  private prefaulted: Float32Array | undefined;

  constructor(source: ByteSource, private readonly opts: ReadMsgpackSourceOptions) {
    super(source, { file: opts.file, verifyChecksum: opts.verifyChecksum ?? true, windowSize: opts.windowSize, progressTotal: opts.progressTotal, onProgress: opts.onProgress, signal: opts.signal });
  }

  async run(): Promise<ImportedColumns> {
    try {
      for (;;) {
        this.checkAbort();
        await this.refill();
        this.reportFront();
        this.parseAvailable();
        if (this.eof) break;
      }
    } finally {
      this.prefault?.stop();
    }
    if (this.state !== S_DONE) {
      const what = this.state === S_HEADER ? 'the header' : this.state === S_ENTRIES ? `entry ${this.builder.count} of ${this.header!.count}` : 'the trailer';
      throw this.corrupt(this.pos, this.section(), `the file ends inside or before ${what} (it is truncated)`);
    }
    return this.finish();
  }

  /** Before a window is decoded: tells the prefault where the decoder writes now. */
  private reportFront(): void {
    if (!this.prefault) return;
    const b = this.builder;
    if (this.prefaulted !== b.vectors) {
      // The store was reallocated (the header under-counted): stop faulting the old one.
      this.prefault.stop();
      this.prefault = undefined;
      return;
    }
    this.prefault.advance(b.count * b.dimension);
  }

  private corrupt(rel: number, section: string, problem: string, code: 'CORRUPT' | 'CHECKSUM_MISMATCH' = 'CORRUPT'): CorruptionError {
    return new CorruptionError({ file: this.opts.file, section, offset: this.base + rel }, problem, code);
  }

  private section(field = ''): string {
    if (this.state === S_HEADER) return 'header';
    if (this.state === S_ENTRIES) return `entry ${this.builder.count}${field}`;
    return 'trailer';
  }

  private parseAvailable(): void {
    this.parseResumable(
      () => this.step(),
      (err) => (err instanceof WireProblem ? this.corrupt(err.pos, this.section(err.field), err.problem) : err),
    );
  }

  private step(): void {
    const buf = this.buf;
    const end = this.end;
    if (this.state === S_HEADER) this.decodeHeader(buf, end);
    if (this.state === S_ENTRIES) this.decodeEntries(buf, end);
    if (this.state === S_TRAILER) this.decodeTrailer(buf, end);
    if (this.state === S_DONE && this.pos < end) throw new WireProblem(this.pos, `${end - this.pos} bytes follow the trailer (the file must end there)`);
  }

  private decodeHeader(buf: Uint8Array, end: number): void {
    const pos = this.pos;
    // Not a map at all: not ours (reported as UNSUPPORTED_FORMAT, before reading any further).
    if (mapSizeAt(buf, pos, end) < 0) validateHeader(this.opts.file, undefined, this.base + pos);
    const e = skipValue(buf, pos, end);
    let value: unknown;
    try {
      value = unpackOne(buf.subarray(pos, e));
    } catch (err) {
      throw new WireProblem(pos, `the header cannot be decoded (${(err as Error).message})`);
    }
    const h = validateHeader(this.opts.file, value, this.base + pos);
    this.header = h;
    const b = this.builder;
    // The header's count is only a hint: never reserve more than the bytes present could hold.
    const bound = this.opts.sizeBound ?? Infinity;
    b.capacityHint(Math.min(h.count, Math.floor(bound / minEntryBytes(h.dimension)) + 1));
    b.setDimension(h.dimension);
    this.progress.countItems(h.count);
    if (b.vectors.length * 4 >= (this.opts.prefaultMinBytes ?? PREFAULT_MIN_BYTES)) {
      this.prefaulted = b.vectors;
      this.prefault = startPrefault(new Int32Array(b.vectors.buffer, b.vectors.byteOffset, b.vectors.length));
    }
    this.state = h.count > 0 ? S_ENTRIES : S_TRAILER;
    this.commit(e);
  }

  private decodeEntries(buf: Uint8Array, end: number): void {
    const b = this.builder;
    const total = this.header!.count;
    let pos = this.pos;
    while (b.count < total) {
      if ((b.count & 4095) === 4095) this.checkAbort();
      const e = decodeEntry(buf, pos, end, b);
      if (e < 0) throw new WireProblem(pos, `the trailer comes after ${b.count} entries but the header says ${total}`);
      const index = b.count;
      if (!b.commit(entryId, entryMeta)) {
        const first = b.ids.indexOf(entryId);
        throw new WireProblem(pos, `duplicate id ${idLabel(entryId)} (${typeof entryId}): entries ${first} (byte ${this.offsets[first]}) and ${index} (byte ${this.base + pos}) both hold it`);
      }
      if (entryBadElement >= 0 && this.badEntry < 0) {
        this.badEntry = index;
        this.badElement = entryBadElement;
      }
      if (index === this.offsets.length) {
        const grown = new Float64Array(index * 2);
        grown.set(this.offsets);
        this.offsets = grown;
      }
      this.offsets[index] = this.base + pos;
      pos = e;
      this.commit(pos);
    }
    this.state = S_TRAILER;
  }

  private decodeTrailer(buf: Uint8Array, end: number): void {
    const pos = this.pos;
    const e = skipValue(buf, pos, end);
    if (mapSizeAt(buf, pos, end) < 0) throw new WireProblem(pos, `expected the trailer map after ${this.header!.count} entries`);
    let value: unknown;
    try {
      value = unpackOne(buf.subarray(pos, e));
    } catch (err) {
      throw new WireProblem(pos, `the trailer cannot be decoded (${(err as Error).message})`);
    }
    if (isPlainObject(value) && value.end === undefined && 'vector' in value) {
      throw new WireProblem(pos, `an entry follows the ${this.header!.count} entries the header announces (expected the trailer)`);
    }
    this.checksum = validateTrailer(this.opts.file, value, this.base + pos, this.header!.count);
    this.hashLimit = this.base + pos;
    this.state = S_DONE;
    this.commit(e);
  }

  private finish(): ImportedColumns {
    this.hashUpTo(this.end);
    const computed = this.digest();
    if (computed !== undefined && computed !== this.checksum) {
      throw new CorruptionError(
        { file: this.opts.file, section: 'trailer.checksum', offset: this.hashLimit },
        `checksum mismatch: the trailer says ${this.checksum} but the bytes before it hash to ${computed}`,
        'CHECKSUM_MISMATCH',
      );
    }
    const b = this.builder;
    const h = this.header!;
    const vectors = b.count === 0 ? new Float32Array(0) : b.finalVectors();
    if (this.badEntry >= 0) {
      const i = this.badEntry;
      const j = this.badElement;
      throw new CorruptionError(
        { file: this.opts.file, section: `entry ${i}.vector`, offset: this.offsets[i] },
        `element ${j} of the vector of id ${idLabel(b.ids[i])} is ${vectors[i * h.dimension + j]}; vectors must be finite float32`,
      );
    }
    this.finishProgress('loaded');
    const columns: Columns = { dimension: h.dimension, metric: h.metric, ids: b.ids, vectors, metadata: b.metadata };
    return { columns, metricKnown: true, user: h.user, checksum: this.checksum };
  }
}

/** Decodes an export from any byte source (see {@link readMsgpack}). */
export function readMsgpackFrom(source: ByteSource, opts: ReadMsgpackSourceOptions): Promise<ImportedColumns> {
  return new MsgpackParser(source, opts).run();
}

/**
 * Reads the QuiverDB MessagePack export at `path` (plain, gzip or brotli, detected from its bytes).
 * Damage → CorruptionError naming the file, the entry and the byte offset; never partial data.
 */
export function readMsgpack(fs: FileSystem, path: string, options?: ExchangeReadOptions): Promise<ImportedColumns> {
  return readExchangeFile(fs, path, sniffMsgpack, options, (source, opts) => readMsgpackFrom(source, opts));
}
