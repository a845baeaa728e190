/**
 * Checkpoints: the whole collection written as a new .qvdb file (atomically), then the log rotated so
 * every record the checkpoint holds is in sealed, fsynced segments, then the CURRENT pointer published
 * (atomically, last), then the log segments and checkpoints it made obsolete deleted. A crash at any
 * step leaves the previous pointer valid: its checkpoint and log are deleted only after the new
 * pointer is durable. Checkpoints run one at a time, in the order they were asked for.
 */
import { join } from 'node:path';
import type { CollectionImage } from '../engine/types.js';
import type { FileSystem } from '../env/fs.js';
import { writeQvdb } from '../format/qvdb/writer.js';
import type { WalWriter } from '../wal/writer.js';
import { checkpointName, listCheckpoints } from './layout.js';
import { writePointer, type StorePointer } from './pointer.js';

/** What a checkpoint is made of, taken synchronously when its turn comes. */
export interface CheckpointSource {
  image: CollectionImage;
  /** Every log record with a sequence number ≤ walSeq is reflected in the image, and no later one. */
  walSeq: number;
}

/** Counters of the checkpoints written since open. */
export interface CheckpointStats {
  written: number;
  failed: number;
  lastMs: number;
  lastBytes: number;
  lastError: Error | undefined;
}

/** Writes checkpoints of one store directory, one at a time. */
export class Checkpointer {
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;
  readonly stats: CheckpointStats = { written: 0, failed: 0, lastMs: 0, lastBytes: 0, lastError: undefined };
  /** The log writer; absent while a new store writes its first checkpoint. */
  writer: WalWriter | undefined;

  constructor(private readonly fs: FileSystem, readonly dir: string, private generation: number, public pointer: StorePointer | undefined) {}

  /** Checkpoints queued or running. */
  get busy(): boolean {
    return this.pending > 0;
  }

  /**
   * Queues a checkpoint. `take` runs synchronously when the checkpoint starts and returns what to
   * write (undefined: nothing to do). The image is released when written. Resolves with the new
   * pointer (or the current one when skipped).
   */
  run(take: () => CheckpointSource | undefined): Promise<StorePointer | undefined> {
    this.pending++;
    const job = this.chain.then(async () => {
      const src = take();
      if (!src) return this.pointer;
      return this.write(src);
    });
    this.chain = job.catch(() => undefined).finally(() => {
      this.pending--;
    });
    return job;
  }

  /** Resolves when every queued checkpoint has finished (successfully or not). */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.chain;
  }

  private async write(src: CheckpointSource): Promise<StorePointer> {
    const t0 = performance.now();
    // A generation is never reused, even after a failure that may have left its file behind.
    const generation = ++this.generation;
    const name = checkpointName(generation);
    const createdAt = Date.now();
    const { image, walSeq } = src;
    try {
      const res = await writeQvdb(this.fs, join(this.dir, name), image, { user: { walSeq, generation }, createdAt });
      // Seal the segment holding walSeq: after this, records ≤ walSeq are fsynced in every mode and
      // the segments before the new one can go once the pointer is published.
      if (this.writer) await this.writer.rotate();
      const pointer: StorePointer = {
        checkpoint: name, generation, walSeq, checksum: res.checksum, dimension: image.dimension, metric: image.metric, count: image.count, createdAt,
      };
      await writePointer(this.fs, this.dir, pointer);
      this.pointer = pointer;
      this.stats.written++;
      this.stats.lastBytes = res.bytes;
      this.stats.lastMs = performance.now() - t0;
      await this.cleanup(pointer);
      return pointer;
    } catch (err) {
      this.stats.failed++;
      this.stats.lastError = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      image.release();
    }
  }

  /** Deletes what the new pointer made obsolete. Best effort: leftovers are removed by later checkpoints or opens. */
  private async cleanup(p: StorePointer): Promise<void> {
    try {
      if (this.writer) await this.writer.deleteSegmentsBefore(p.walSeq);
      const old = (await listCheckpoints(this.fs, this.dir)).filter((c) => c.generation < p.generation);
      for (const c of old) await this.fs.rm(c.path);
      if (old.length > 0) await this.fs.syncDir(this.dir);
    } catch {
      // Obsolete files cost disk space, never correctness: the pointer names what is current.
    }
  }
}
