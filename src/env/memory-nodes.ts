/**
 * The inodes of MemoryFileSystem. Each file keeps two contents: `data` (what reads see) and `durable`
 * (what survives power loss), plus the list of data operations made since the last fsync, so a crash
 * can replay a prefix of them (a torn write). Directories likewise keep live `entries` and `durable`
 * entries; the pending directory operations themselves are kept by the file system.
 */

/** A growable byte array. Invariant: bytes past `length` in the backing buffer are zero. */
export class ByteStore {
  private buf: Uint8Array;
  private len: number;

  constructor(initial?: Uint8Array) {
    // Uint8Array's slice, which copies (a Buffer's own slice is a view of the caller's memory).
    this.buf = initial ? Uint8Array.prototype.slice.call(initial) : new Uint8Array(0);
    this.len = this.buf.length;
  }

  get length(): number {
    return this.len;
  }

  /** Writes `data` at `pos`; a gap between the old end and `pos` reads back as zeros. */
  write(pos: number, data: Uint8Array): void {
    const end = pos + data.length;
    this.reserve(end);
    this.buf.set(data, pos);
    if (end > this.len) this.len = end;
  }

  /** Shrinks or extends (with zeros) to exactly `length` bytes. */
  truncate(length: number): void {
    if (length < this.len) this.buf.fill(0, length, this.len);
    else this.reserve(length);
    this.len = length;
  }

  /** Copies up to `length` bytes from `pos` into `into` at `offset`; returns the count (0 at EOF). */
  read(into: Uint8Array, offset: number, length: number, pos: number): number {
    if (pos >= this.len) return 0;
    const n = Math.min(length, this.len - pos);
    into.set(this.buf.subarray(pos, pos + n), offset);
    return n;
  }

  /** A copy of the content. */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  clone(): ByteStore {
    return new ByteStore(this.bytes());
  }

  private reserve(size: number): void {
    if (size <= this.buf.length) return;
    // Doubling keeps many small appends linear overall.
    const next = new Uint8Array(Math.max(size, this.buf.length * 2, 64));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

/**
 * A change to a file's bytes made since its last fsync. A `forced` write was made durable on its own (an
 * O_DSYNC write): it survives a power loss even when earlier unsynced changes do not.
 */
export type DataOp = { kind: 'write'; pos: number; data: Uint8Array; forced?: boolean } | { kind: 'truncate'; length: number };

/** Applies one data operation to `store` (a write may be cut to its first `limit` bytes: a torn write). */
export function applyDataOp(store: ByteStore, op: DataOp, limit?: number): void {
  if (op.kind === 'truncate') store.truncate(op.length);
  else store.write(op.pos, limit === undefined ? op.data : op.data.subarray(0, limit));
}

let nextFileId = 1;

/** A regular file. */
export class FileNode {
  readonly kind = 'file';
  /** Its inode number: what tells two files of the same size and time apart. */
  id = nextFileId++;
  data: ByteStore;
  durable: ByteStore;
  pending: DataOp[] = [];
  mtimeMs = Date.now();

  constructor(content?: Uint8Array) {
    this.data = new ByteStore(content);
    this.durable = new ByteStore(content);
  }

  /** Writes `data` at `pos` (not yet durable) and returns the pending change, for {@link force}. */
  write(pos: number, data: Uint8Array): DataOp {
    // The caller may reuse its buffer once the write resolves, so the pending log keeps a copy.
    const op: DataOp = { kind: 'write', pos, data: Uint8Array.prototype.slice.call(data) };
    applyDataOp(this.data, op);
    this.pending.push(op);
    this.mtimeMs = Date.now();
    return op;
  }

  /**
   * Makes one pending write durable by itself, as O_DSYNC does for the range it wrote (and the size it
   * needs); earlier unsynced changes stay as they are. No-op when an fsync already covered it.
   */
  force(op: DataOp): void {
    if (op.kind === 'write' && this.pending.includes(op)) op.forced = true;
  }

  truncate(length: number): void {
    const op: DataOp = { kind: 'truncate', length };
    applyDataOp(this.data, op);
    this.pending.push(op);
    this.mtimeMs = Date.now();
  }

  /** fsync: every pending change becomes durable. */
  sync(): void {
    for (const op of this.pending) applyDataOp(this.durable, op);
    this.pending = [];
  }

  /** Replaces both contents at once (a durable write done outside the simulated process). */
  setDurable(content: Uint8Array): void {
    this.data = new ByteStore(content);
    this.durable = new ByteStore(content);
    this.pending = [];
    this.mtimeMs = Date.now();
  }
}

/** A directory: live entries and the entries that survive power loss. */
export class DirNode {
  readonly kind = 'dir';
  entries = new Map<string, FsNode>();
  durable = new Map<string, FsNode>();
  mtimeMs = Date.now();
}

/** Any inode. */
export type FsNode = FileNode | DirNode;

/** One entry change: `dir[name] = node`, or removal when `node` is undefined. */
export interface EntryChange {
  dir: DirNode;
  name: string;
  node: FsNode | undefined;
}

/**
 * One directory operation (create, mkdir, unlink, rename...). Its changes are applied together, so a
 * rename is atomic: after a crash it has happened entirely or not at all.
 */
export interface DirOp {
  changes: EntryChange[];
}

/** Applies `op` to an entries view chosen by `view` (live or a durable copy). */
export function applyDirOp(op: DirOp, view: (dir: DirNode) => Map<string, FsNode>): void {
  for (const c of op.changes) {
    const m = view(c.dir);
    if (c.node === undefined) m.delete(c.name);
    else m.set(c.name, c.node);
  }
}
