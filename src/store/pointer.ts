/**
 * The CURRENT pointer: a small text file naming the current checkpoint and the last write-ahead log
 * sequence number it holds. It is published atomically, and last, by every checkpoint, so the
 * directory's state is always "this checkpoint + the log after walSeq". Bytes (docs/STORE.part.md):
 *
 *   QVDB-CURRENT 1\n
 *   {"checkpoint":"checkpoint-0000000000000003.qvdb","generation":3,"walSeq":42,...}\n
 *   crc32 1a2b3c4d\n
 *
 * The CRC32 (zlib) covers every byte of the first two lines; the file is at most 4096 bytes.
 */
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { CorruptionError, QuiverError, ioError } from '../errors.js';
import type { Metric } from '../engine/types.js';
import { writeFileAtomic } from '../env/atomic.js';
import type { FileSystem } from '../env/fs.js';
import { CURRENT_FILE, checkpointName } from './layout.js';

/** What the pointer says. */
export interface StorePointer {
  /** File name of the current checkpoint (inside the store directory). */
  checkpoint: string;
  /** Checkpoint generation: 1 for the first, +1 for each later one. */
  generation: number;
  /** The checkpoint holds every log record with a sequence number ≤ walSeq; replay starts after it. */
  walSeq: number;
  /** The checkpoint's file checksum (hex SHA-256 of its section directory, as readQvdb reports it). */
  checksum: string;
  dimension: number;
  metric: Metric;
  /** Entries in the checkpoint. */
  count: number;
  /** When the checkpoint was written, ms since the epoch. */
  createdAt: number;
}

/** First line of a version-1 pointer. */
export const POINTER_MAGIC = 'QVDB-CURRENT';
/** Pointer format version this code writes and reads. */
export const POINTER_VERSION = 1;
/** Largest pointer file accepted. */
export const MAX_POINTER_BYTES = 4096;

const METRICS = new Set<string>(['cosine', 'euclidean', 'dot', 'manhattan']);
const CRC_LINE = /^crc32 ([0-9a-f]{8})$/;
const HEX64 = /^[0-9a-f]{64}$/;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Encodes a pointer as the bytes of a CURRENT file. */
export function encodePointer(p: StorePointer): Uint8Array {
  const body = {
    checkpoint: p.checkpoint, generation: p.generation, walSeq: p.walSeq, checksum: p.checksum,
    dimension: p.dimension, metric: p.metric, count: p.count, createdAt: p.createdAt,
  };
  const head = `${POINTER_MAGIC} ${POINTER_VERSION}\n${JSON.stringify(body)}\n`;
  const crc = crc32(Buffer.from(head, 'utf8')).toString(16).padStart(8, '0');
  return Buffer.from(`${head}crc32 ${crc}\n`, 'utf8');
}

/** Decodes CURRENT bytes; damage is a CorruptionError naming `file`, a newer version UNSUPPORTED_VERSION. */
export function decodePointer(bytes: Uint8Array, file: string): StorePointer {
  const fail = (problem: string, offset?: number): never => {
    throw new CorruptionError({ file, section: 'pointer', offset }, problem);
  };
  if (bytes.length > MAX_POINTER_BYTES) fail(`it is ${bytes.length} bytes, more than a pointer can be (${MAX_POINTER_BYTES})`);
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n');
  if (lines.length !== 4 || lines[3] !== '') fail(`it holds ${Math.max(0, lines.length - 1)} complete lines instead of 3 (a torn or foreign file)`);
  const m = CRC_LINE.exec(lines[2]);
  if (!m) fail('the checksum line is missing or malformed', Buffer.byteLength(`${lines[0]}\n${lines[1]}\n`));
  const head = `${lines[0]}\n${lines[1]}\n`;
  const want = parseInt(m![1], 16);
  if (crc32(Buffer.from(head, 'utf8')) !== want) {
    throw new CorruptionError({ file, section: 'pointer' }, 'its CRC32 does not match its contents', 'CHECKSUM_MISMATCH');
  }
  const [magic, version] = lines[0].split(' ');
  if (magic !== POINTER_MAGIC) fail(`it does not start with ${POINTER_MAGIC}`, 0);
  if (version !== String(POINTER_VERSION)) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${file} is a version ${version} store pointer; this QuiverDB reads version ${POINTER_VERSION}. Upgrade QuiverDB to open this store.`, { file, version });
  }
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(lines[1]) as Record<string, unknown>;
  } catch {
    return fail('its body is not JSON', lines[0].length + 1);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('its body is not a JSON object');
  const gen = v.generation;
  if (!isCount(gen) || gen < 1) fail(`generation ${JSON.stringify(gen)} is not a positive integer`);
  if (v.checkpoint !== checkpointName(gen as number)) fail(`checkpoint ${JSON.stringify(v.checkpoint)} is not the file of generation ${String(gen)}`);
  if (!isCount(v.walSeq)) fail(`walSeq ${JSON.stringify(v.walSeq)} is not a non-negative integer`);
  if (typeof v.checksum !== 'string' || !HEX64.test(v.checksum)) fail('checksum is not 64 hex digits');
  if (!isCount(v.dimension) || v.dimension < 1) fail(`dimension ${JSON.stringify(v.dimension)} is not a positive integer`);
  if (typeof v.metric !== 'string' || !METRICS.has(v.metric)) fail(`metric ${JSON.stringify(v.metric)} is not a known metric`);
  if (!isCount(v.count)) fail(`count ${JSON.stringify(v.count)} is not a non-negative integer`);
  if (typeof v.createdAt !== 'number' || !Number.isFinite(v.createdAt)) fail('createdAt is not a number');
  return {
    checkpoint: v.checkpoint as string, generation: gen as number, walSeq: v.walSeq as number, checksum: v.checksum as string,
    dimension: v.dimension as number, metric: v.metric as Metric, count: v.count as number, createdAt: v.createdAt as number,
  };
}

/** Reads `<dir>/CURRENT`: undefined when it does not exist; damage is a CorruptionError. */
export async function readPointer(fs: FileSystem, dir: string): Promise<StorePointer | undefined> {
  const file = join(dir, CURRENT_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw ioError(err, 'read', file);
  }
  return decodePointer(bytes, file);
}

/** Publishes `<dir>/CURRENT` atomically (temp file, fsync, rename, fsync directory). */
export function writePointer(fs: FileSystem, dir: string, p: StorePointer): Promise<void> {
  return writeFileAtomic(fs, join(dir, CURRENT_FILE), encodePointer(p));
}
