/**
 * The vectors file of a snapshot and the entries' content hashes, produced in one pass over an image.
 * The hashes' vector lanes (the costly part) are computed on the SHA-256 helper thread from shared
 * copies of the chunks, while this thread hashes and writes the chunks and finishes earlier entries
 * with their metadata. Copies go through a small ring, so this thread waits for the helper only when
 * it is a whole ring behind; if the helper dies, the lanes it may not have computed are redone here
 * from the copies, which are still intact.
 */
import { QuiverError } from '../errors.js';
import type { CollectionImage } from '../engine/types.js';
import { littleEndianBytes } from '../format/qvdb/endian.js';
import { vectorLanes } from '../util/hash-content.js';
import { startSha256, type Sha256Job } from '../util/hash-worker.js';
import { finishHashes } from './content-hash.js';

/** Bytes of vectors per chunk taken from an image. */
export const VECTOR_CHUNK_BYTES = 8 << 20;
/** Images with at least this many bytes of vectors have their lanes computed on the helper thread. */
export const LANES_OFFLOAD_MIN_BYTES = 4 << 20;
/** Shared copies in flight to the helper thread. */
const RING = 3;

interface Slot {
  /** A shared buffer of one chunk; entries [first, first + n) of the image are at its start. */
  copy: Float32Array;
  first: number;
  n: number;
  done: Promise<boolean> | undefined;
}

/**
 * Writes the image's vectors through `write` (each chunk awaited before the next is asked for: chunks
 * may alias engine memory) and fills `hashes` (2 lanes per entry) with their content hashes.
 * `chunkBytes` (tests) sets the chunk size.
 */
export async function produceVectors(image: CollectionImage, count: number, hashes: Uint32Array, write: (raw: Uint8Array) => Promise<void>, chunkBytes = VECTOR_CHUNK_BYTES): Promise<void> {
  const dim = image.dimension;
  const perChunk = Math.max(1, Math.floor(chunkBytes / (dim * 4)));
  let job: Sha256Job | undefined = count * dim * 4 >= LANES_OFFLOAD_MIN_BYTES ? startSha256({ offload: true }) : undefined;
  if (job && !job.offloaded) job = undefined;
  // Lanes are computed into the hashes' own slots and finished in place (see hashChunk).
  const lanes = job ? new Int32Array(new SharedArrayBuffer(count * 8)) : new Int32Array(hashes.buffer, hashes.byteOffset, hashes.length);
  const out = job ? new Uint32Array(lanes.buffer) : hashes;
  const ring: Slot[] = [];
  let finished = 0;
  let confirmed = 0;
  /** Waits for `slot`'s lanes (redoing them here if the helper died) and finishes what is confirmed. */
  const settle = async (slot: Slot): Promise<void> => {
    const done = slot.done;
    if (!done) return;
    slot.done = undefined;
    if (!(await done)) {
      job = undefined;
      vectorLanes(slot.copy, dim, slot.n, lanes, slot.first);
    }
    confirmed = slot.first + slot.n;
  };
  let entries = 0;
  let k = 0;
  try {
    for (const chunk of image.vectorChunks(perChunk)) {
      const n = chunk.length / dim;
      if (entries + n > count) break;
      if (job) {
        if (ring.length < RING) ring.push({ copy: new Float32Array(new SharedArrayBuffer(perChunk * dim * 4)), first: 0, n: 0, done: undefined });
        const slot = ring[k % RING];
        await settle(slot);
        // The helper died: the newer copies' lanes are redone here too, oldest first.
        if (!job) for (let i = 1; i < ring.length; i++) await settle(ring[(k + i) % ring.length]);
        if (job) {
          slot.first = entries;
          slot.n = n;
          const copy = slot.copy.subarray(0, chunk.length);
          copy.set(chunk);
          job.contentLanes(copy, dim, n, lanes, entries);
          slot.done = job.barrier();
        }
      }
      const p = write(littleEndianBytes(chunk));
      if (!job) {
        vectorLanes(chunk, dim, n, lanes, entries);
        confirmed = entries + n;
      }
      finishHashes(lanes, dim, image.metadata, finished, confirmed - finished, out);
      finished = confirmed;
      await p;
      entries += n;
      k++;
    }
    for (let i = 0; i < ring.length; i++) await settle(ring[(k + i) % ring.length]);
  } finally {
    job?.abandon();
  }
  if (entries !== count) throw new QuiverError('INVALID_ARGUMENT', `the image yielded ${entries} vectors, expected ${count}`);
  finishHashes(lanes, dim, image.metadata, finished, entries - finished, out);
  if (out !== hashes) hashes.set(out);
}
