/**
 * Buffers kept between uses for a while. Writing to fresh memory is slow on some virtual machines
 * (~10 µs per 4 KiB page: ~4 ms for 1.5 MB, ~70 ms for three 8 MiB buffers), and the work that needs
 * such buffers (saves, snapshots) tends to come back to back. Buffers given back are kept until
 * `keepMs` after the last give-back, then dropped for the GC.
 */

/** How long given-back buffers are kept by default. */
export const KEEP_MS = 10_000;

/** A small pool of reusable buffers (ArrayBuffer-backed views or SharedArrayBuffers). */
export class KeptBuffers<T extends { readonly byteLength: number }> {
  private readonly kept: T[] = [];
  private drop: ReturnType<typeof setTimeout> | undefined;

  /** Keeps at most `max` buffers, none longer than `maxBytes`. */
  constructor(private readonly max: number, private readonly maxBytes: number, private readonly keepMs = KEEP_MS) {}

  /** A kept buffer that `fits` (taken out of the pool), or undefined. */
  take(fits: (b: T) => boolean): T | undefined {
    const i = this.kept.findIndex(fits);
    return i < 0 ? undefined : this.kept.splice(i, 1)[0];
  }

  /**
   * Gives `b` back for reuse; the caller must be done with it (the next taker overwrites it). When
   * the pool is full, `b` replaces the smallest kept buffer if it is bigger.
   */
  give(b: T): void {
    if (b.byteLength > this.maxBytes || this.kept.includes(b)) return;
    if (this.kept.length < this.max) {
      this.kept.push(b);
    } else {
      let small = 0;
      for (let i = 1; i < this.kept.length; i++) if (this.kept[i].byteLength < this.kept[small].byteLength) small = i;
      if (this.kept[small].byteLength >= b.byteLength) return;
      this.kept[small] = b;
    }
    if (this.drop) clearTimeout(this.drop);
    this.drop = setTimeout(() => {
      this.kept.length = 0;
      this.drop = undefined;
    }, this.keepMs);
    this.drop.unref();
  }
}
