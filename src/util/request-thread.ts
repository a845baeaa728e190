/**
 * A worker thread that answers requests, one reply each, matched by the request's `seq`: the parse and
 * format helpers of the JSON and JSONL codecs (the SHA-256 helper thread has a protocol of its own).
 * A thread that fails (an error, or an exit) rejects every pending request with the cause and every
 * later one at once, so a caller never waits on a thread that is gone.
 */
import { Worker, parentPort, type Transferable } from 'node:worker_threads';

interface Pending<R> {
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/** One request-answering worker thread (see the module comment). */
export class RequestThread<Req extends { seq: number }, Reply extends { seq: number }> {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Pending<Reply>>();
  private seq = 0;
  private failure: unknown;

  /** Starts the thread of module `url`; `name` says which thread in errors. It may fail to start: see `started`. */
  constructor(url: URL, private readonly name: string) {
    try {
      this.worker = new Worker(url);
    } catch {
      return;
    }
    this.worker.on('message', (r: Reply) => {
      const p = this.waiting.get(r.seq);
      this.waiting.delete(r.seq);
      p?.resolve(r);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the ${name} exited (code ${code})`)));
  }

  /** False when the thread could not be started at all. */
  get started(): boolean {
    return this.worker !== undefined;
  }

  /** True while the thread runs and has not failed. */
  get healthy(): boolean {
    return this.worker !== undefined && this.failure === undefined;
  }

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.waiting.size;
  }

  /** Lets the thread keep the process alive (while in use). */
  ref(): void {
    this.worker?.ref();
  }

  /** Stops the thread from keeping the process alive (while idle). */
  unref(): void {
    this.worker?.unref();
  }

  /** Sends `body` with the next `seq` (transferring `transfer`) and resolves with its reply. */
  request(body: Omit<Req, 'seq'>, transfer: readonly Transferable[] = []): Promise<Reply> {
    const req = { ...body, seq: this.seq++ } as Req;
    const reply = new Promise<Reply>((resolve, reject) => {
      if (!this.worker || this.failure !== undefined) {
        reject(this.failure ?? new Error(`the ${this.name} is not running`));
        return;
      }
      this.waiting.set(req.seq, { resolve, reject });
      this.worker.postMessage(req, transfer);
    });
    // A caller that fails first never awaits this reply; the thread's failure must not go unhandled.
    reply.catch(() => undefined);
    return reply;
  }

  /** Stops the thread; pending requests are rejected. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.fail(new Error(`the ${this.name} was closed`));
    if (w) await w.terminate();
  }

  private fail(err: unknown): void {
    this.failure ??= err;
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
  }
}

/**
 * The thread side: answers each request with `run(request)`, transferring the buffers `transfer`
 * names. A throw in `run` is an error of the thread (its requester fails with it).
 */
export function serveRequests<Req, Reply>(run: (req: Req) => Reply, transfer: (reply: Reply) => ArrayBufferLike[]): void {
  const port = parentPort;
  if (!port) return;
  port.on('message', (req: Req) => {
    const reply = run(req);
    port.postMessage(reply, transfer(reply) as ArrayBuffer[]);
  });
}
