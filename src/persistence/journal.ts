/**
 * The save journal: how DatabasePersistence with `incremental: true` and `autoSaveInterval` saves. Instead
 * of writing a delta file per save, each incremental save appends the changes since the previous one
 * as ONE write-ahead-log batch record (src/wal: CRC32 records, fsynced before the save resolves) in a
 * directory beside the saved file, `<file>.wal/`. A small `HEAD` file in that directory names the
 * checksum of the state the log applies to (the saved file, or the last delta of its chain), so a log
 * left over from an older file is recognised and ignored. A full save replaces the file, then removes
 * HEAD and the directory; the next journaled save starts a new log (docs/DESIGN.md "Save journal").
 *
 * One record per save keeps every save atomic on replay: a torn final record is a save that never
 * completed, so a load gives exactly the state of some completed save.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError, QuiverError, ioError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import { writeFileAtomic } from '../env/atomic.js';
import { ensureDirDurable } from '../env/durable-dir.js';
import { statIfExists } from '../env/stat-if-exists.js';
import { acquireLock, LOCK_FILE, TAKEOVER_FILE, type DirLock } from '../env/lock.js';
import { moveAside } from '../env/move-aside.js';
import type { ChangeImage, DeltaColumns, Id, Metadata, Metric } from '../engine/types.js';
import { SEGMENT_HEADER_SIZE, WalWriter, listSegments, readWal, type DecodedOp, type WalOp } from '../wal/index.js';

/** Name of the file in the journal directory that links the log to its base state. */
export const JOURNAL_HEAD = 'HEAD';
/** First line of a HEAD file (version 2: with its CRC-32 line). */
export const JOURNAL_HEAD_MAGIC = 'QVDB-JOURNAL 2';
/** First line of a version-1 HEAD (two lines, no CRC), which earlier versions wrote and which still reads. */
const JOURNAL_HEAD_MAGIC_V1 = 'QVDB-JOURNAL 1';
/** Journal bytes after which an incremental save writes a full file instead (or 1/4 of the base, if larger). */
export const JOURNAL_MIN_CHECKPOINT_BYTES = 64 * 1024 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;

/** Files of the journal directory that are not its log: HEAD and the lock of the writer appending. */
const NOT_LOG = new Set([JOURNAL_HEAD, LOCK_FILE, TAKEOVER_FILE]);

/**
 * The refusal of an incremental save that would build on, reset or write over another writer's saved
 * changes (`what` says whose and how), with what to do instead. Every such refusal reads the same.
 */
export function refusedIncremental(what: string, basePath: string, cause?: unknown): QuiverError {
  return new QuiverError(
    'BUSY',
    `Cannot save incrementally: ${what}, so nothing was saved. Call load() to continue from the files as they are now, or save() to write this database in full over them.`,
    { path: basePath },
    cause === undefined ? undefined : { cause },
  );
}

/** The journal directory of a saved file. */
export function journalDir(basePath: string): string {
  return `${basePath}.wal`;
}

/**
 * HEAD's text: the magic, the checksum the log extends, and a CRC-32 of those two lines (as 8 lowercase
 * hex digits). Without the CRC a flipped hex digit would name "another state": the journal would be
 * ignored and the next save would start it over, deleting every journaled save.
 */
function headText(after: string): string {
  const body = `${JOURNAL_HEAD_MAGIC}\nafter ${after}\n`;
  return `${body}crc32 ${crc32(body).toString(16).padStart(8, '0')}\n`;
}

/** Reads HEAD; undefined when the journal directory or HEAD is missing. Malformed → CorruptionError. */
export async function readJournalHead(fs: FileSystem, basePath: string): Promise<string | undefined> {
  const path = join(journalDir(basePath), JOURNAL_HEAD);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw ioError(err, 'read', path);
  }
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n');
  const v = /^QVDB-JOURNAL (\d+)$/.exec(lines[0] ?? '');
  if (v && Number(v[1]) > 2) throw new QuiverError('UNSUPPORTED_VERSION', `${path} is a save journal head of version ${v[1]}, newer than this QuiverDB reads (up to 2); upgrade QuiverDB to load it.`, { path });
  const m = /^after ([0-9a-f]+)$/.exec(lines[1] ?? '');
  // Version 1 (two lines, written before the CRC line) reads as it is.
  const v1 = lines[0] === JOURNAL_HEAD_MAGIC_V1 && lines.length === 3;
  const crc = lines[0] === JOURNAL_HEAD_MAGIC && lines.length === 4 ? /^crc32 ([0-9a-f]{8})$/.exec(lines[2]) : undefined;
  if (!m || !HEX64.test(m[1]) || !(v1 || crc) || lines[lines.length - 1] !== '') {
    throw new CorruptionError({ file: path, section: 'journal head' }, `not a QuiverDB journal head (expected "${JOURNAL_HEAD_MAGIC}", "after <sha256>" and "crc32 <hex>")`);
  }
  if (crc && text !== headText(m[1])) {
    throw new CorruptionError({ file: path, section: 'journal head' }, `checksum mismatch: its CRC-32 line says ${crc[1]}, its first two lines compute to ${crc32(text.slice(0, text.length - lines[2].length - 1)).toString(16).padStart(8, '0')}`, 'CHECKSUM_MISMATCH');
  }
  return m[1];
}

/**
 * Whether the journal of `basePath` extends the state `after` with at least one record (a segment
 * longer than its header): true when another writer journaled on that state, since this instance's own
 * journal of it is open, or was folded in by a load.
 */
export async function journalHasRecords(fs: FileSystem, basePath: string, after: string): Promise<boolean> {
  // A damaged HEAD may name this very state: its log is nobody's to start over (the error propagates).
  const head = await readJournalHead(fs, basePath).catch((err: unknown) => (err instanceof CorruptionError ? Promise.reject(err) : undefined));
  if (head !== after) return false;
  for (const seg of await listSegments(fs, journalDir(basePath))) {
    if (((await statIfExists(fs, seg.path))?.size ?? 0) > SEGMENT_HEADER_SIZE) return true;
  }
  return false;
}

/** Bytes in the journal directory of `basePath` besides HEAD (what its log holds; 0 without a journal). */
export async function journalBytes(fs: FileSystem, basePath: string): Promise<number> {
  let bytes = 0;
  let names: string[];
  try {
    names = await fs.readdir(journalDir(basePath));
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === 'ENOENT') return 0;
    throw ioError(err, 'list', journalDir(basePath));
  }
  for (const name of names) {
    if (!NOT_LOG.has(name)) bytes += (await statIfExists(fs, join(journalDir(basePath), name)))?.size ?? 0;
  }
  return bytes;
}

/** A decoded journal: the ops of every complete record, one list per record, in order. */
export interface JournalContents {
  records: DecodedOp[][];
  bytes: number;
}

/**
 * Reads the journal of `basePath` when its HEAD names `after` (the checksum of the state just loaded);
 * undefined when there is no journal or it belongs to another state. Decodes everything before the
 * caller touches the database, so a damaged journal fails the load with the database unchanged.
 */
export async function readJournal(fs: FileSystem, basePath: string, after: string, repair = false): Promise<JournalContents | undefined> {
  try {
    return await readJournalOnce(fs, basePath, after, false);
  } catch (err) {
    if (!(err instanceof CorruptionError)) throw err;
    if (!repair) throw withJournalHint(err);
  }
  // Damage, and a repair was asked for: only now is the journal's lock taken (a healthy journal that
  // another instance appends to loads as usual), for the cut or, when the log cannot be cut (its HEAD
  // or its list of segments is damaged), for moving the whole journal aside.
  const dir = journalDir(basePath);
  const lock = await lockForRepair(fs, dir);
  try {
    try {
      return await readJournalOnce(fs, basePath, after, true);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      const to = await moveAside(fs, dir);
      process.emitWarning(`load({ repair: true }) could not cut the save journal ${dir} (${err.damage}): it was moved aside to ${to}, and the database is loaded without its saves.`, 'QuiverRepairWarning');
      return undefined;
    }
  } finally {
    await lock.release().catch(() => undefined);
  }
}

async function readJournalOnce(fs: FileSystem, basePath: string, after: string, repair: boolean): Promise<JournalContents | undefined> {
  const head = await readJournalHead(fs, basePath);
  if (head !== after) return undefined;
  const dir = journalDir(basePath);
  const records: DecodedOp[][] = [];
  try {
    // Saves are records 1, 2, ...: a log whose first segment is gone is damage, not a shorter journal.
    const reader = readWal(fs, dir, { fromSeq: 1, repair, repairHint: JOURNAL_REPAIR_HINT });
    for await (const batch of reader.batches()) {
      for (const { record } of batch) records.push(record.type === 'batch' ? record.ops : [record]);
    }
    const cut = reader.summary?.repaired;
    if (cut) {
      const segments = cut.droppedSegments.length > 0 ? ` and the later segments ${cut.droppedSegments.join(', ')}` : '';
      process.emitWarning(
        `load({ repair: true }) cut the save journal ${dir} at byte ${cut.truncatedAt} of ${cut.segment}${segments} (${cut.problem}): the saves from there on (${cut.droppedBytes} bytes) are dropped, and the database is loaded as of the save before them.`,
        'QuiverRepairWarning',
      );
    }
    return { records, bytes: await journalBytes(fs, basePath) };
  } catch (err) {
    if (err instanceof QuiverError) throw err;
    throw ioError(err, 'read the save journal', dir);
  }
}

/** `err` (journal damage) with how to repair it, when its message does not say so already. */
function withJournalHint(err: CorruptionError): CorruptionError {
  if (err.message.includes('load({ repair: true })')) return err;
  return new CorruptionError({ file: err.file, section: err.section, offset: err.offset }, `${err.problem}; load({ repair: true }) moves the journal aside and loads the file without its saves`, err.code as 'CORRUPT' | 'CHECKSUM_MISMATCH', { cause: err });
}

/** How a damaged save journal is repaired (the end of its CorruptionError's message). */
export const JOURNAL_REPAIR_HINT = 'load({ repair: true }) cuts the journal there and loads the saves before it (this one and every later save are dropped)';

/** The journal directory's lock, for a repair: LOCKED while a writer (another instance or process) appends. */
async function lockForRepair(fs: FileSystem, dir: string): Promise<DirLock> {
  try {
    return await acquireLock(fs, dir);
  } catch (err) {
    if (!(err instanceof QuiverError && err.code === 'LOCKED')) throw err;
    throw new QuiverError('LOCKED', `Cannot repair the save journal ${dir}: another instance is appending to it (${err.message}). Call shutdown() on that instance, or end its process, and load again.`, { path: dir }, { cause: err });
  }
}

/**
 * The journal's records as deltas, to be applied with the rest of the chain (`replaceAll(…, { deltas })`,
 * which validates everything before it changes anything). A save writes each record as clear, deletions,
 * upserts: one delta. Ops in another order start a new delta where the order requires it, so they still
 * apply in sequence; a metadata-only update, which no save writes, is refused as damage.
 */
export function journalDeltas(contents: JournalContents, dimension: number, metric: Metric, basePath: string): DeltaColumns[] {
  const out: DeltaColumns[] = [];
  contents.records.forEach((ops, r) => {
    let cur: { cleared: boolean; deletedIds: Id[]; ids: Id[]; vectors: Float32Array[]; metadata: (Metadata | undefined)[]; upserted: Set<Id> } | undefined;
    const flush = () => {
      if (!cur) return;
      const vectors = new Float32Array(cur.vectors.length * dimension);
      cur.vectors.forEach((v, i) => vectors.set(v, i * dimension));
      out.push({ dimension, metric, ids: cur.ids, vectors, metadata: cur.metadata, cleared: cur.cleared, deletedIds: cur.deletedIds });
      cur = undefined;
    };
    const fresh = () => ({ cleared: false, deletedIds: [], ids: [], vectors: [], metadata: [], upserted: new Set<Id>() });
    for (const op of ops) {
      switch (op.type) {
        case 'clear':
          flush();
          cur = { ...fresh(), cleared: true };
          break;
        case 'delete':
          if (cur && cur.ids.length > 0) flush();
          cur ??= fresh();
          cur.deletedIds.push(op.id);
          break;
        case 'upsert':
          if (op.vector.length !== dimension) {
            throw new QuiverError('DIMENSION_MISMATCH', `${journalDir(basePath)} holds a ${op.vector.length}-dimensional vector for id ${String(op.id)}; the database has dimension ${dimension}.`, { path: journalDir(basePath) });
          }
          if (cur?.upserted.has(op.id)) flush();
          cur ??= fresh();
          cur.upserted.add(op.id);
          cur.ids.push(op.id);
          cur.vectors.push(op.vector);
          cur.metadata.push(op.metadata);
          break;
        case 'updateMetadata':
          throw new CorruptionError({ file: journalDir(basePath), section: `journal record ${r}` }, `record ${r} holds a metadata-only update, which a save never writes; this is not a save journal QuiverDB wrote`);
      }
    }
    flush();
  });
  return out;
}

/** The changes of `changes` as the ops of one batch record: clear, deletions, then upserts. */
export function changeOps(changes: ChangeImage): WalOp[] {
  const ops: WalOp[] = [];
  if (changes.cleared) ops.push({ type: 'clear' });
  for (const id of changes.deletedIds) ops.push({ type: 'delete', id });
  const dim = changes.dimension;
  let i = 0;
  const ids: readonly Id[] = changes.ids;
  const metadata: readonly (Metadata | undefined)[] = changes.metadata;
  for (const chunk of changes.vectorChunks(4096)) {
    const n = chunk.length / dim;
    for (let k = 0; k < n; k++, i++) {
      // The chunk may alias engine memory that the next chunk reuses: copy each vector out.
      ops.push({ type: 'upsert', id: ids[i], vector: chunk.slice(k * dim, (k + 1) * dim), metadata: metadata[i] });
    }
  }
  return ops;
}

/** An open journal for appending. */
export class SaveJournal {
  /** Bytes of log written since the journal was (re)started, including what was there at open. */
  bytes: number;

  /** The log's last segment and its size as this instance left them, to notice another writer's appends. */
  private end: { path: string; size: number } | undefined;

  private constructor(private readonly fs: FileSystem, readonly basePath: string, private writer: WalWriter, private readonly lock: DirLock, bytes: number) {
    this.bytes = bytes;
  }

  /**
   * Opens the journal of `basePath` to extend the state whose checksum is `after`: keeps an existing log
   * that applies to it (`existingBytes` from readJournal), otherwise starts an empty one.
   * `maxSegmentBytes` (default the log's 64 MiB) lets tests cross segment boundaries with small saves.
   *
   * One writer appends at a time: the journal holds the directory's lock (as a durable store's directory
   * is locked) until it is closed. Another instance or process gets BUSY, and so does this one when the
   * log already holds records on `after` that it was not told of (another writer's, who appended and
   * left): starting over would delete saves that writer was told are durable.
   */
  static async open(fs: FileSystem, basePath: string, after: string, existingBytes?: number, maxSegmentBytes?: number): Promise<SaveJournal> {
    const dir = journalDir(basePath);
    let lock: DirLock;
    try {
      lock = await acquireLock(fs, dir);
    } catch (err) {
      if (!(err instanceof QuiverError && err.code === 'LOCKED')) throw err;
      throw refusedIncremental(`another writer is appending to the save journal ${dir} (${err.message})`, basePath, err);
    }
    let writer: WalWriter | undefined;
    try {
      if (existingBytes === undefined || (await readJournalHead(fs, basePath)) !== after) {
        if (existingBytes === undefined && (await journalHasRecords(fs, basePath, after))) {
          throw refusedIncremental(`the save journal ${dir} was extended by another writer since this instance saved or loaded it`, basePath);
        }
        await resetJournalDir(fs, basePath, after);
        existingBytes = 0;
      }
      writer = await WalWriter.open(fs, dir, { durability: 'sync', maxSegmentBytes });
      const journal = new SaveJournal(fs, basePath, writer, lock, existingBytes);
      journal.end = { path: writer.segmentPath, size: await journal.segmentBytes() };
      return journal;
    } catch (err) {
      // Nobody else holds the writer or the lock: its segment's handle would stay open (and its space
      // taken), and the journal locked, for good.
      await writer?.close().catch(() => undefined);
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  /**
   * BUSY (nothing written) when the log's last segment is no longer as this instance left it: another
   * writer (another instance or process on the same files) appended to it, and this writer's next record
   * would overwrite that one's. Checked just before each append; two appends within the same
   * moment can still race.
   */
  async checkUnchanged(): Promise<void> {
    const end = this.end;
    if (end === undefined || end.path !== this.writer.segmentPath) return;
    const size = await statIfExists(this.fs, end.path);
    if (size !== undefined && size.size === end.size) return;
    throw refusedIncremental(`the save journal ${this.dir} was ${size === undefined ? 'removed' : 'extended'} by another writer since this instance's last save`, this.basePath);
  }

  /** Appends `changes` as one durable record; resolves after fsync. Returns the bytes added. */
  async append(changes: ChangeImage): Promise<number> {
    const ops = changeOps(changes);
    if (ops.length === 0) return 0;
    const segment = this.writer.segmentPath;
    const before = await this.segmentBytes();
    try {
      await this.writer.append({ type: 'batch', ops });
    } catch (err) {
      // The log's own message speaks to durable-store users; this one says what the save does next.
      const code = err instanceof QuiverError ? err.code : 'IO_ERROR';
      const osCode = (err as { details?: { osCode?: unknown } }).details?.osCode;
      throw new QuiverError(code, `appending the save to the journal ${this.dir} failed (${osCode === undefined ? (err instanceof Error ? err.message : String(err)) : String(osCode)}); the save may not have completed, and the next save writes the whole file`, { path: this.dir, osCode }, { cause: err });
    }
    const after = await this.segmentBytes();
    this.end = { path: this.writer.segmentPath, size: after };
    // The log may have started a new segment for this record (every 64 MiB): then the new segment's
    // bytes are added, and what the old one took since (a size taken across two files would be wrong,
    // even negative, and the journal's limit would stop being enforced).
    const added = this.writer.segmentPath === segment ? after - before : after + (await this.sizeOf(segment)) - before;
    this.bytes += added;
    return added;
  }

  /** Path of the journal directory. */
  get dir(): string {
    return journalDir(this.basePath);
  }

  /** Flushes and closes the log, then lets another writer take the journal. */
  async close(): Promise<void> {
    try {
      await this.writer.close();
    } finally {
      await this.lock.release();
    }
  }

  private segmentBytes(): Promise<number> {
    return this.sizeOf(this.writer.segmentPath);
  }

  private async sizeOf(path: string): Promise<number> {
    try {
      return (await this.fs.stat(path)).size;
    } catch (err) {
      throw ioError(err, 'stat', path);
    }
  }
}

/**
 * Empties the journal of `basePath` and points it at `after` (the checksum of the state a new full save
 * wrote). Segments go first, then HEAD is rewritten: a crash in between leaves HEAD naming the old
 * state, which no longer matches anything, so the log is ignored.
 */
export async function resetJournalDir(fs: FileSystem, basePath: string, after: string): Promise<void> {
  const dir = journalDir(basePath);
  await ensureDirDurable(fs, dir);
  try {
    for (const name of await fs.readdir(dir)) if (!NOT_LOG.has(name)) await fs.rm(join(dir, name), { recursive: true });
    await fs.syncDir(dir);
  } catch (err) {
    throw ioError(err, 'reset journal', dir);
  }
  await writeFileAtomic(fs, join(dir, JOURNAL_HEAD), Buffer.from(headText(after)));
}

/** Removes the journal of `basePath` entirely (a full save without journaling made it obsolete). */
export async function removeJournal(fs: FileSystem, basePath: string): Promise<boolean> {
  const dir = journalDir(basePath);
  try {
    await fs.stat(dir);
  } catch {
    return false;
  }
  try {
    // HEAD first: without it the directory is inert even if removal stops half-way.
    await fs.rm(join(dir, JOURNAL_HEAD));
    await fs.rm(dir, { recursive: true });
    return true;
  } catch (err) {
    throw ioError(err, 'remove journal', dir);
  }
}
