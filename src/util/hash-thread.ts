/**
 * Entry point of the SHA-256 helper thread (started by hash-worker.ts). It hashes views of shared
 * memory in the order they arrive, one running hash per job, and answers digests. It never touches
 * bytes it was not sent and keeps nothing once a job is finished or dropped.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/** Messages to the thread: hash bytes next ('u'), finish ('d'), drop ('x'). */
export type HashRequest =
  | { t: 'u'; job: number; view: Uint8Array; cancel: Int32Array }
  | { t: 'd'; job: number }
  | { t: 'x'; job: number };

/** Messages from the thread: started ('ready'), digest ('d'). */
export type HashReply = { t: 'ready' } | { t: 'd'; job: number; digest: Uint8Array };

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
