/**
 * `writeJsonState`: writes a CollectionImage (full state) or a ChangeImage (delta) as a JSON state
 * document, streamed page by page into a temp file that is published atomically.
 */
import { QuiverError } from '../../errors.js';
import type { ChangeImage, CollectionImage, Id } from '../../engine/types.js';
import { checkAbort, idText } from './write-values.js';
import { publishAtomically } from '../../env/atomic.js';
import type { FileStat, FileSystem } from '../../env/fs.js';
import { ProgressReporter, type ProgressCallback } from '../../util/progress.js';
import { writeEntries } from './entry-writer.js';
import { MAX_DIMENSION } from './entry-parser.js';
import { JSON_FORMAT_NAME, JSON_FORMAT_VERSION, JSON_STATE_VERSION, MEMBER, OPTIONS_FROM_IMAGE } from './header.js';
import { PageWriter } from './page-writer.js';
import { OFFLOAD_MIN_BYTES } from '../../util/hash-worker.js';
import { writeWithHashRetry } from '../../env/hash-retry.js';
import { DEFAULT_LEVEL, MAX_LEVEL, openSink } from '../stream/sink.js';
import type { JsonCompression } from '../stream/sources.js';

/** Options of {@link writeJsonState}. */
export interface WriteJsonStateOptions {
  /** Whole-file compression (default 'none'). */
  compression?: JsonCompression;
  /** gzip 0-9 (default 6), brotli 0-11 (default 4); ignored without compression. */
  level?: number;
  /** Free map stored as the "options" member (DatabasePersistence keeps its options there). */
  user?: Record<string, unknown>;
  /** The "timestamp" member (ms since the epoch; default now). */
  createdAt?: number;
  /** Publish only where no file is (BUSY otherwise, nothing published): see PublishOptions.noReplace. */
  noReplace?: boolean;
  /** Told the new file's stat just before it is published (see PublishOptions.onSealed). */
  onSealed?: (stat: FileStat) => void;
  /** Awaited before the written file is made durable; a rejection publishes nothing (see PublishOptions.ready). */
  ready?: Promise<unknown>;
  /** Deltas: checksum of the state the delta applies to (stored as "baseChecksum"). */
  baseChecksum?: string | null;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Threads formatting numbers (default: up to 2 for big saves, none for small ones; 0 = this thread only). */
  workers?: number;
}

/** What a finished write reports. */
export interface JsonWriteResult {
  path: string;
  /** Size of the file on disk (compressed size when compressed). */
  bytes: number;
  /** SHA-256 (hex) of the uncompressed document before its "checksum" member; also stored in it. */
  checksum: string;
  /** Entries written to "vectors". */
  count: number;
}

const COMPRESSIONS: readonly JsonCompression[] = ['none', 'gzip', 'brotli'];

function checkOptions(opts: WriteJsonStateOptions, image: CollectionImage | ChangeImage): { compression: JsonCompression; level: number; userText: string } {
  const compression = opts.compression ?? 'none';
  if (!COMPRESSIONS.includes(compression)) throw new QuiverError('INVALID_ARGUMENT', `compression must be one of ${COMPRESSIONS.join(', ')} (got ${String(compression)}).`);
  let level = 0;
  if (compression !== 'none') {
    level = opts.level ?? DEFAULT_LEVEL[compression];
    if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL[compression]) {
      throw new QuiverError('INVALID_ARGUMENT', `${compression} level must be an integer from 0 to ${MAX_LEVEL[compression]} (got ${String(opts.level)}).`);
    }
  }
  let user = opts.user ?? {};
  // A user map that states the database's own dimension or metric (a converted file's, say: reference-000
  // files record their dimension) says nothing the "options" member does not: those keys are left out.
  const same = OPTIONS_FROM_IMAGE.filter((k) => user !== null && typeof user === 'object' && Object.hasOwn(user, k) && (user as Record<string, unknown>)[k] === image[k]);
  if (same.length > 0) user = Object.fromEntries(Object.entries(user).filter(([k]) => !(same as readonly string[]).includes(k)));
  let userText: string | undefined;
  try {
    userText = JSON.stringify(user);
  } catch (err) {
    throw new QuiverError('INVALID_ARGUMENT', `user must be plain JSON (${(err as Error).message}).`, {}, { cause: err });
  }
  if (userText === undefined || !userText.startsWith('{')) throw new QuiverError('INVALID_ARGUMENT', 'user must be a plain object.');
  for (const k of OPTIONS_FROM_IMAGE) {
    if (Object.hasOwn(user, k)) throw new QuiverError('INVALID_ARGUMENT', `user has a "${k}" key of ${JSON.stringify((user as Record<string, unknown>)[k])}, but the database's ${k} is ${JSON.stringify(image[k])}, and the JSON format keeps only the database's (in its "options" member); remove or rename that key.`);
  }
  if (opts.createdAt !== undefined && !Number.isFinite(opts.createdAt)) throw new QuiverError('INVALID_ARGUMENT', 'createdAt must be a finite number of ms.');
  return { compression, level, userText };
}

function isChangeImage(image: CollectionImage | ChangeImage): image is ChangeImage {
  return 'sinceSeq' in image;
}

const isSeq = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The image facts the reader will insist on, checked before anything is written. */
function checkImage(image: CollectionImage | ChangeImage): void {
  if (!Number.isSafeInteger(image.dimension) || image.dimension < 1 || image.dimension > MAX_DIMENSION) {
    throw new QuiverError('INVALID_ARGUMENT', `The image dimension ${String(image.dimension)} is not an integer in 1..${MAX_DIMENSION}.`);
  }
  if (!isSeq(image.seq) || !isSeq(image.count)) throw new QuiverError('INVALID_ARGUMENT', 'The image seq and count must be non-negative integers.');
  if (isChangeImage(image) && (!isSeq(image.sinceSeq) || image.sinceSeq > image.seq)) {
    throw new QuiverError('INVALID_ARGUMENT', `A delta's sinceSeq (${String(image.sinceSeq)}) must be a non-negative integer not after its seq (${image.seq}).`);
  }
}

/** `"name":value,` for the header. */
function pair(name: string, value: unknown): string {
  return `${JSON.stringify(name)}:${JSON.stringify(value)},`;
}

/** The document text before the id list / entries, ending with `"vectors":[` or `"deleted":[`. */
function headerText(image: CollectionImage | ChangeImage, userText: string, createdAt: number, baseChecksum: string | null): string {
  let s = '{' + pair(MEMBER.format, JSON_FORMAT_NAME) + pair(MEMBER.formatVersion, JSON_FORMAT_VERSION);
  s += pair(MEMBER.kind, isChangeImage(image) ? 'delta' : 'full') + pair(MEMBER.version, JSON_STATE_VERSION) + pair(MEMBER.seq, image.seq);
  if (isChangeImage(image)) s += pair(MEMBER.sinceSeq, image.sinceSeq) + pair(MEMBER.cleared, image.cleared) + pair(MEMBER.baseChecksum, baseChecksum);
  // The reference layout's options ({ dimension, metric }), then the user map's keys.
  const own = `{"dimension":${image.dimension},"metric":${JSON.stringify(image.metric)}`;
  s += pair(MEMBER.timestamp, createdAt) + `"${MEMBER.options}":${own}${userText === '{}' ? '}' : ',' + userText.slice(1)},`;
  s += pair(MEMBER.stats, { count: image.count, dimension: image.dimension, metric: image.metric });
  return s;
}

async function writeDeleted(out: PageWriter, ids: readonly Id[], progress: ProgressReporter, signal: AbortSignal | undefined): Promise<void> {
  await out.text(`"${MEMBER.deleted}":[`);
  for (let i = 0; i < ids.length; i++) {
    if ((i & 4095) === 0) checkAbort(signal);
    const t = idText(ids[i]);
    if (out.pos + t.length * 3 + 2 > out.page.length) await out.room(t.length * 3 + 2);
    if (i > 0) out.page[out.pos++] = 44;
    out.pos += out.page.write(t, out.pos, 'utf8');
    if ((i & 4095) === 4095) progress.advance(4096, 'writing deleted ids');
  }
  await out.text('],');
}

/**
 * Writes `image` to `path` atomically as a JSON state file (a ChangeImage, detected by `sinceSeq`,
 * becomes a delta). Never builds the whole document in memory.
 */
export async function writeJsonState(fs: FileSystem, path: string, image: CollectionImage | ChangeImage, opts: WriteJsonStateOptions = {}): Promise<JsonWriteResult> {
  const { compression, level, userText } = checkOptions(opts, image);
  checkImage(image);
  const deleted = isChangeImage(image) ? image.deletedIds : [];
  const progress = new ProgressReporter('save', image.count + deleted.length, opts.onProgress);
  checkAbort(opts.signal);
  const head = headerText(image, userText, opts.createdAt ?? Date.now(), opts.baseChecksum ?? null);
  const offload = image.count * image.dimension * 4 >= OFFLOAD_MIN_BYTES;
  const result = await publishAtomically(fs, path, (handle) => writeWithHashRetry(handle, offload, async (offloadHash) => {
    const sink = openSink(handle, compression, level);
    const out = new PageWriter(sink, { offloadHash });
    try {
      await out.text(head);
      if (isChangeImage(image)) await writeDeleted(out, deleted, progress, opts.signal);
      await out.text(`"${MEMBER.vectors}":[`);
      await writeEntries(out, image, progress, opts.signal, opts.workers);
      await out.text(image.count > 0 ? '\n]' : ']');
      const checksum = await out.digest();
      await out.text(`,"${MEMBER.checksum}":"${checksum}"}\n`);
      await out.drain();
      const bytes = await sink.finish();
      return { path, bytes, checksum, count: image.count };
    } catch (err) {
      await out.abort();
      sink.abort();
      throw err;
    }
  }), { noReplace: opts.noReplace === true, onSealed: opts.onSealed, signal: opts.signal, ready: opts.ready });
  progress.finishDone('saved');
  return result;
}
