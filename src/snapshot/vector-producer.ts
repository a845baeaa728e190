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
import { OFFLOAD_MIN_BYTES, startSha256, type Sha256Job } from '../util/hash-worker.js';
import { KeptBuffers } from '../util/kept-buffers.js';
import { finishHashes } from './content-hash.js';

/** Bytes of vectors per chunk taken from an image. */
export const VECTOR_CHUNK_BYTES = 8 << 20;
/** Shared copies in flight to the helper thread. */
const RING = 3;

/**
 * Ring buffers of VECTOR_CHUNK_BYTES kept between snapshots (scheduled snapshots come back to back, and
 * a fresh ring is ~70 ms of page faults on some virtual machines).
 */
const spareRing = new KeptBuffers<SharedArrayBuffer>(RING, VECTOR_CHUNK_BYTES);

/** A ring buffer of `bytes` (at least VECTOR_CHUNK_BYTES, so that kept buffers fit every caller). */
function takeRingBuffer(bytes: number): SharedArrayBuffer {
  return (bytes === VECTOR_CHUNK_BYTES ? spareRing.take(() => true) : undefined) ?? new SharedArrayBuffer(bytes);
}

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
  let job: Sha256Job | undefined = count * dim * 4 >= OFFLOAD_MIN_BYTES ? startSha256({ offload: true }) : undefined;
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
    // A later shared chunk's barrier may already have confirmed past this slot (see below).
    confirmed = Math.max(confirmed, slot.first + slot.n);
  };
  /** Copies made so far; the next one goes to ring slot `copies % RING`, the oldest in flight. */
  let copies = 0;
  /** Settles every ring slot, oldest first. */
  const settleAll = async (): Promise<void> => {
    for (let i = 0; i < ring.length; i++) await settle(ring[(copies + i) % ring.length]);
  };
  let entries = 0;
  try {
    for (const chunk of image.vectorChunks(perChunk)) {
      const n = chunk.length / dim;
      if (entries + n > count) break;
      // A chunk of shared engine memory (the slab of a big database) goes to the helper as it is, with
      // no copy; it is lent only until the next chunk is asked for, so its lanes are awaited first.
      const direct = job !== undefined && chunk.buffer instanceof SharedArrayBuffer;
      // What is written: the chunk, or its shared copy (so that while the helper lives every chunk
      // written is shared memory, which a file writer may hash on the helper too).
      let bytes = chunk;
      if (job && direct) {
        job.contentLanes(chunk, dim, n, lanes, entries);
      } else if (job) {
        if (ring.length < RING) ring.push({ copy: new Float32Array(takeRingBuffer(Math.max(VECTOR_CHUNK_BYTES, perChunk * dim * 4))), first: 0, n: 0, done: undefined });
        const slot = ring[copies % RING];
        await settle(slot);
        // The helper died: the newer copies' lanes are redone here too, oldest first.
        if (!job) await settleAll();
        if (job) {
          slot.first = entries;
          slot.n = n;
          const copy = slot.copy.subarray(0, chunk.length);
          copy.set(chunk);
          job.contentLanes(copy, dim, n, lanes, entries);
          slot.done = job.barrier();
          copies++;
          bytes = copy;
        }
      }
      const p = write(littleEndianBytes(bytes));
      if (!job) {
        vectorLanes(chunk, dim, n, lanes, entries);
        confirmed = entries + n;
      }
      finishHashes(lanes, dim, image.metadata, finished, confirmed - finished, out);
      finished = confirmed;
      await p;
      if (direct) {
        // The thread works in order: this barrier also covers every copy sent before the chunk.
        if (job && (await job.barrier())) {
          confirmed = entries + n;
        } else {
          job = undefined;
          await settleAll();
          vectorLanes(chunk, dim, n, lanes, entries);
          confirmed = entries + n;
        }
      }
      entries += n;
    }
    await settleAll();
  } finally {
    job?.abandon();
    // Safe even after a failure: a lane computation still reading a buffer only feeds this call's
    // discarded results, and the next user copies its own bytes in before anything reads them.
    for (const slot of ring) spareRing.give(slot.copy.buffer as SharedArrayBuffer);
  }
  if (entries !== count) throw new QuiverError('INVALID_ARGUMENT', `the image yielded ${entries} vectors, expected ${count}`);
  finishHashes(lanes, dim, image.metadata, finished, entries - finished, out);
  if (out !== hashes) hashes.set(out);
}
