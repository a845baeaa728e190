/**
 * `readJsonl`: reads JSON Lines into Columns, streaming line by line over a refillable window (a line
 * may span many reads; one line is capped). Each entry line is parsed by the JSON format's entry
 * parser with the line's newline swapped for the parser's 0 sentinel, so vector digits go straight
 * into the slab. Our files have a header line and a trailer line (count + SHA-256 of every byte
 * before it); foreign files of bare entry lines are read too (dimension from the first vector).
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Columns } from '../../engine/types.js';
import type { FileSystem } from '../../env/fs.js';
import { ColumnsBuilder } from '../columns-builder.js';
import { DEFAULT_IMPORT_METRIC, type ExchangeReadOptions, type ImportedColumns } from '../exchange.js';
import { ByteWindow } from '../json/byte-window.js';
import { parseEntry, parsedId } from '../json/entry-parser.js';
import { JsonSyntaxError, NEED_MORE, decodeUtf8, skipWs } from '../json/tokenizer.js';
import { idLabel, readExchangeFile, type ExchangeSourceOptions } from '../stream/exchange-io.js';
import type { ByteSource } from '../stream/sources.js';
import { MAIN_SHARE, SPLIT_MIN_BYTES, acquireLinePool, lineWorkerCount, releaseLinePool, type LinePool } from './line-pool.js';
import type { LineRunReply } from './line-run.js';
import { KEY_END, KEY_FORMAT, firstKeyIs, sniffJsonl, validateHeader, validateTrailer, type JsonlHeader } from './header.js';
import { parseJsonText } from '../../util/json-text.js';

/** Longest line accepted by default (a longer one is a CorruptionError naming its line number). */
export const DEFAULT_MAX_LINE_BYTES = 64 << 20;

/** Options of {@link readJsonlFrom} (the source-level entry point; tests feed split chunks). */
export interface ReadJsonlSourceOptions extends ExchangeSourceOptions {
  /** Longest line accepted (default {@link DEFAULT_MAX_LINE_BYTES}). */
  maxLineBytes?: number;
  /** Helper threads parsing lines (0 or 1; default 1 when `sizeBound` is 32 MB or more on a multi-core machine). */
  workers?: number;
  /** Smallest run of complete lines worth splitting with the helper (tests lower it). */
  splitMinBytes?: number;
}

const isBlank = (buf: Uint8Array, from: number, to: number): boolean => {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
};

class JsonlParser extends ByteWindow {
  private line = 0;
  private header: JsonlHeader | undefined;
  private sawContent = false;
  private trailerLine = 0;
  private checksum: string | undefined;
  private readonly builder = new ColumnsBuilder();
  /** Line number of each committed entry (for duplicate-id messages). */
  private lines = new Uint32Array(16);
  /** Window offset where the search for the next newline resumes after a refill. */
  private scanFrom = 0;
  private readonly maxLine: number;
  private search: Buffer = Buffer.alloc(0);
  private pool: LinePool | undefined;

  constructor(source: ByteSource, private readonly opts: ReadJsonlSourceOptions) {
    super(source, { file: opts.file, verifyChecksum: opts.verifyChecksum ?? true, windowSize: opts.windowSize, progressTotal: opts.progressTotal, onProgress: opts.onProgress, signal: opts.signal });
    this.maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  async run(): Promise<ImportedColumns> {
    const pool = lineWorkerCount(this.opts.sizeBound ?? 0, this.opts.workers) > 0 ? acquireLinePool() : undefined;
    this.pool = pool?.healthy ? pool : undefined;
    try {
      for (;;) {
        this.checkAbort();
        // The kept tail (an incomplete line, already searched for a newline) moves to offset 0.
        const searched = this.end - this.mark;
        await this.refill();
        this.scanFrom = searched;
        await this.scanWindow();
        if (this.eof) break;
      }
    } finally {
      this.pool = undefined;
      if (pool) await releaseLinePool(pool);
    }
    if (this.pos < this.end) this.lineAt(this.pos, this.end); // a last line without a newline
    return this.finish();
  }

  private corrupt(line: number, rel: number, problem: string, code: 'CORRUPT' | 'CHECKSUM_MISMATCH' = 'CORRUPT'): CorruptionError {
    return new CorruptionError({ file: this.opts.file, section: `line ${line}`, offset: this.base + rel }, problem, code);
  }

  /** Processes every complete line in the window, the second part on the helper thread when it pays. */
  private async scanWindow(): Promise<void> {
    const buf = this.buf;
    // Buffer#indexOf is a native memchr; Uint8Array#indexOf is several times slower.
    if (this.search.buffer !== buf.buffer || this.search.byteOffset !== buf.byteOffset) this.search = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    // The helper needs the dimension: take the header (or a foreign file's first entry) here first.
    if (this.builder.dimension === 0) this.scanLines(this.end, true);
    const split = this.proposeSplit();
    if (split) {
      this.scanLines(split.at, false);
      let reply: LineRunReply | undefined;
      try {
        reply = await split.reply;
      } catch {
        this.pool = undefined; // the helper failed: this thread parses its lines, now and from now on
      }
      // A trailer among this thread's lines: the helper's lines come after it, and this thread reports them.
      if (reply && this.checksum === undefined) this.merge(reply, split.at);
      this.checkAbort();
    }
    this.scanLines(this.end, false);
  }

  /** Hands the second part of the window's complete lines to the helper, when worthwhile. */
  private proposeSplit(): { at: number; reply: Promise<LineRunReply> } | undefined {
    const dim = this.builder.dimension;
    if (!this.pool || dim === 0 || this.checksum !== undefined) return undefined;
    const last = this.search.lastIndexOf(10, this.end - 1);
    if (last < this.pos || last + 1 - this.pos < (this.opts.splitMinBytes ?? SPLIT_MIN_BYTES)) return undefined;
    const cut = this.search.indexOf(10, this.pos + Math.floor((last + 1 - this.pos) * MAIN_SHARE));
    if (cut < 0 || cut >= last) return undefined;
    const at = cut + 1;
    const bytes = this.pool.requestBuffer(last + 2 - at);
    bytes.set(this.buf.subarray(at, last + 1));
    bytes[last + 1 - at] = 0;
    return { at, reply: this.pool.parse(bytes, last + 1 - at, dim, this.maxLine) };
  }

  /** Takes the helper's entries (lines after the main thread's, in order) and moves past its lines. */
  private merge(r: LineRunReply, at: number): void {
    const b = this.builder;
    const lineBase = this.line;
    if (r.count > 0) b.reserve(r.count).set(r.vectors, b.count * b.dimension);
    for (let i = 0; i < r.count; i++) {
      const id = r.ids[i];
      const line = lineBase + 1 + r.lineOf[i];
      const index = b.count;
      if (!b.commit(id, r.metadata[i])) {
        const first = b.ids.indexOf(id);
        throw this.corrupt(line, at + r.startOf[i], `duplicate id ${idLabel(id)} (${typeof id}): lines ${this.lines[first]} and ${line} (entries ${first} and ${index}) both hold it`);
      }
      this.noteLine(index, line);
    }
    this.line = lineBase + r.lines;
    this.pos = this.mark = at + r.taken;
  }

  /** Processes the complete lines that end before `limit` (all of them, or until the dimension is known). */
  private scanLines(limit: number, untilDimension: boolean): void {
    const end = this.end;
    let pos = this.pos;
    let from = Math.max(pos, this.scanFrom);
    this.scanFrom = 0;
    const search = this.search;
    while (pos < limit && !(untilDimension && this.builder.dimension > 0)) {
      let nl = search.indexOf(10, from);
      if (nl >= end) nl = -1;
      if (nl < 0) {
        if (end - pos > this.maxLine) throw this.corrupt(this.line + 1, pos, `the line is longer than ${this.maxLine} bytes (no newline found)`);
        break;
      }
      if (nl - pos > this.maxLine) throw this.corrupt(this.line + 1, pos, `the line is ${nl - pos} bytes, longer than the allowed ${this.maxLine}`);
      this.lineAt(pos, nl);
      pos = nl + 1;
      from = pos;
      this.pos = this.mark = pos;
      if ((this.line & 4095) === 0) this.checkAbort();
    }
  }

  /** Handles the line `buf[start..stop)` (newline excluded). */
  private lineAt(start: number, stop: number): void {
    const buf = this.buf;
    this.line++;
    if (this.line === 1 && this.base === 0 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = Math.min(stop, 3);
    if (isBlank(buf, start, stop)) return;
    if (this.checksum !== undefined) throw this.corrupt(this.line, start, `data after the trailer on line ${this.trailerLine} (the trailer must be the last line)`);
    const saved = buf[stop];
    buf[stop] = 0; // the entry parser's end sentinel
    try {
      if (!this.sawContent && firstKeyIs(buf, start, stop, KEY_FORMAT) >= 0) this.headerAt(start, stop);
      else if (firstKeyIs(buf, start, stop, KEY_END) >= 0) this.trailerAt(start, stop);
      else this.entryAt(start, stop);
    } finally {
      buf[stop] = saved;
    }
    this.sawContent = true;
  }

  private parseLine(start: number, stop: number): unknown {
    try {
      // An entry line: its metadata lies one level down.
      return parseJsonText(decodeUtf8(this.buf, start, stop), 1);
    } catch (err) {
      const problem = err instanceof JsonSyntaxError ? err.problem : `invalid JSON (${(err as Error).message})`;
      throw this.corrupt(this.line, start, problem);
    }
  }

  private headerAt(start: number, stop: number): void {
    const value = this.parseLine(start, stop) as Record<string, unknown>;
    const h = validateHeader(this.opts.file, value, this.base + start);
    this.header = h;
    const b = this.builder;
    // The header's count is only a hint: never reserve more than the bytes present could hold.
    const bound = this.opts.sizeBound ?? Infinity;
    b.capacityHint(Math.min(h.count, Math.floor(bound / (2 * h.dimension + 20)) + 1));
    b.setDimension(h.dimension);
  }

  private trailerAt(start: number, stop: number): void {
    const value = this.parseLine(start, stop);
    this.checksum = validateTrailer(this.opts.file, value, this.line, this.base + start, this.builder.count);
    this.trailerLine = this.line;
    this.hashLimit = this.base + start;
  }

  private entryAt(start: number, stop: number): void {
    const buf = this.buf;
    const b = this.builder;
    if (b.dimension === 0 && this.opts.sizeBound !== undefined) b.capacityHint(Math.floor(this.opts.sizeBound / (stop - start + 1)) + 1);
    const index = b.count;
    let pos: number;
    try {
      pos = skipWs(buf, parseEntry(buf, skipWs(buf, start), stop, b, 'entry'));
      if (pos !== stop) throw new JsonSyntaxError(pos, 'unexpected data after the entry object');
    } catch (err) {
      if (err === NEED_MORE) throw this.corrupt(this.line, stop, 'the line ends inside a value (incomplete JSON)');
      if (!(err instanceof JsonSyntaxError)) throw err;
      if (err.problem.startsWith('duplicate id')) {
        const first = b.ids.indexOf(parsedId);
        throw this.corrupt(this.line, err.pos, `duplicate id ${idLabel(parsedId)} (${typeof parsedId}): lines ${this.lines[first]} and ${this.line} (entries ${first} and ${index}) both hold it`);
      }
      if (!this.sawContent && buf[skipWs(buf, start)] !== 123) {
        throw new QuiverError('UNSUPPORTED_FORMAT', `${this.opts.file} is not JSON Lines of entries (line 1 is not a JSON object); import it with a matching format instead.`, { file: this.opts.file });
      }
      throw this.corrupt(this.line, err.pos, err.path ? `${err.path}: ${err.problem}` : err.problem);
    }
    this.noteLine(index, this.line);
  }

  private noteLine(index: number, line: number): void {
    if (index === this.lines.length) {
      const grown = new Uint32Array(index * 2);
      grown.set(this.lines);
      this.lines = grown;
    }
    this.lines[index] = line;
  }

  private finish(): ImportedColumns {
    const b = this.builder;
    const h = this.header;
    if (h) {
      if (this.checksum === undefined) throw this.corrupt(this.line + 1, this.end, 'the trailer line is missing (the file is truncated)');
      if (b.count !== h.count) throw this.corrupt(this.trailerLine, this.hashLimit - this.base, `the header says ${h.count} entries but the file holds ${b.count}`);
    } else if (b.count === 0) {
      throw this.corrupt(1, 0, 'the file holds no header and no entries');
    }
    if (this.checksum !== undefined) {
      this.hashUpTo(this.end);
      const computed = this.digest();
      if (computed !== undefined && computed !== this.checksum) {
        throw this.corrupt(this.trailerLine, this.hashLimit - this.base, `checksum mismatch: the trailer says ${this.checksum} but the lines before it hash to ${computed}`, 'CHECKSUM_MISMATCH');
      }
    }
    this.finishProgress('loaded');
    const columns: Columns = {
      dimension: b.dimension,
      metric: h?.metric ?? DEFAULT_IMPORT_METRIC,
      ids: b.ids,
      vectors: b.count === 0 ? new Float32Array(0) : b.finalVectors(),
      metadata: b.metadata,
    };
    return { columns, metricKnown: h !== undefined, user: h?.user ?? {}, checksum: this.checksum };
  }
}

/** Reads JSONL from any byte source (see {@link readJsonl}). */
export function readJsonlFrom(source: ByteSource, opts: ReadJsonlSourceOptions): Promise<ImportedColumns> {
  return new JsonlParser(source, opts).run();
}

/**
 * Reads the JSONL file at `path` (plain, gzip or brotli, detected from its bytes): a QuiverDB JSONL
 * export, or foreign JSON Lines of `{id, vector, metadata?}` objects. Problems → CorruptionError
 * naming the file and the line number; never partial data.
 */
export function readJsonl(fs: FileSystem, path: string, options?: ExchangeReadOptions): Promise<ImportedColumns> {
  return readExchangeFile(fs, path, sniffJsonl, options, readJsonlFrom);
}
