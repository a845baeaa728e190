/**
 * File-level steps of the writer: creating a segment durably, preparing the newest segment for
 * appending after a restart (cutting a torn tail), and deleting segments a checkpoint made obsolete.
 */
import { join } from 'node:path';
import { ioError } from '../errors.js';
import type { FileHandle, FileSystem } from '../env/fs.js';
import { SEGMENT_HEADER_SIZE, segmentName } from './constants.js';
import { verifySegment } from './reader.js';
import { damageError } from './scan.js';
import { encodeSegmentHeader, listSegments } from './segment.js';

/** An open segment the writer appends to. */
export interface ActiveSegment {
  handle: FileHandle;
  path: string;
  firstSeq: number;
  /** Bytes in the file (header included). */
  size: number;
  /** Records in the file. */
  records: number;
}

/**
 * Creates the segment starting at `firstSeq`: exclusive create, header, fsync, and fsync of the
 * directory, so the file cannot vanish after records in it were acknowledged. With `dsync` the handle
 * makes each write durable before it resolves (the writer's `sync` mode).
 */
export async function createSegment(fs: FileSystem, dir: string, firstSeq: number, dsync = false): Promise<ActiveSegment> {
  const path = join(dir, segmentName(firstSeq));
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(path, 'wx', { dsync });
    await handle.write(encodeSegmentHeader(firstSeq), 0);
    await handle.sync();
    await fs.syncDir(dir);
    return { handle, path, firstSeq, size: SEGMENT_HEADER_SIZE, records: 0 };
  } catch (err) {
    await handle?.close().catch(() => undefined);
    throw ioError(err, 'create write-ahead log segment', path);
  }
}

/** Where an existing log continues. */
export interface LogTail {
  /** Sequence number the next record gets if the log is continued as is. */
  nextSeq: number;
  /** The newest segment, open for appending, when it can be continued at `nextSeq`. */
  active?: ActiveSegment;
}

/**
 * Opens the log in `dir` for appending: verifies the newest segment (damage before its tail is a
 * CorruptionError; read the log with `repair: true` first), cuts a torn tail off, fsyncs it, and returns
 * the segment to continue, unless `minNextSeq` lies beyond the log's end (then a new segment is needed,
 * and an empty newest segment is removed so no segment is left starting at an unused number).
 * `dsync` as for {@link createSegment}.
 */
export async function openLogTail(fs: FileSystem, dir: string, minNextSeq: number, dsync = false): Promise<LogTail> {
  const segs = await listSegments(fs, dir);
  const last = segs[segs.length - 1];
  if (!last) return { nextSeq: minNextSeq };
  const scan = await verifySegment(fs, last, true);
  if (scan.damage && !scan.damage.torn) throw damageError(scan);
  const logNext = scan.lastSeq + 1;
  const continues = minNextSeq <= logNext;
  try {
    if (scan.validEnd < SEGMENT_HEADER_SIZE || (!continues && scan.records === 0)) {
      // A segment without records (or without a complete header) holds nothing worth keeping.
      await fs.unlink(last.path);
      await fs.syncDir(dir);
      return { nextSeq: Math.max(logNext, minNextSeq) };
    }
    const handle = await fs.open(last.path, 'r+', { dsync });
    try {
      // Cut the torn tail before anything is appended, or it would sit between valid records.
      if (scan.validEnd < scan.size) await handle.truncate(scan.validEnd);
      // Records a writer in `interval` or `none` mode left unsynced must be durable before new records
      // are acknowledged after them: an O_DSYNC write makes only its own bytes durable, so a power loss
      // could otherwise leave a hole in front of acknowledged records.
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    if (!continues) {
      await handle.close();
      return { nextSeq: minNextSeq };
    }
    return { nextSeq: logNext, active: { handle, path: last.path, firstSeq: last.firstSeq, size: scan.validEnd, records: scan.records } };
  } catch (err) {
    throw ioError(err, 'open write-ahead log segment', last.path);
  }
}

/**
 * Deletes, oldest first, every segment all of whose records have sequence numbers ≤ `seq` (known from
 * the next segment's first number; the newest segment is never deleted). The directory is fsynced
 * after each deletion so that after a power loss the remaining segments are still a contiguous run.
 * Returns the deleted paths.
 */
export async function deleteSegmentsBefore(fs: FileSystem, dir: string, seq: number): Promise<string[]> {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`seq must be a non-negative safe integer, got ${seq}`);
  const segs = await listSegments(fs, dir);
  const deleted: string[] = [];
  for (let i = 0; i + 1 < segs.length && segs[i + 1].firstSeq <= seq + 1; i++) {
    try {
      await fs.unlink(segs[i].path);
      await fs.syncDir(dir);
    } catch (err) {
      throw ioError(err, 'delete write-ahead log segment', segs[i].path);
    }
    deleted.push(segs[i].path);
  }
  return deleted;
}
