/**
 * Entry point of the SHA-256 helper thread (started by hash-worker.ts). It hashes views of shared
 * memory in the order they arrive, one running hash per job, and answers digests. It never touches
 * bytes it was not sent and keeps nothing once a job is finished or dropped.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { claimNorms } from './hash-norms.js';
import { vectorLanes } from './hash-content.js';
import { prefaultPages } from './prefault-pages.js';
import { verifyRecordCrcs, type RecordFraming } from './framed-crc.js';

/**
 * Messages to the thread: hash bytes next ('u'), compute the unclaimed blocks of norms of
 * landed entries of shared vectors into shared `out` ('n', see claimNorms), compute content-hash vector lanes ('c'),
 * fault in the pages of shared memory ahead of the main thread ('f', see prefaultPages), check the CRCs of
 * records in a shared read window ahead of their reader ('r', see verifyRecordCrcs), answer once
 * everything sent before is done ('k'), finish ('d'), drop ('x').
 */
export type HashRequest =
  | { t: 'u'; job: number; view: Uint8Array; cancel: Int32Array }
  | { t: 'n'; job: number; vectors: Float32Array; dim: number; count: number; landed: number; out: Float64Array; claim: Int32Array; cancel: Int32Array }
  | { t: 'c'; job: number; vectors: Float32Array; dim: number; count: number; out: Int32Array; outAt: number; cancel: Int32Array }
  | { t: 'f'; memory: Int32Array; control: Int32Array }
  | { t: 'r'; bytes: Uint8Array; from: number; end: number; framing: RecordFraming; progress: Int32Array; word: number }
  | { t: 'k'; job: number; id: number }
  | { t: 'd'; job: number }
  | { t: 'x'; job: number };

/** Messages from the thread: started ('ready'), digest ('d'), everything before barrier `id` done ('k'). */
export type HashReply = { t: 'ready' } | { t: 'd'; job: number; digest: Uint8Array } | { t: 'k'; job: number; id: number };

if (parentPort) {
  const port = parentPort;
  const jobs = new Map<number, Hash>();
  port.on('message', (m: HashRequest) => {
    if (m.t === 'u') {
      // A job abandoned by the main thread sets its cancel word: skip its queued bytes instead of hashing them.
      if (Atomics.load(m.cancel, 0) === 0) {
        let h = jobs.get(m.job);
        if (!h) jobs.set(m.job, (h = createHash('sha256')));
        h.update(m.view);
      }
    } else if (m.t === 'n') {
      if (Atomics.load(m.cancel, 0) === 0) claimNorms(m.vectors, m.dim, m.count, m.out, m.claim, m.landed);
    } else if (m.t === 'c') {
      if (Atomics.load(m.cancel, 0) === 0) vectorLanes(m.vectors, m.dim, m.count, m.out, m.outAt);
    } else if (m.t === 'f') {
      prefaultPages(m.memory, m.control);
    } else if (m.t === 'r') {
      verifyRecordCrcs(m.bytes, m.from, m.end, m.framing, m.progress, m.word);
    } else if (m.t === 'k') {
      port.postMessage({ t: 'k', job: m.job, id: m.id } satisfies HashReply);
    } else if (m.t === 'd') {
      const h = jobs.get(m.job) ?? createHash('sha256');
      jobs.delete(m.job);
      port.postMessage({ t: 'd', job: m.job, digest: h.digest() } satisfies HashReply);
    } else {
      jobs.delete(m.job);
    }
  });
  port.postMessage({ t: 'ready' } satisfies HashReply);
}
