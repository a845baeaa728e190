/**
 * Warms the pages of a freshly allocated output slab on the I/O thread pool. The first write to each
 * page of a new 100+ MB Float32Array costs a page fault, and on virtual machines those faults cost
 * more than copying the bytes; taken on the main thread they serialise with decoding and hashing.
 * Reading file bytes (any bytes: they are overwritten later) into the slab ahead of the decoder makes
 * the kernel take those faults on a pool thread instead, in parallel.
 *
 * Safety: a region is only written by the decoder after the warming read into it has settled
 * ({@link SlabWarmer.ready}), and every read has settled before {@link SlabWarmer.close} returns.
 */

/** Fills `into[offset, offset + length)` with some bytes (a positional read of the input file). */
export type WarmRead = (into: Uint8Array, offset: number, length: number) => Promise<unknown>;

/** Bytes per warming read. */
const CHUNK = 4 << 20;
/** How far ahead of the decoder the warm region reaches. */
const LEAD = 24 << 20;

/** Keeps the pages of `target` ahead of a write cursor faulted in by pool-thread reads. */
export class SlabWarmer {
  private frontier: number;
  private readonly pending: { start: number; done: Promise<void> }[] = [];

  private readonly bytes: Uint8Array;

  /** `skip`: bytes at the start the decoder writes at once (not worth warming). */
  constructor(readonly target: Float32Array, private readonly read: WarmRead, skip: number) {
    this.bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
    this.frontier = Math.min(this.bytes.length, skip);
  }

  /**
   * Waits until bytes [0, upTo) of `target` may be written (no warming read pending there) and keeps reads
   * going ahead of it.
   */
  async ready(upTo: number): Promise<void> {
    const goal = Math.min(this.bytes.length, upTo + LEAD);
    if (this.frontier < upTo) this.frontier = Math.min(this.bytes.length, upTo);
    while (this.frontier < goal) {
      const start = this.frontier;
      const n = Math.min(CHUNK, goal - start);
      // A failed warming read only means the faults happen on the main thread after all.
      const done = this.read(this.bytes, start, n).then(
        () => undefined,
        () => undefined,
      );
      this.pending.push({ start, done });
      this.frontier += n;
    }
    while (this.pending.length > 0 && this.pending[0].start < upTo) await this.pending.shift()!.done;
  }

  /** Waits for every warming read (call before the slab is handed out or the file is closed). */
  async close(): Promise<void> {
    const all = this.pending.splice(0);
    await Promise.all(all.map((p) => p.done));
  }
}
