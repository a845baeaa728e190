/**
 * Format detection from a file's first bytes, never from its name: the .qvdb magic, gzip's 1f 8b,
 * JSON text, or (brotli has no magic) a trial decompression of the first few KB that yields JSON.
 */
import { createBrotliDecompress, createGunzip, gunzipSync, constants as Z } from 'node:zlib';
import type { Transform } from 'node:stream';
import { CorruptionError, QuiverError, ioError } from '../errors.js';
import type { FileHandle, FileSystem } from '../env/fs.js';
import { MAGIC, MAGIC_PREFIX_LENGTH } from './qvdb/constants.js';
import { isSqliteHeader } from './sqlite/schema.js';

/** What {@link detectFormat} found. */
export interface DetectedFormat {
  format: 'binary' | 'json' | 'sqlite' | 'unknown';
  compression: 'none' | 'gzip' | 'brotli';
}

/** Bytes of the file examined. */
const PROBE_BYTES = 4096;
/** Bytes of output a trial decompression stops at (the probe of a zip bomb stays small). */
const PROBE_OUTPUT = 64 * 1024;

function isQvdb(b: Uint8Array): boolean {
  // The first four magic bytes suffice: a file whose line endings were mangled is still ours (and corrupt).
  if (b.length < MAGIC_PREFIX_LENGTH) return false;
  for (let i = 0; i < MAGIC_PREFIX_LENGTH; i++) if (b[i] !== MAGIC[i]) return false;
  return true;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON text: after an optional BOM and whitespace a `{` or `[`, and the probe is control-free UTF-8
 * (compressed bytes that happen to start with `[` fail this almost surely).
 */
function isJsonStart(b: Uint8Array): boolean {
  let i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  if (i >= b.length || (b[i] !== 0x7b && b[i] !== 0x5b)) return false;
  const probe = b.subarray(0, Math.min(b.length, PROBE_BYTES));
  for (const c of probe) if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  // The probe may end inside a multi-byte character: accept if some cut of the last 3 bytes decodes.
  for (let cut = 0; cut <= Math.min(3, probe.length); cut++) {
    try {
      utf8.decode(probe.subarray(0, probe.length - cut));
      return true;
    } catch {
      // try a shorter prefix
    }
  }
  return false;
}

function classify(b: Uint8Array): DetectedFormat['format'] {
  if (isQvdb(b)) return 'binary';
  if (isJsonStart(b)) return 'json';
  return 'unknown';
}

/**
 * The first PROBE_OUTPUT bytes (or all, if fewer) that `b`, the start of a compressed file, decompresses
 * to; undefined when it is not a valid start of that compression. The decoder flushes what it can of the
 * truncated stream instead of failing on the missing tail, and is stopped as soon as it has produced
 * enough: a highly compressed start (a bomb, or a run of one byte repeated) is recognised all the same.
 */
function probeInflate(b: Uint8Array, make: () => Transform): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const z = make();
    const parts: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (out: Uint8Array | undefined): void => {
      if (done) return;
      done = true;
      resolve(out);
      z.destroy();
    };
    z.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      n += chunk.length;
      if (n >= PROBE_OUTPUT) finish(Buffer.concat(parts, n).subarray(0, PROBE_OUTPUT));
    });
    z.on('end', () => finish(Buffer.concat(parts, n)));
    z.on('error', () => finish(undefined));
    z.end(b);
  });
}

function tryGunzip(b: Uint8Array): Promise<Uint8Array | undefined> {
  return probeInflate(b, () => createGunzip({ finishFlush: Z.Z_SYNC_FLUSH, chunkSize: 16 * 1024 }));
}

function tryBrotli(b: Uint8Array): Promise<Uint8Array | undefined> {
  return probeInflate(b, () => createBrotliDecompress({ finishFlush: Z.BROTLI_OPERATION_FLUSH, chunkSize: 16 * 1024 }));
}

/** gzip's magic and its only compression method (deflate): what every gzip file starts with. */
function isGzip(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08;
}

/**
 * The decompressed start of a gzip file whose first bytes are `raw`. A start that does not decompress,
 * or a whole file (shorter than the probe) that is not a complete stream, is damage, not an unknown
 * format: CorruptionError, as the same damage further in is when the stream is read.
 */
async function gzipHead(raw: Uint8Array, path: string): Promise<Uint8Array> {
  const damaged = (problem: string, cause?: unknown): CorruptionError => new CorruptionError({ file: path, section: 'gzip stream' }, problem, 'CORRUPT', { cause });
  if (raw.length < PROBE_BYTES) {
    // The whole file: decompressed strictly, once (at most ~1,032 bytes out per byte in, a few MB).
    try {
      return gunzipSync(raw).subarray(0, PROBE_OUTPUT);
    } catch (err) {
      throw damaged('the file ends before its compressed stream does, or the stream is damaged', err);
    }
  }
  const inner = await tryGunzip(raw);
  if (inner === undefined) throw damaged('its start does not decompress');
  return inner;
}

async function readHead(fs: FileSystem, path: string): Promise<Uint8Array> {
  // Readers seek: a pipe fails at its first positional read (ESPIPE), and opening a FIFO nobody
  // writes to would wait forever. (A missing path is left to the open below.)
  const st = await fs.stat(path).catch(() => undefined);
  if (st !== undefined && !st.isFile) {
    throw new QuiverError(
      'UNSUPPORTED_FORMAT',
      st.isDirectory ? `${path} is a directory; give the path of a file.` : `${path} is not a regular file (a pipe, socket or device): QuiverDB reads files it can seek in, so write the stream to a file first.`,
      { path },
    );
  }
  let h: FileHandle | undefined;
  try {
    h = await fs.open(path, 'r');
    const buf = new Uint8Array(PROBE_BYTES);
    let n = 0;
    while (n < buf.length) {
      const got = await h.read(buf, n, n, buf.length - n);
      if (got <= 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } catch (err) {
    throw ioError(err, 'read', path);
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/**
 * Detects how the file at `path` is encoded from its first bytes. A .qvdb file is
 * `{ format: 'binary', compression: 'none' }` (its sections carry their own compression).
 */
export async function detectFormat(fs: FileSystem, path: string): Promise<DetectedFormat> {
  const head = await readHead(fs, path);
  if (head.length === 0) return { format: 'unknown', compression: 'none' };
  if (isQvdb(head)) return { format: 'binary', compression: 'none' };
  if (isSqliteHeader(head)) return { format: 'sqlite', compression: 'none' };
  if (isGzip(head)) return { format: classify(await gzipHead(head, path)), compression: 'gzip' };
  if (isJsonStart(head)) return { format: 'json', compression: 'none' };
  const inner = await tryBrotli(head);
  if (inner && inner.length > 0) {
    const format = classify(inner);
    if (format !== 'unknown') return { format, compression: 'brotli' };
  }
  return { format: 'unknown', compression: 'none' };
}

/** The first bytes of a file as {@link probeHead} found them. */
export interface ProbedHead {
  /** Up to 4 KiB from the start (up to 64 KiB of its decompressed start when the file is gzip). */
  head: Uint8Array;
  compression: 'none' | 'gzip';
  /** When the raw bytes decompress as brotli (which has no magic), their start; try it when `head` means nothing. */
  brotliHead?: Uint8Array;
}

/** Reads the start of a file for format sniffing, seeing through gzip (and, as a candidate, brotli). */
export async function probeHead(fs: FileSystem, path: string): Promise<ProbedHead> {
  const raw = await readHead(fs, path);
  if (isGzip(raw)) return { head: await gzipHead(raw, path), compression: 'gzip' };
  const brotli = raw.length > 0 ? await tryBrotli(raw) : undefined;
  return { head: raw, compression: 'none', brotliHead: brotli && brotli.length > 0 ? brotli.subarray(0, PROBE_BYTES) : undefined };
}
