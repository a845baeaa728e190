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
