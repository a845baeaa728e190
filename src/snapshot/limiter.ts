/**
 * A counting semaphore for async work: at most `limit` tasks run at once, the rest wait in FIFO order.
 * Bounds concurrent compression blocks and file reads (`maxConcurrentIo`).
 */

/** Runs async tasks with bounded concurrency. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`Limiter needs a positive integer limit, got ${limit}`);
  }

  /** Runs `fn` once a slot is free. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** Runs `fn` over every item with bounded concurrency; rejects with the first failure after all settle. */
  async map<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const results = await Promise.allSettled(items.map((item, i) => this.run(() => fn(item, i))));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return results.map((r) => (r as PromiseFulfilledResult<R>).value);
  }
}
