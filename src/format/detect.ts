/**
 * Format detection from a file's first bytes, never from its name: the .qvdb magic, gzip's 1f 8b,
 * JSON text, or (brotli has no magic) a trial decompression of the first few KB that yields JSON.
 */
import { brotliDecompressSync, constants as Z, gunzipSync } from 'node:zlib';
import { ioError } from '../errors.js';
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
/** Most bytes a trial decompression may produce (the probe of a zip bomb stays small). */
const PROBE_OUTPUT = 1 << 20;

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

// Both decoders flush what they can of a truncated stream instead of failing on the missing tail. A
// highly compressed start (a bomb, or just very repetitive text) can exceed the probe's output cap:
// then the first few hundred input bytes are decompressed instead, which is enough to recognise it.
function probeInflate(b: Uint8Array, inflate: (input: Uint8Array) => Uint8Array): Uint8Array | undefined {
  for (const cut of [b.length, 512]) {
    try {
      return inflate(b.subarray(0, Math.min(cut, b.length)));
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE') return undefined;
    }
  }
  return undefined;
}

function tryGunzip(b: Uint8Array): Uint8Array | undefined {
  return probeInflate(b, (input) => gunzipSync(input, { finishFlush: Z.Z_SYNC_FLUSH, maxOutputLength: PROBE_OUTPUT }));
}

function tryBrotli(b: Uint8Array): Uint8Array | undefined {
  return probeInflate(b, (input) => brotliDecompressSync(input, { finishFlush: Z.BROTLI_OPERATION_FLUSH, maxOutputLength: PROBE_OUTPUT }));
}

async function readHead(fs: FileSystem, path: string): Promise<Uint8Array> {
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
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const inner = tryGunzip(head);
    return { format: inner ? classify(inner) : 'unknown', compression: 'gzip' };
  }
  if (isJsonStart(head)) return { format: 'json', compression: 'none' };
  const inner = tryBrotli(head);
  if (inner && inner.length > 0) {
    const format = classify(inner);
    if (format !== 'unknown') return { format, compression: 'brotli' };
  }
  return { format: 'unknown', compression: 'none' };
}

/** The first bytes of a file as {@link probeHead} found them. */
export interface ProbedHead {
  /** Up to 4 KiB from the start (decompressed when the file is gzip). */
  head: Uint8Array;
  compression: 'none' | 'gzip';
  /** When the raw bytes decompress as brotli (which has no magic), their start; try it when `head` means nothing. */
  brotliHead?: Uint8Array;
}

/** Reads the start of a file for format sniffing, seeing through gzip (and, as a candidate, brotli). */
export async function probeHead(fs: FileSystem, path: string): Promise<ProbedHead> {
  const raw = await readHead(fs, path);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    const inner = tryGunzip(raw);
    if (inner) return { head: inner, compression: 'gzip' };
  }
  const brotli = raw.length > 0 ? tryBrotli(raw) : undefined;
  return { head: raw, compression: 'none', brotliHead: brotli && brotli.length > 0 ? brotli.subarray(0, PROBE_BYTES) : undefined };
}
