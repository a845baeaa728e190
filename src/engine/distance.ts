/**
 * Distance kernels over the float32 slab. Each reads `dim` floats of `a` starting at `ao` against the
 * query `q` (offset 0). Sums run in double precision with four independent accumulators: V8 does not
 * vectorise, but breaking the dependency chain roughly doubles throughput.
 */

/** Dot product of a[ao..ao+dim) and q. */
export function dotAt(a: Float32Array, ao: number, q: Float32Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = dim - (dim & 3);
  let j = 0;
  for (; j < n4; j += 4) {
    const o = ao + j;
    s0 += a[o] * q[j];
    s1 += a[o + 1] * q[j + 1];
    s2 += a[o + 2] * q[j + 2];
    s3 += a[o + 3] * q[j + 3];
  }
  for (; j < dim; j++) s0 += a[ao + j] * q[j];
  return s0 + s1 + (s2 + s3);
}

/** Squared Euclidean distance between a[ao..ao+dim) and q. */
export function squaredL2At(a: Float32Array, ao: number, q: Float32Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = dim - (dim & 3);
  let j = 0;
  for (; j < n4; j += 4) {
    const o = ao + j;
    const d0 = a[o] - q[j];
    const d1 = a[o + 1] - q[j + 1];
    const d2 = a[o + 2] - q[j + 2];
    const d3 = a[o + 3] - q[j + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; j < dim; j++) {
    const d = a[ao + j] - q[j];
    s0 += d * d;
  }
  return s0 + s1 + (s2 + s3);
}

/** Manhattan (L1) distance between a[ao..ao+dim) and q. */
export function l1At(a: Float32Array, ao: number, q: Float32Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = dim - (dim & 3);
  let j = 0;
  for (; j < n4; j += 4) {
    const o = ao + j;
    s0 += Math.abs(a[o] - q[j]);
    s1 += Math.abs(a[o + 1] - q[j + 1]);
    s2 += Math.abs(a[o + 2] - q[j + 2]);
    s3 += Math.abs(a[o + 3] - q[j + 3]);
  }
  for (; j < dim; j++) s0 += Math.abs(a[ao + j] - q[j]);
  return s0 + s1 + (s2 + s3);
}

/** Euclidean norm of a[ao..ao+dim) (one kernel, shared with the readers that compute norms while hashing). */
export { normAt } from '../util/hash-norms.js';

/** Cosine similarity from a dot product and two norms; 0 when either vector is zero; clamped to [-1, 1]. */
export function cosineFrom(dot: number, na: number, nb: number): number {
  const den = na * nb;
  if (den === 0) return 0;
  const c = dot / den;
  return c > 1 ? 1 : c < -1 ? -1 : c;
}
