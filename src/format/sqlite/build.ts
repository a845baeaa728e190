/**
 * Filling a fresh database (a temp file or an in-memory one) with a collection image: schema, one
 * transaction of prepared inserts bucket by bucket, the bucket digests (vector halves hashed on the
 * SHA-256 helper thread for big collections) and quiver_meta with the file checksum.
 */
import type Database from 'better-sqlite3';
import type { CollectionImage } from '../../engine/types.js';
import type { ProgressReporter } from '../../util/progress.js';
import { KeptBuffers } from '../../util/kept-buffers.js';
import { littleEndianBytes } from '../qvdb/endian.js';
import { BucketDigests, OFFLOAD_MIN_BYTES, fileChecksum } from './digest.js';
import { idParam, metadataText } from './rows.js';
import { BUCKET_TARGET_BYTES, ID_INDEX_SQL, META, SCHEMA_SQL, SQLITE_APPLICATION_ID, SQLITE_FORMAT_NAME, SQLITE_FORMAT_VERSION, TABLE, bucketRowsFor, pageSizeFor } from './schema.js';
import { checkAbort, yieldToEventLoop } from './sqlite-errors.js';

/** What a build needs besides the image. */
export interface BuildControl {
  file: string;
  seq: number;
  user: Record<string, unknown>;
  progress: ProgressReporter;
  signal?: AbortSignal;
  /** Told the vector bytes of each bucket once SQLite has taken its rows (roughly what it wrote). */
  wrote?: (bytes: number) => void;
}

/** Shared-memory staging buffers for offloaded bucket hashing (reused once their digest settles). */
const STAGING_SLOTS = 8;
/**
 * Staging buffers kept between builds: eight fresh 1 MiB buffers cost ~2,000 page faults (~35 ms of a
 * ~400 ms export here) when exports come back to back.
 */
const keptSlots = new KeptBuffers<SharedArrayBuffer>(STAGING_SLOTS, BUCKET_TARGET_BYTES);

/** Rows per multi-row INSERT: fewer calls into SQLite for the same work. */
const ROWS_PER_INSERT = 64;

/** Buffers rows and inserts them ROWS_PER_INSERT at a time (the remainder one by one on `flush`). */
class RowInserter {
  private readonly many: Database.Statement;
  private readonly one: Database.Statement;
  private readonly params: unknown[] = [];

  constructor(db: Database.Database) {
    const values = Array.from({ length: ROWS_PER_INSERT }, () => '(?, ?, ?, ?)').join(', ');
    this.many = db.prepare(`INSERT INTO ${TABLE.entries} (pos, id, vector, metadata) VALUES ${values}`);
    this.one = db.prepare(`INSERT INTO ${TABLE.entries} (pos, id, vector, metadata) VALUES (?, ?, ?, ?)`);
  }

  add(pos: number, id: string | bigint, vector: Buffer, metadata: string | null): void {
    this.params.push(pos, id, vector, metadata);
    if (this.params.length === ROWS_PER_INSERT * 4) {
      this.many.run(this.params);
      this.params.length = 0;
    }
  }

  flush(): void {
    for (let i = 0; i < this.params.length; i += 4) this.one.run(this.params.slice(i, i + 4));
    this.params.length = 0;
  }
}

/**
 * The image's vectors as whole buckets of `rows` entries (the last may be shorter), since a bucket's
 * digest covers exactly its rows. The image's chunks are at most that long but may be shorter (a run of
 * untouched slots ends at a hole); such pieces are gathered into one buffer, which is yielded only once
 * full and reused after the consumer is done with it (it asks for the next bucket only then).
 */
function* bucketsOf(image: CollectionImage, rows: number): Generator<Float32Array, void, undefined> {
  const want = rows * image.dimension;
  let gather: Float32Array | undefined;
  let filled = 0;
  for (const chunk of image.vectorChunks(rows)) {
    if (filled === 0 && chunk.length === want) {
      yield chunk;
      continue;
    }
    gather ??= new Float32Array(want);
    for (let off = 0; off < chunk.length; ) {
      const take = Math.min(want - filled, chunk.length - off);
      gather.set(chunk.subarray(off, off + take), filled);
      filled += take;
      off += take;
      if (filled === want) {
        yield gather;
        filled = 0;
      }
    }
  }
  if (filled > 0) yield (gather as Float32Array).subarray(0, filled);
}

/** The quiver_meta rows of a new file (without the checksum). */
export function newMetaRows(image: CollectionImage, seq: number, user: Record<string, unknown>, count: number, bucketRows: number): [string, string][] {
  const now = new Date().toISOString();
  return [
    [META.format, SQLITE_FORMAT_NAME],
    [META.formatVersion, String(SQLITE_FORMAT_VERSION)],
    [META.dimension, String(image.dimension)],
    [META.metric, image.metric],
    [META.count, String(count)],
    [META.seq, String(seq)],
    [META.bucketRows, String(bucketRows)],
    [META.createdAt, now],
    [META.updatedAt, now],
    [META.user, JSON.stringify(user)],
  ];
}

/** Pragmas of a file being created: page size and identification (before the first table). */
export function prepareNewDatabase(db: Database.Database, pageSize: number): void {
  db.pragma(`page_size = ${pageSize}`);
  db.pragma(`application_id = ${SQLITE_APPLICATION_ID}`);
  db.pragma(`user_version = ${SQLITE_FORMAT_VERSION}`);
}

/**
 * Writes `image` into the empty database `db` in one transaction and returns the file checksum.
 * The caller has set journal and sync pragmas; on failure the caller discards the database.
 */
export async function buildDatabase(db: Database.Database, image: CollectionImage, ctl: BuildControl): Promise<{ checksum: string; count: number }> {
  const dim = image.dimension;
  const bucketRows = bucketRowsFor(dim);
  const bucketBytes = bucketRows * dim * 4;
  const offload = image.count * dim * 4 >= 4 * OFFLOAD_MIN_BYTES;
  prepareNewDatabase(db, pageSizeFor(dim, image.count));
  db.exec(SCHEMA_SQL);
  db.exec('BEGIN');
  const insert = new RowInserter(db);
  const digests = new BucketDigests();
  const slots = offload ? Array.from({ length: STAGING_SLOTS }, () => new Uint8Array(keptSlots.take((b) => b.byteLength === bucketBytes) ?? new SharedArrayBuffer(bucketBytes))) : [];
  const slotBusy: (Promise<unknown> | undefined)[] = [];
  const cancelled = `Saving ${ctl.file} was cancelled; the previous file (if any) is unchanged.`;
  try {
    let pos = 0;
    let bucket = 0;
    for (const chunk of bucketsOf(image, bucketRows)) {
      checkAbort(ctl.signal, cancelled);
      const rows = chunk.length / dim;
      let bytes = littleEndianBytes(chunk);
      const slot = bucket % STAGING_SLOTS;
      if (offload) {
        // The helper thread reads the staged copy later, so the slot is reused only once it is done.
        await slotBusy[slot];
        slots[slot].set(bytes);
        bytes = slots[slot].subarray(0, bytes.length);
      }
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let r = 0; r < rows; r++, pos++) {
        const id = image.ids[pos];
        const meta = metadataText(image.metadata[pos], pos);
        insert.add(pos, idParam(id, pos), buf.subarray(r * dim * 4, (r + 1) * dim * 4), meta);
        digests.addKey(pos, id, meta);
      }
      // Pending rows point into this chunk: flush unless it is a staging slot that stays untouched for
      // the next STAGING_SLOTS - 1 buckets (which a pending remainder never outlives when buckets are big).
      if (!offload || bucketRows < ROWS_PER_INSERT) insert.flush();
      slotBusy[slot] = digests.close(bucket, bytes, offload);
      ctl.wrote?.(bytes.length);
      bucket++;
      ctl.progress.update(pos, `wrote ${pos} of ${image.count} entries`);
      await yieldToEventLoop();
    }
    insert.flush();
    checkAbort(ctl.signal, cancelled);
    db.exec(ID_INDEX_SQL);
    const buckets = await digests.results();
    for (const slot of slots) keptSlots.give(slot.buffer as SharedArrayBuffer);
    const insertDigest = db.prepare(`INSERT INTO ${TABLE.digests} (bucket, digest) VALUES (?, ?)`);
    for (const [b, d] of buckets) insertDigest.run(b, d);
    const meta = newMetaRows(image, ctl.seq, ctl.user, pos, bucketRows);
    const checksum = fileChecksum(meta, buckets);
    const insertMeta = db.prepare(`INSERT INTO ${TABLE.meta} (key, value) VALUES (?, ?)`);
    for (const [k, v] of meta) insertMeta.run(k, v);
    insertMeta.run(META.checksum, checksum);
    db.exec('COMMIT');
    return { checksum, count: pos };
  } catch (err) {
    digests.abandon();
    throw err;
  }
}
