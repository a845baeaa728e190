/**
 * A FileSystem wrapper that counts and logs every operation and injects I/O errors, in the style of
 * SQLite's I/O-error loops: fail the Nth operation once or from then on, optionally only for some
 * operation kinds, and run out of space after a byte quota. Failed operations never reach the wrapped
 * file system, except `close` (a failing close still releases the descriptor, as on POSIX) and a write
 * over the quota (the bytes that fit are written first, like a short write followed by ENOSPC).
 * A write through a handle opened with `dsync` is two operations, `write` then `dsync`: a crash image
 * taken at the second can hold the write torn, and a fault there is an O_DSYNC write whose bytes
 * reached the file but whose flush failed (reported by the write itself, as the kernel does).
 */
import { fsError } from './fs-errors.js';
import type { FileHandle, FileStat, FileSystem, OpenMode, OpenOptions } from './fs.js';

/**
 * Every operation kind the wrapper counts. Handle methods count as `read`, `write`, `sync`, ...; a
 * write through a handle opened with `dsync` counts as `write` and then, once its bytes have been
 * handed to the file, `dsync`: the wait for them to be durable.
 */
export type OpKind =
  | 'open' | 'read' | 'write' | 'dsync' | 'sync' | 'size' | 'truncate' | 'close'
  | 'readFile' | 'rename' | 'unlink' | 'link' | 'mkdir' | 'readdir' | 'stat' | 'rm' | 'syncDir';

/** One counted operation. `n` is 1-based over all operations since the last `reset()`. */
export interface OpRecord {
  n: number;
  kind: OpKind;
  path: string;
  /** Rename or link target. */
  dest?: string;
  /** The code injected into this operation, when it was made to fail. */
  failed?: string;
}

/** `once`: only the Nth matching operation fails. `persistent`: it and every later matching one. */
export type FaultMode = 'once' | 'persistent';

/** Which operations a fault counts and hits: a list of kinds or a predicate. */
export type OpFilter = readonly OpKind[] | ((op: OpRecord) => boolean);

/** A fault: fail the `at`-th (1-based) operation that matches `kinds` (default: all) with `code`. */
export interface FaultSpec {
  at: number;
  code: string;
  mode?: FaultMode;
  kinds?: OpFilter;
}

/** Construction options. */
export interface FaultOptions {
  faults?: FaultSpec[];
  /** ENOSPC once this many bytes have been written in total. */
  quotaBytes?: number;
  /** Keep the op log (default true); turn off for long runs. */
  log?: boolean;
  /** Called before each operation runs (and before faults are checked); throwing from it fails the operation with that error. */
  beforeOp?: (op: OpRecord) => void;
}

/** The wrapper's internals a handle reports to. */
interface HandleHooks {
  enter(kind: OpKind, path: string): OpRecord;
  charge(op: OpRecord, data: Uint8Array, run: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  always(kind: OpKind, path: string, run: () => Promise<void>): Promise<void>;
}

interface ActiveFault {
  spec: Required<Omit<FaultSpec, 'kinds'>> & { kinds?: OpFilter };
  seen: number;
}

const SYSCALL: Record<OpKind, string> = {
  open: 'open', read: 'read', write: 'write', dsync: 'write', sync: 'fsync', size: 'fstat', truncate: 'ftruncate', close: 'close',
  readFile: 'read', rename: 'rename', unlink: 'unlink', link: 'link', mkdir: 'mkdir', readdir: 'scandir', stat: 'stat', rm: 'rm', syncDir: 'fsync',
};

function matches(filter: OpFilter | undefined, op: OpRecord): boolean {
  if (filter === undefined) return true;
  return typeof filter === 'function' ? filter(op) : filter.includes(op.kind);
}

/** Wraps `inner` with operation counting and fault injection. */
export class FaultFileSystem implements FileSystem {
  private faults: ActiveFault[] = [];
  private quota: number | undefined;
  private count = 0;
  private written = 0;
  private injected = 0;
  private readonly log: OpRecord[] = [];
  private readonly keepLog: boolean;
  private readonly hooks: HandleHooks = {
    enter: (kind, path) => this.enter(kind, path),
    charge: (op, data, run) => this.charge(op, data, run),
    always: (kind, path, run) => this.always(kind, path, run),
  };
  /** See {@link FaultOptions.beforeOp}; may be replaced at any time. */
  beforeOp: ((op: OpRecord) => void) | undefined;

  constructor(readonly inner: FileSystem, options: FaultOptions = {}) {
    for (const f of options.faults ?? []) this.addFault(f);
    this.quota = options.quotaBytes;
    this.keepLog = options.log ?? true;
    this.beforeOp = options.beforeOp;
  }

  /** The operations since the last `reset()`, in order. */
  get ops(): readonly OpRecord[] {
    return this.log;
  }

  /** Operations attempted since the last `reset()` (failed ones included). */
  get opCount(): number {
    return this.count;
  }

  /** Bytes written through handles since the last `reset()`. */
  get bytesWritten(): number {
    return this.written;
  }

  /** Errors injected since the last `reset()` (faults and quota). */
  get faultsInjected(): number {
    return this.injected;
  }

  /** Adds a fault. Codes are OS codes such as EIO, ENOSPC, EACCES, EXDEV. */
  addFault(spec: FaultSpec): this {
    if (!Number.isSafeInteger(spec.at) || spec.at < 1) throw new RangeError(`fault "at" must be an integer >= 1, got ${spec.at}`);
    this.faults.push({ spec: { at: spec.at, code: spec.code, mode: spec.mode ?? 'once', kinds: spec.kinds }, seen: 0 });
    return this;
  }

  /** Shorthand for `addFault({ at, code, mode, kinds })`. */
  failAt(at: number, code: string, options: { mode?: FaultMode; kinds?: OpFilter } = {}): this {
    return this.addFault({ at, code, ...options });
  }

  /** Sets (or with `undefined` removes) the total-bytes quota after which writes fail with ENOSPC. */
  setQuota(bytes: number | undefined): this {
    this.quota = bytes;
    return this;
  }

  /** Removes all faults and the quota; counters are kept. */
  clearFaults(): this {
    this.faults = [];
    this.quota = undefined;
    return this;
  }

  /** Zeroes the counters, the log and each fault's progress (faults and quota stay configured). */
  reset(): void {
    this.count = 0;
    this.written = 0;
    this.injected = 0;
    this.log.length = 0;
    for (const f of this.faults) f.seen = 0;
  }

  /** Counts one operation, logs it, and throws when a fault hits it. */
  private enter(kind: OpKind, path: string, dest?: string): OpRecord {
    const op: OpRecord = { n: ++this.count, kind, path };
    if (dest !== undefined) op.dest = dest;
    if (this.keepLog) this.log.push(op);
    this.beforeOp?.(op);
    let code: string | undefined;
    for (const f of this.faults) {
      if (!matches(f.spec.kinds, op)) continue;
      f.seen++;
      const hit = f.spec.mode === 'once' ? f.seen === f.spec.at : f.seen >= f.spec.at;
      if (hit && code === undefined) code = f.spec.code;
    }
    if (code !== undefined) throw this.inject(op, code);
    return op;
  }

  private inject(op: OpRecord, code: string): Error {
    op.failed = code;
    this.injected++;
    return fsError(code, SYSCALL[op.kind], op.path, op.dest, `injected by FaultFileSystem at op ${op.n}`);
  }

  /** Runs a close-like operation: the inner call happens even when a fault is injected. */
  private async always(kind: OpKind, path: string, run: () => Promise<void>): Promise<void> {
    let fault: unknown;
    try {
      this.enter(kind, path);
    } catch (err) {
      fault = err;
    }
    await run();
    if (fault !== undefined) throw fault;
  }

  /** Writes through `run`, charging the quota; over it, writes the part that fits then fails. */
  private async charge(op: OpRecord, data: Uint8Array, run: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    const room = this.quota === undefined ? Infinity : Math.max(0, this.quota - this.written);
    if (data.length <= room) {
      await run(data);
      this.written += data.length;
      return;
    }
    if (room > 0) {
      await run(data.subarray(0, room));
      this.written += room;
    }
    throw this.inject(op, 'ENOSPC');
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    this.enter('open', path);
    return new FaultFileHandle(this.hooks, await this.inner.open(path, mode, options), path, options?.dsync === true);
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.enter('readFile', path);
    return this.inner.readFile(path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.enter('rename', from, to);
    return this.inner.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.enter('unlink', path);
    return this.inner.unlink(path);
  }

  async link(from: string, to: string): Promise<void> {
    this.enter('link', from, to);
    return this.inner.link(from, to);
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    this.enter('mkdir', path);
    return this.inner.mkdir(path, options);
  }

  async readdir(path: string): Promise<string[]> {
    this.enter('readdir', path);
    return this.inner.readdir(path);
  }

  async stat(path: string): Promise<FileStat> {
    this.enter('stat', path);
    return this.inner.stat(path);
  }

  async rm(path: string, options?: { recursive?: boolean }): Promise<void> {
    this.enter('rm', path);
    return this.inner.rm(path, options);
  }

  async syncDir(path: string): Promise<void> {
    this.enter('syncDir', path);
    return this.inner.syncDir(path);
  }
}

/** A handle whose every call is counted by its FaultFileSystem. */
class FaultFileHandle implements FileHandle {
  constructor(private readonly hooks: HandleHooks, private readonly inner: FileHandle, private readonly path: string, private readonly dsync: boolean) {}

  async write(data: Uint8Array, position?: number): Promise<void> {
    const op = this.hooks.enter('write', this.path);
    if (!this.dsync) return this.hooks.charge(op, data, (chunk) => this.inner.write(chunk, position));
    return this.hooks.charge(op, data, async (chunk) => {
      // The inner write hands its bytes to the file before its first await and is durable only when
      // it resolves: the dsync step sits in between.
      const written = this.inner.write(chunk, position);
      try {
        this.hooks.enter('dsync', this.path);
      } catch (err) {
        await written.catch(() => undefined);
        throw err;
      }
      await written;
    });
  }

  async read(into: Uint8Array, position: number, offset?: number, length?: number): Promise<number> {
    this.hooks.enter('read', this.path);
    return this.inner.read(into, position, offset, length);
  }

  async sync(): Promise<void> {
    this.hooks.enter('sync', this.path);
    return this.inner.sync();
  }

  async size(): Promise<number> {
    this.hooks.enter('size', this.path);
    return this.inner.size();
  }

  async truncate(length: number): Promise<void> {
    this.hooks.enter('truncate', this.path);
    return this.inner.truncate(length);
  }

  close(): Promise<void> {
    return this.hooks.always('close', this.path, () => this.inner.close());
  }
}
