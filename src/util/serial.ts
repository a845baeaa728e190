/**
 * A one-at-a-time queue: operations run in call order and never overlap (saves, loads, imports).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private running = 0;

  /** True while an operation is queued or running. */
  get busy(): boolean {
    return this.running > 0;
  }

  /** Runs `fn` after every previously queued operation has settled. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.running++;
    const next = this.tail.then(fn, fn);
    this.tail = next.then(
      () => this.running--,
      () => this.running--,
    );
    return next;
  }

  /** Resolves when everything queued so far has settled. */
  async idle(): Promise<void> {
    while (this.running > 0) await this.tail;
  }
}

/**
 * One SerialQueue per key (a path, say): operations on one key run one at a time in call order, on
 * different keys concurrently. A key's queue is dropped once it is idle.
 */
export class KeyedSerialQueue<K> {
  private readonly queues = new Map<K, SerialQueue>();

  /** Runs `fn` after every operation queued before it on `key` has settled. */
  run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = new SerialQueue()));
    const q = queue;
    const result = q.run(fn);
    // The queue's own bookkeeping settles first (its reaction was registered first).
    const drop = (): void => {
      if (!q.busy && this.queues.get(key) === q) this.queues.delete(key);
    };
    void result.then(drop, drop);
    return result;
  }
}
