/**
 * Per-entry 64-bit content hashes, stored in every snapshot so that an incremental snapshot of a
 * database the manager has not seen before (another process, a restored copy) can find what changed
 * since its base by comparing hashes, without reading the base's vectors back.
 *
 * The hash covers the vector's exact float32 bit patterns (so -0 and 0 differ, as they do on disk) and
 * the metadata's structure, keys in order, strings and numbers' float64 bits. Two lanes are kept: a
 * MurmurHash3-style lane and a multiply-xorshift lane, each finished with MurmurHash3's fmix32. It is a
 * change detector, not a security measure: files are protected by SHA-256.
 */
import type { Metadata } from '../engine/types.js';
import { HOST_IS_LITTLE_ENDIAN } from '../format/qvdb/endian.js';
import { vectorLanes } from '../util/hash-content.js';

let laneA = 0;
let laneB = 0;

function mix(w: number): void {
  let k = Math.imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let a = laneA ^ k;
  a = (a << 13) | (a >>> 19);
  laneA = (Math.imul(a, 5) + 0xe6546b64) | 0;
  const b = Math.imul(laneB ^ w, 0x2545f491);
  laneB = b ^ (b >>> 15);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const f64 = new Float64Array(1);
const f64w = new Int32Array(f64.buffer);
// Low word first whatever the host's byte order, so hashes agree across platforms.
const LO = HOST_IS_LITTLE_ENDIAN ? 0 : 1;

function mixString(s: string): void {
  mix(s.length);
  for (let i = 0; i < s.length; i++) mix(s.charCodeAt(i));
}

function mixValue(v: unknown): void {
  switch (typeof v) {
    case 'string':
      mix(1);
      mixString(v);
      return;
    case 'number':
      // -0 as 0: it is written as the integer 0 (and a reader's -0 must hash like the 0 it saves as).
      f64[0] = v === 0 ? 0 : v;
      mix(2);
      mix(f64w[LO]);
      mix(f64w[1 - LO]);
      return;
    case 'boolean':
      mix(v ? 3 : 4);
      return;
    case 'object':
      if (v === null) {
        mix(5);
      } else if (Array.isArray(v)) {
        mix(6);
        mix(v.length);
        for (let i = 0; i < v.length; i++) mixValue(v[i]);
      } else {
        const keys = Object.keys(v);
        mix(7);
        mix(keys.length);
        for (const k of keys) {
          mixString(k);
          mixValue((v as Record<string, unknown>)[k]);
        }
      }
      return;
    default:
      mix(8);
  }
}

/**
 * Finishes the hashes of `count` entries whose vector lanes are in lanes[2*first ..] (as
 * `vectorLanes` writes them): mixes entry i's metadata `metadata[first + i]` and the dimension and
 * writes the two hash lanes to out[2*(first+i)], out[2*(first+i)+1].
 */
export function finishHashes(lanes: Int32Array, dim: number, metadata: readonly (Metadata | undefined)[], first: number, count: number, out: Uint32Array): void {
  for (let e = first; e < first + count; e++) {
    const at = 2 * e;
    laneA = lanes[at];
    laneB = lanes[at + 1];
    const md = metadata[e];
    if (md === undefined) mix(0);
    else mixValue(md);
    mix(dim);
    out[at] = fmix(laneA);
    out[at + 1] = fmix(laneB ^ Math.imul(laneA, 0x27d4eb2f));
  }
}

/**
 * Hashes the entries of one vector chunk: entry i of the chunk (dimension `dim`) with metadata
 * `metadata[first + i]`; writes lanes to `out[2 * (first + i)]` and `out[2 * (first + i) + 1]`.
 */
export function hashChunk(chunk: Float32Array, dim: number, metadata: readonly (Metadata | undefined)[], first: number, out: Uint32Array): void {
  const n = Math.floor(chunk.length / dim);
  // The lanes go into `out` itself (same slots), then are finished in place.
  const lanes = new Int32Array(out.buffer, out.byteOffset, out.length);
  vectorLanes(chunk, dim, n, lanes, first);
  finishHashes(lanes, dim, metadata, first, n, out);
}

/** The 64-bit content hash of one entry, as two unsigned 32-bit lanes. */
export function hashEntry(vector: Float32Array, metadata: Metadata | undefined): [number, number] {
  const out = new Uint32Array(2);
  hashChunk(vector, vector.length, [metadata], 0, out);
  return [out[0], out[1]];
}
