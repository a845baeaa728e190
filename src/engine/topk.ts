/**
 * Fixed-size top-k selection over (goodness, slot) pairs, kept in typed arrays as a binary heap whose
 * root is the worst kept candidate. "Goodness" is higher-is-better (distances are negated by the
 * caller); equal goodness is broken by slot order, the lower slot winning, so results are stable.
 */
export class TopK {
  private readonly good: Float64Array;
  private readonly slot: Int32Array;
  private n = 0;

  constructor(readonly capacity: number) {
    this.good = new Float64Array(capacity);
    this.slot = new Int32Array(capacity);
  }

  /** Number of candidates kept. */
  get size(): number {
    return this.n;
  }

  /** True when `capacity` candidates are kept. */
  get full(): boolean {
    return this.n === this.capacity;
  }

  /** Goodness of the worst kept candidate (only meaningful when `size > 0`). */
  get worst(): number {
    return this.good[0];
  }

  // True when entry i ranks below entry j.
  private below(i: number, j: number): boolean {
    const gi = this.good[i];
    const gj = this.good[j];
    return gi < gj || (gi === gj && this.slot[i] > this.slot[j]);
  }

  private swap(i: number, j: number): void {
    const g = this.good[i];
    this.good[i] = this.good[j];
    this.good[j] = g;
    const s = this.slot[i];
    this.slot[i] = this.slot[j];
    this.slot[j] = s;
  }

  private siftDown(i: number): void {
    const n = this.n;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.below(r, l) ? r : l;
      if (!this.below(m, i)) return;
      this.swap(i, m);
      i = m;
    }
  }

  /** Offers a candidate; keeps it when there is room or it beats the current worst. */
  push(goodness: number, slot: number): void {
    if (this.n < this.capacity) {
      let i = this.n++;
      this.good[i] = goodness;
      this.slot[i] = slot;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.below(i, p)) break;
        this.swap(i, p);
        i = p;
      }
      return;
    }
    const g0 = this.good[0];
    if (goodness < g0 || (goodness === g0 && slot > this.slot[0])) return;
    this.good[0] = goodness;
    this.slot[0] = slot;
    this.siftDown(0);
  }

  /** Empties the heap and returns the kept candidates best first. */
  drain(): { goodness: Float64Array; slots: Int32Array } {
    const n = this.n;
    const goodness = new Float64Array(n);
    const slots = new Int32Array(n);
    for (let i = n - 1; i >= 0; i--) {
      goodness[i] = this.good[0];
      slots[i] = this.slot[0];
      this.n--;
      if (this.n > 0) {
        this.good[0] = this.good[this.n];
        this.slot[0] = this.slot[this.n];
        this.siftDown(0);
      }
    }
    return { goodness, slots };
  }
}
