/**
 * Keeps one worker pool alive between operations so that back-to-back saves and loads skip thread
 * start-up and re-warming the JIT. Idle pools are unref'd (they never keep the process alive) and
 * closed after a short idle period; a pool that failed is never handed out again.
 */

/** What the keeper needs from a pool. */
export interface Keepable {
  /** False once a worker failed. */
  readonly healthy: boolean;
  /** Lets (or stops letting) the pool's threads keep the process alive. */
  ref(): void;
  unref(): void;
  close(): Promise<void>;
}

/** Idle time after which a kept pool is closed. */
export const KEEP_IDLE_MS = 5000;

/** Hands out one shared instance of a pool, counted by users. */
export class Keeper<T extends Keepable> {
  private item: T | undefined;
  private users = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly create: () => T) {}

  /** The shared pool (created on first use), referenced until {@link release}. */
  acquire(): T {
    if (this.item && !this.item.healthy && this.users === 0) this.drop();
    if (!this.item || !this.item.healthy) {
      if (this.item) return this.create(); // the shared one is failing but still in use: a private one
      this.item = this.create();
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.users++ === 0) this.item.ref();
    return this.item;
  }

  /** Ends one use; the last user leaves the pool idle (unref'd, closed later). Private pools close now. */
  async release(item: T): Promise<void> {
    if (item !== this.item) {
      await item.close();
      return;
    }
    if (--this.users > 0) return;
    if (!item.healthy) {
      await this.drop();
      return;
    }
    item.unref();
    this.timer = setTimeout(() => void this.drop(), KEEP_IDLE_MS);
    this.timer.unref();
  }

  private async drop(): Promise<void> {
    const item = this.item;
    this.item = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await item?.close();
  }
}
