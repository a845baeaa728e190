/**
 * The vector part of the snapshot content hash ("quiver-content-v1", see src/snapshot/content-hash.ts):
 * the two 32-bit lanes after mixing every float32 bit pattern of one entry. It lives here so that the
 * SHA-256 helper thread can run it over shared memory while the main thread writes; the snapshot layer
 * finishes each entry with its metadata. Changing a constant here changes every stored hash.
 */

/** Lane A's start value. */
export const LANE_A_SEED = 0x9747b28c;
/** Lane B's start value. */
export const LANE_B_SEED = 0x3c6ef372;

/**
 * For entries [0, count) of `vectors` (entry e at e*dim): mixes the entry's float32 words into both
 * lanes and writes them to out[2*(outAt+e)] (lane A) and out[2*(outAt+e)+1] (lane B).
 */
export function vectorLanes(vectors: Float32Array, dim: number, count: number, out: Int32Array, outAt: number): void {
  const words = new Int32Array(vectors.buffer, vectors.byteOffset, count * dim);
  for (let e = 0; e < count; e++) {
    let a = LANE_A_SEED;
    let b = LANE_B_SEED;
    const end = (e + 1) * dim;
    for (let i = e * dim; i < end; i++) {
      const w = words[i];
      let k = Math.imul(w, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      a ^= k;
      a = (a << 13) | (a >>> 19);
      a = (Math.imul(a, 5) + 0xe6546b64) | 0;
      b = Math.imul(b ^ w, 0x2545f491);
      b ^= b >>> 15;
    }
    const at = 2 * (outAt + e);
    out[at] = a;
    out[at + 1] = b;
  }
}
