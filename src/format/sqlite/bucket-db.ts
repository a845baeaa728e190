/**
 * Digest buckets recomputed from the rows stored in a database (incremental saves): the same bytes
 * the reader hashes, taken from one bucket's position range.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { CorruptionError } from '../../errors.js';
import { KeyRecords, combineBucket } from './digest.js';
import { TABLE } from './schema.js';

/** Reads and hashes single buckets of one open database. */
export class StoredBuckets {
  private readonly rows: Database.Statement;
  private readonly getDigest: Database.Statement;
  private readonly putDigest: Database.Statement;
  private readonly dropDigest: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly file: string,
    private readonly bucketRows: number,
  ) {
    this.rows = db.prepare(`SELECT pos, id, vector, metadata, typeof(id) FROM ${TABLE.entries} WHERE pos BETWEEN ? AND ? ORDER BY pos`).raw();
    this.getDigest = db.prepare(`SELECT digest FROM ${TABLE.digests} WHERE bucket = ?`).pluck();
    this.putDigest = db.prepare(`INSERT OR REPLACE INTO ${TABLE.digests} (bucket, digest) VALUES (?, ?)`);
    this.dropDigest = db.prepare(`DELETE FROM ${TABLE.digests} WHERE bucket = ?`);
  }

  /** The bucket's digest from its current rows, or undefined when it has none. */
  compute(bucket: number): Buffer | undefined {
    const keys = new KeyRecords();
    const vectors = createHash('sha256');
    let any = false;
    for (const [pos, id, vector, metadata, kind] of this.rows.iterate(bucket * this.bucketRows, (bucket + 1) * this.bucketRows - 1) as Iterable<unknown[]>) {
      const idOk = (kind === 'integer' && typeof id === 'number' && Number.isSafeInteger(id)) || (kind === 'text' && typeof id === 'string');
      if (typeof pos !== 'number' || !idOk || !(vector instanceof Uint8Array) || (metadata !== null && typeof metadata !== 'string')) {
        throw new CorruptionError({ file: this.file, section: `${TABLE.entries} pos ${String(pos)}` }, 'the entry has cells of the wrong type; do a full save to rewrite the file');
      }
      keys.add(pos, id as string | number, metadata as string | null);
      vectors.update(vector);
      any = true;
    }
    return any ? combineBucket(keys.digest(), vectors.digest()) : undefined;
  }

  /** Throws CHECKSUM_MISMATCH unless the bucket's rows match its stored digest (before they change). */
  verify(bucket: number): void {
    const actual = this.compute(bucket);
    const stored = this.getDigest.get(bucket) as unknown;
    const same = actual === undefined ? stored === undefined : Buffer.isBuffer(stored) && stored.equals(actual);
    if (!same) {
      const first = bucket * this.bucketRows;
      throw new CorruptionError(
        { file: this.file, section: TABLE.entries },
        `the entries at positions ${first}..${first + this.bucketRows - 1} (digest bucket ${bucket}) do not match their SHA-256 in ${TABLE.digests}; an incremental save cannot build on them, do a full save`,
        'CHECKSUM_MISMATCH',
      );
    }
  }

  /** Stores the bucket's digest from its current rows (or removes it when the bucket is empty). */
  refresh(bucket: number): void {
    const d = this.compute(bucket);
    if (d === undefined) this.dropDigest.run(bucket);
    else this.putDigest.run(bucket, d);
  }
}
