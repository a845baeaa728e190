/**
 * SHA-256 off the main thread: one long-lived helper thread (hash-thread.ts) hashes views of shared
 * memory while the main thread keeps reading, writing and decoding. The thread never keeps the process
 * alive while idle, is closed after HASH_IDLE_MS without work, and when it cannot start (or dies) the
 * hashing happens on the calling thread instead, so results never depend on the thread being there.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-thread.js';
import { PREFAULT_FRONT, PREFAULT_STOP } from './prefault-pages.js';
import type { RecordFraming } from './framed-crc.js';

/**
 * Work on at least this many bytes goes to the helper thread (hashing, norms, content lanes, prefault),
 * and buffers at least this big are shared memory so that it can: below it, messages and thread
 * start-up cost more than they save. Engine slabs, load buffers and every writer use this one bound, so
 * a slab big enough to be hashed on the thread is always one the thread can read.
 */
export const OFFLOAD_MIN_BYTES = 4 << 20;

/** Idle time after which the helper thread is closed (a later job starts a new one). */
export const HASH_IDLE_MS = 10_000;

/** A running SHA-256 fed in order with views of memory. */
export interface Sha256Job {
  /** True when the bytes are hashed on the helper thread. */
  readonly offloaded: boolean;
  /**
   * Hashes `view` after everything given before. Offloaded jobs take only views of a SharedArrayBuffer,
   * and the caller must leave those bytes unchanged until `digest()` settles (the thread reads them
   * later, and if it dies they are re-hashed here).
   */
  update(view: Uint8Array): void;
  /**
   * Also computes norms on the helper thread: the blocks of entries below `landed` (whose bytes were
   * already given to `update`) not yet claimed through `claim` (see claimNorms in hash-norms.ts),
   * into `out`; `vectors`, `out` and `claim` are views of SharedArrayBuffers. The caller claims what
   * is left itself once everything landed. Returns false when this job cannot (not offloaded).
   */
  norms(vectors: Float32Array, dim: number, count: number, landed: number, out: Float64Array, claim: Int32Array): boolean;
  /** After `digest()` resolved: true when every block of norms the thread claimed was computed. */
  readonly normsComplete: boolean;
  /**
   * Computes the content-hash vector lanes (`vectorLanes` of hash-content.ts) of `count` entries of
   * shared `vectors` into shared `out` at entry `outAt`. Returns false when this job cannot (not
   * offloaded): the caller computes them. Results are there once a later `barrier()` resolved true.
   */
  contentLanes(vectors: Float32Array, dim: number, count: number, out: Int32Array, outAt: number): boolean;
  /**
   * Resolves true once everything sent to the thread before it (bytes, norms, lanes) was processed,
   * false when the thread died first or the job was abandoned (requests since the last true barrier
   * may not have run).
   */
  barrier(): Promise<boolean>;
  /** The SHA-256 of all updated bytes; ends the job. */
  digest(): Promise<Buffer>;
  /** Ends the job without a digest (the thread skips its queued bytes). Idempotent. */
  abandon(): void;
}

/** How {@link startSha256} may hash. */
export interface Sha256JobOptions {
  /** Offload to the helper thread when possible (the caller then passes SharedArrayBuffer views). */
  offload?: boolean;
  /** Offload only if the thread is already up (starting it for next time); otherwise hash here. */
  onlyIfReady?: boolean;
  /**
   * Default true: offloaded bytes must stay unchanged until `digest()` settles, and if the thread dies
   * they are hashed again here. False: bytes may change once a later `barrier()` resolved true; if the
   * thread dies first, `digest()` rejects with {@link HashThreadLostError} and `update` throws it (the
   * caller starts over), since the bytes to hash again may be gone.
   */
  retainViews?: boolean;
}

/** An offloaded SHA-256 job that does not retain its bytes lost its thread: the hash must be redone. */
export class HashThreadLostError extends Error {
  constructor() {
    super('the SHA-256 helper thread stopped before this job finished; hash the bytes again');
    this.name = 'HashThreadLostError';
  }
}

class LocalJob implements Sha256Job {
  readonly offloaded = false;
  readonly normsComplete = true;
  private readonly hash = createHash('sha256');

  norms(): boolean {
    return false;
  }

  contentLanes(): boolean {
    return false;
  }

  barrier(): Promise<boolean> {
    return Promise.resolve(true);
  }

  update(view: Uint8Array): void {
    this.hash.update(view);
  }

  digest(): Promise<Buffer> {
    return Promise.resolve(this.hash.digest());
  }

  abandon(): void {}
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

class OffloadedJob implements Sha256Job {
  readonly offloaded = true;
  private readonly cancel = new Int32Array(new SharedArrayBuffer(4));
  private readonly views: Uint8Array[] = [];
  private finishing: Waiter<Buffer> | undefined;
  private local: Hash | undefined;
  private ended = false;
  private normsRequested = false;
  private normsLost = false;
  private abandoned = false;
  private readonly barriers = new Map<number, (done: boolean) => void>();
  private nextBarrier = 1;

  private lost = false;

  constructor(private readonly thread: HashThread, readonly id: number, private readonly retain: boolean) {}

  get normsComplete(): boolean {
    return !this.normsLost;
  }

  norms(vectors: Float32Array, dim: number, count: number, landed: number, out: Float64Array, claim: Int32Array): boolean {
    if (!(vectors.buffer instanceof SharedArrayBuffer) || !(out.buffer instanceof SharedArrayBuffer) || !(claim.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError('offloaded norms take views of SharedArrayBuffers');
    }
    if (this.ended) throw new Error('the SHA-256 job has ended');
    if (this.local || this.lost) return false;
    this.normsRequested = true;
    this.thread.post({ t: 'n', job: this.id, vectors, dim, count, landed, out, claim, cancel: this.cancel });
    return true;
  }

  contentLanes(vectors: Float32Array, dim: number, count: number, out: Int32Array, outAt: number): boolean {
    if (!(vectors.buffer instanceof SharedArrayBuffer) || !(out.buffer instanceof SharedArrayBuffer)) throw new TypeError('offloaded content lanes take views of SharedArrayBuffers');
    if (this.ended) throw new Error('the SHA-256 job has ended');
    if (this.local || this.lost) return false;
    if (count > 0) this.thread.post({ t: 'c', job: this.id, vectors, dim, count, out, outAt, cancel: this.cancel });
    return true;
  }

  barrier(): Promise<boolean> {
    if (this.local || this.abandoned || this.lost) return Promise.resolve(false);
    if (this.ended) return Promise.resolve(true);
    const id = this.nextBarrier++;
    const done = new Promise<boolean>((resolve) => this.barriers.set(id, resolve));
    this.thread.post({ t: 'k', job: this.id, id });
    return done;
  }

  /** The thread reached barrier `id`. */
  onBarrier(id: number): void {
    const resolve = this.barriers.get(id);
    this.barriers.delete(id);
    resolve?.(true);
  }

  private failBarriers(): void {
    for (const resolve of this.barriers.values()) resolve(false);
    this.barriers.clear();
  }

  update(view: Uint8Array): void {
    if (!(view.buffer instanceof SharedArrayBuffer)) throw new TypeError('an offloaded SHA-256 job takes views of a SharedArrayBuffer');
    if (this.ended) throw new Error('the SHA-256 job has ended');
    if (this.lost) throw new HashThreadLostError();
    if (this.local) {
      this.local.update(view);
      return;
    }
    if (this.retain) this.views.push(view);
    this.thread.post({ t: 'u', job: this.id, view, cancel: this.cancel });
  }

  digest(): Promise<Buffer> {
    if (this.ended) return Promise.reject(new Error('the SHA-256 job has ended'));
    this.ended = true;
    if (this.lost) return Promise.reject(new HashThreadLostError());
    if (this.local) return Promise.resolve(this.local.digest());
    const out = new Promise<Buffer>((resolve, reject) => (this.finishing = { resolve, reject }));
    this.thread.post({ t: 'd', job: this.id });
    return out;
  }

  abandon(): void {
    if (this.ended && !this.finishing) return;
    this.ended = true;
    this.abandoned = true;
    Atomics.store(this.cancel, 0, 1);
    if (!this.local) this.thread.post({ t: 'x', job: this.id });
    this.thread.unregister(this.id);
    this.views.length = 0;
    this.failBarriers();
    this.finishing?.reject(new Error('the SHA-256 job was abandoned'));
    this.finishing = undefined;
  }

  /** The digest from the thread. */
  onDigest(digest: Uint8Array): void {
    this.thread.unregister(this.id);
    this.views.length = 0;
    this.finishing?.resolve(Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength));
    this.finishing = undefined;
  }

  /** The thread is gone: hash the views given so far here and carry on here. */
  onThreadFailure(): void {
    this.failBarriers();
    if (this.ended && !this.finishing) return;
    if (!this.retain) {
      this.lost = true;
      this.finishing?.reject(new HashThreadLostError());
      this.finishing = undefined;
      return;
    }
    // Blocks of norms the thread claimed may not have been computed: the caller computes them all.
    if (this.normsRequested) this.normsLost = true;
    this.local = createHash('sha256');
    for (const v of this.views) this.local.update(v);
    this.views.length = 0;
    this.finishing?.resolve(this.local.digest());
    this.finishing = undefined;
  }
}

class HashThread {
  ready = false;
  private readonly worker: Worker;
  private failed = false;
  private readonly jobs = new Map<number, OffloadedJob>();
  private nextId = 1;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.worker = new Worker(new URL('./hash-thread.js', import.meta.url));
    this.worker.on('message', (r: HashReply) => {
      if (r.t === 'ready') this.ready = true;
      else if (r.t === 'k') this.jobs.get(r.job)?.onBarrier(r.id);
      else this.jobs.get(r.job)?.onDigest(r.digest);
    });
    // Either way the jobs in flight finish on the calling thread; the cause does not change that.
    this.worker.on('error', () => this.fail());
    this.worker.on('exit', () => this.fail());
    // After the listeners: adding a 'message' listener refs the worker's port again, and a thread that
    // only prefaulted (no hash job to unref it) then kept the process alive until its idle timeout.
    this.worker.unref();
    this.armIdle();
  }

  get alive(): boolean {
    return !this.failed;
  }

  start(retain: boolean): OffloadedJob {
    const job = new OffloadedJob(this, this.nextId++, retain);
    if (this.jobs.size === 0) {
      this.worker.ref(); // a pending digest must keep the process alive
      if (this.idle) clearTimeout(this.idle);
      this.idle = undefined;
    }
    this.jobs.set(job.id, job);
    return job;
  }

  unregister(id: number): void {
    if (!this.jobs.delete(id) || this.jobs.size > 0) return;
    this.worker.unref();
    this.armIdle();
  }

  post(m: HashRequest): void {
    this.worker.postMessage(m);
  }

  /** Counts work that is not a job (a prefault) as activity: the idle timer starts again. */
  touch(): void {
    if (this.failed || this.jobs.size > 0) return;
    if (this.idle) clearTimeout(this.idle);
    this.armIdle();
  }

  private armIdle(): void {
    if (this.failed) return;
    this.idle = setTimeout(() => {
      if (this.jobs.size === 0) this.close();
    }, HASH_IDLE_MS);
    this.idle.unref();
  }

  private close(): void {
    if (shared === this) shared = undefined;
    this.failed = true;
    this.worker.terminate().catch(() => undefined);
  }

  private fail(): void {
    if (this.failed) return;
    if (!this.ready) disabled = true; // it could not even start: do not try again in this process
    this.shutdown();
  }

  /** Stops the thread; running jobs finish on the calling thread. */
  shutdown(): void {
    if (this.failed) return;
    this.failed = true;
    if (shared === this) shared = undefined;
    if (this.idle) clearTimeout(this.idle);
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    this.worker.unref();
    for (const j of jobs) j.onThreadFailure();
    this.worker.terminate().catch(() => undefined);
  }
}

let shared: HashThread | undefined;
let disabled = false;

function thread(): HashThread | undefined {
  if (shared?.alive) return shared;
  if (disabled) return undefined;
  try {
    shared = new HashThread();
  } catch {
    disabled = true;
    shared = undefined;
  }
  return shared;
}

/**
 * Starts `write()` and has `job` (offloaded, not retaining views) hash `view`, the same bytes in shared
 * memory, meanwhile; resolves once both are done, so the caller may then reuse the bytes. Rejects with
 * the write's failure, or with HashThreadLostError when the thread stopped before hashing them (the
 * file must then be written again, see writeWithHashRetry).
 */
export async function writeWhileHashing(job: Sha256Job, view: Uint8Array, write: () => Promise<void>): Promise<void> {
  const written = write();
  written.catch(() => undefined); // observed below; keeps a failure while the hash is queued from being "unhandled"
  job.update(view);
  const hashed = job.barrier();
  await written;
  if (!(await hashed)) throw new HashThreadLostError();
}

/** Starts the helper thread if it is not running, so that a job soon after finds it ready. */
export function warmHashThread(): void {
  thread();
}

/** Starts a SHA-256 job: on the helper thread when `opts.offload` and possible, otherwise here. */
export function startSha256(opts: Sha256JobOptions = {}): Sha256Job {
  if (!opts.offload) return new LocalJob();
  const t = thread();
  if (!t || (opts.onlyIfReady && !t.ready)) return new LocalJob();
  return t.start(opts.retainViews ?? true);
}

/** A prefault running on the helper thread (see prefault-pages.ts). */
export interface Prefault {
  /** Publishes the filler's front: the Int32 word of the region it is writing now. */
  advance(word: number): void;
  /** Ends the prefault (idempotent); the thread stops within one page. */
  stop(): void;
}

/**
 * Starts faulting in the pages of `region` (a view of a SharedArrayBuffer) on the helper thread, ahead
 * of a filler that reports its front through `advance`. Undefined when there is no helper thread or the
 * memory is not shared; either way it is only a speed-up, and values in the region are never changed.
 * The thread does nothing else until `stop()` or the region's end, so stop it as soon as filling ends.
 */
export function startPrefault(region: Int32Array): Prefault | undefined {
  if (!(region.buffer instanceof SharedArrayBuffer) || region.length === 0) return undefined;
  const t = thread();
  if (!t) return undefined;
  const control = new Int32Array(new SharedArrayBuffer(8));
  t.post({ t: 'f', memory: region, control });
  t.touch();
  return {
    advance: (word) => Atomics.store(control, PREFAULT_FRONT, word),
    stop: () => Atomics.store(control, PREFAULT_STOP, 1),
  };
}

/**
 * Has the helper thread check the CRCs of the records in `bytes[from, end)` (a view of a
 * SharedArrayBuffer) and count the good ones into `progress[word]` (see verifyRecordCrcs), after
 * whatever it was given before. Only when the thread is already running and ready: this is a speed-up
 * for long reads, which start it early, and a reader that finds nothing counted checks every CRC
 * itself. Returns whether the request was sent.
 */
export function checkRecordCrcsAhead(bytes: Uint8Array, from: number, end: number, framing: RecordFraming, progress: Int32Array, word: number): boolean {
  if (!(bytes.buffer instanceof SharedArrayBuffer) || !(progress.buffer instanceof SharedArrayBuffer)) return false;
  const t = shared;
  if (!t?.alive || !t.ready) return false;
  t.post({ t: 'r', bytes, from, end, framing, progress, word });
  t.touch();
  return true;
}

/** For tests: stops the helper thread now, as if it died (a later job starts a new one). */
export function stopHashThreadForTests(): void {
  shared?.shutdown();
  disabled = false;
}

/** True while a helper thread is running or starting (readers that can use it then prepare for it). */
export function hashThreadRunning(): boolean {
  return shared?.alive === true;
}
