/**
 * Vector norms computed next to hashing: the one Euclidean-norm kernel (the engine's `normAt` is this
 * function, so norms computed on the SHA-256 helper thread are bit-identical to the engine's), and a
 * hand-over from readers to the engine: a reader that verified freshly decoded vectors and computed
 * their norms meanwhile remembers them against that Float32Array; `VectorDB.replaceAll` takes them
 * instead of computing them again.
 */

/** Euclidean norm of a[ao..ao+dim), summed in double precision with four independent accumulators. */
export function normAt(a: Float32Array, ao: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = dim - (dim & 3);
  let j = 0;
  for (; j < n4; j += 4) {
    const o = ao + j;
    s0 += a[o] * a[o];
    s1 += a[o + 1] * a[o + 1];
    s2 += a[o + 2] * a[o + 2];
    s3 += a[o + 3] * a[o + 3];
  }
  for (; j < dim; j++) s0 += a[ao + j] * a[ao + j];
  return Math.sqrt(s0 + s1 + (s2 + s3));
}

/** Writes the norms of entries [from, to) of `vectors` (entry i at i*dim) to out[from..to). */
export function normsInto(vectors: Float32Array, dim: number, from: number, to: number, out: Float64Array): void {
  for (let i = from; i < to; i++) out[i] = normAt(vectors, i * dim, dim);
}

/** Entries per block of norms claimed at a time (see {@link claimNorms}). */
export const NORM_BLOCK = 1024;

/**
 * Computes blocks of norms of `count` entries of `vectors` into `out`, claiming each block through the
 * shared counter `claim[0]` (next block index), so that the helper thread and the main thread can
 * share the work: each block is computed by exactly one of them. Only blocks whose entries are all
 * below `landed` (already in memory) are taken. Returns when no such block is left.
 */
export function claimNorms(vectors: Float32Array, dim: number, count: number, out: Float64Array, claim: Int32Array, landed: number): void {
  for (;;) {
    const b = Atomics.load(claim, 0);
    const from = b * NORM_BLOCK;
    if (from >= count) return;
    const to = Math.min(count, from + NORM_BLOCK);
    if (to > landed) return;
    if (Atomics.compareExchange(claim, 0, b, b + 1) === b) normsInto(vectors, dim, from, to, out);
  }
}

/** True once every block of `count` entries has been claimed (computed, if the claimers finished). */
export function allNormsClaimed(count: number, claim: Int32Array): boolean {
  return Atomics.load(claim, 0) * NORM_BLOCK >= count;
}

const remembered = new WeakMap<Float32Array, Float64Array>();

/**
 * Records that `norms[i]` is `normAt(vectors, i * dim, dim)` for every entry of `vectors`, as they are
 * now. Only for vectors nobody else has seen yet (a reader's fresh result): whoever changes them before
 * they reach the engine must call {@link takeNorms} first to drop the record.
 */
export function rememberNorms(vectors: Float32Array, norms: Float64Array): void {
  remembered.set(vectors, norms);
}

/** The norms remembered for exactly this Float32Array (once: the record is dropped), or undefined. */
export function takeNorms(vectors: Float32Array): Float64Array | undefined {
  const n = remembered.get(vectors);
  if (n) remembered.delete(vectors);
  return n;
}
