/**
 * A readers-writer lock for async work: restores and verifies share it; deletions, folds and garbage
 * collection take it alone, so no restore reads a file while it is being removed. Writers are
 * preferred (a waiting writer holds back new readers) so a stream of restores cannot starve a delete.
 */

/** The lock. */
export class ReadWriteLock {
  private readers = 0;
  private writing = false;
  private readonly queue: { write: boolean; go: () => void }[] = [];

  /** Runs `fn` sharing the lock with other readers. */
  async read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writing || this.queue.some((w) => w.write)) await new Promise<void>((go) => this.queue.push({ write: false, go }));
    else this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      this.pump();
    }
  }

  /** Runs `fn` holding the lock alone. */
  async write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writing || this.readers > 0 || this.queue.length > 0) await new Promise<void>((go) => this.queue.push({ write: true, go }));
    else this.writing = true;
    try {
      return await fn();
    } finally {
      this.writing = false;
      this.pump();
    }
  }

  private pump(): void {
    if (this.writing) return;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (next.write) {
        if (this.readers > 0) return;
        this.queue.shift();
        this.writing = true;
        next.go();
        return;
      }
      this.queue.shift();
      this.readers++;
      next.go();
    }
  }
}
