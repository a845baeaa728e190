/**
 * An open file of MemoryFileSystem. It follows the inode, not the name (like a POSIX descriptor: a
 * renamed or unlinked file stays readable), enforces its open mode the way Node does (EBADF, EINVAL),
 * and dies with the simulated process: after a crash every older handle fails with EBADF.
 */
import { fsError } from './fs-errors.js';
import type { FileHandle, OpenMode } from './fs.js';
import type { DirNode, FsNode } from './memory-nodes.js';

/** What a handle needs from its file system. */
export interface HandleHost {
  /** Bumped by every crash; handles from an older generation are dead. */
  readonly generation: number;
  /** fsync of a directory: its pending entry changes become durable. */
  commitDir(dir: DirNode): void;
}

function checkPosition(value: number, what: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${String(value)}`);
  }
}

function checkBytes(data: unknown, what: string): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
}

/** An open file or directory of MemoryFileSystem. */
export class MemoryFileHandle implements FileHandle {
  private closed = false;
  private readonly generation: number;
  /** The descriptor offset used by writes without a position. */
  private offset = 0;

  constructor(
    private readonly host: HandleHost,
    private readonly node: FsNode,
    private readonly mode: OpenMode,
    private readonly path: string,
    /** Writes become durable before they resolve (see OpenOptions.dsync). */
    private readonly dsync = false,
  ) {
    this.generation = host.generation;
  }

  private live(syscall: string): FsNode {
    if (this.closed || this.generation !== this.host.generation) {
      throw fsError('EBADF', syscall, this.path, undefined, this.closed ? 'file closed' : 'handle from before a crash');
    }
    return this.node;
  }

  async write(data: Uint8Array, position?: number): Promise<void> {
    checkBytes(data, 'data');
    if (position !== undefined) checkPosition(position, 'position');
    const node = this.live('write');
    if (this.mode === 'r' || node.kind === 'dir') throw fsError('EBADF', 'write', this.path);
    let at: number;
    if (this.mode === 'a') {
      at = node.data.length;
    } else if (position === undefined) {
      at = this.offset;
      this.offset += data.length;
    } else {
      at = position;
    }
    if (data.length === 0) return;
    const op = node.write(at, data);
    if (this.dsync) {
      // A power cut while an O_DSYNC write is in flight may keep any prefix of it: the write stays
      // pending (a crash image can tear it) until the next microtask, then it alone is made durable;
      // like O_DSYNC on Linux, it does not carry earlier unsynced writes of the file with it.
      await Promise.resolve();
      this.live('write');
      node.force(op);
    }
  }

  async read(into: Uint8Array, position: number, offset = 0, length = into.length - offset): Promise<number> {
    checkBytes(into, 'into');
    checkPosition(position, 'position');
    checkPosition(offset, 'offset');
    checkPosition(length, 'length');
    if (offset + length > into.length) throw new RangeError(`offset + length (${offset + length}) exceeds the buffer (${into.length})`);
    const node = this.live('read');
    if (node.kind === 'dir') throw fsError('EISDIR', 'read', this.path);
    if (this.mode !== 'r' && this.mode !== 'r+') throw fsError('EBADF', 'read', this.path);
    return node.data.read(into, offset, length, position);
  }

  async sync(): Promise<void> {
    const node = this.live('fsync');
    if (node.kind === 'dir') this.host.commitDir(node);
    else node.sync();
  }

  async size(): Promise<number> {
    const node = this.live('fstat');
    return node.kind === 'dir' ? 0 : node.data.length;
  }

  async truncate(length: number): Promise<void> {
    checkPosition(length, 'length');
    const node = this.live('ftruncate');
    if (this.mode === 'r' || node.kind === 'dir') throw fsError('EINVAL', 'ftruncate', this.path);
    node.truncate(length);
  }

  async close(): Promise<void> {
    // Closing twice is harmless, as with Node's FileHandle; so is closing a handle a crash killed.
    this.closed = true;
  }
}
