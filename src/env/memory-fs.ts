/**
 * An in-memory FileSystem with POSIX-like semantics and Node-shaped errors, which models durability:
 * file bytes become durable on `handle.sync()`, directory entries (create, rename, unlink, mkdir) on
 * `syncDir` of their directory. `crash()` turns the file system into what a power loss would leave;
 * `snapshotDurable()` returns that as a new file system and leaves this one running.
 */
import { posix } from 'node:path';
import { fsError } from './fs-errors.js';
import { wantsDsync, type FileHandle, type FileStat, type FileSystem, type OpenMode, type OpenOptions } from './fs.js';
import { survivingTree, type CrashOptions, type CrashReport } from './memory-crash.js';
import { MemoryFileHandle, type HandleHost } from './memory-handle.js';
import { applyDirOp, DirNode, FileNode, type DirOp, type EntryChange, type FsNode } from './memory-nodes.js';

export type { CrashOptions, CrashReport } from './memory-crash.js';

const MODES = new Set<string>(['r', 'w', 'wx', 'a', 'r+']);

/** Where a path points: its parent directory (none for the root), last name, and node if present. */
interface Located {
  parent: DirNode | undefined;
  name: string;
  node: FsNode | undefined;
  /** The directories from the root down to `parent` included, for rename's "into itself" check. */
  chain: DirNode[];
  trailingSlash: boolean;
}

/** The in-memory file system used by unit, crash and fault tests. */
export class MemoryFileSystem implements FileSystem, HandleHost {
  private root = new DirNode();
  private pending: DirOp[] = [];
  private gen = 0;

  /** Bumped by every `crash()`; handles opened before it fail with EBADF. */
  get generation(): number {
    return this.gen;
  }

  /** Directory operations not yet made durable by a `syncDir`. */
  get pendingDirOps(): number {
    return this.pending.length;
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    if (!MODES.has(mode)) throw new TypeError(`unknown open mode ${String(mode)}; use r, w, wx, a or r+`);
    const dsync = wantsDsync(mode, options);
    const at = this.locate(path, 'open');
    let node = at.node;
    if (node && mode === 'wx') throw fsError('EEXIST', 'open', path);
    if (node?.kind === 'dir') {
      if (mode !== 'r') throw fsError('EISDIR', 'open', path);
    } else if (node) {
      if (at.trailingSlash) throw fsError('ENOTDIR', 'open', path);
      if (mode === 'w') node.truncate(0);
    } else {
      if (mode === 'r' || mode === 'r+' || !at.parent) throw fsError('ENOENT', 'open', path);
      if (at.trailingSlash) throw fsError('EISDIR', 'open', path);
      node = new FileNode();
      this.record([{ dir: at.parent, name: at.name, node }]);
    }
    return new MemoryFileHandle(this, node, mode, path, dsync);
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.readFileSync(path);
  }

  async rename(from: string, to: string): Promise<void> {
    const report: [string, string] = [from, to];
    const src = this.locate(from, 'rename', report);
    const dst = this.locate(to, 'rename', report);
    const node = src.node;
    if (!node) throw fsError('ENOENT', 'rename', from, to);
    if (!src.parent || !dst.parent) throw fsError('EBUSY', 'rename', from, to);
    if (node === dst.node) return;
    if (node.kind === 'dir' && dst.chain.includes(node)) throw fsError('EINVAL', 'rename', from, to);
    if ((src.trailingSlash || dst.trailingSlash) && node.kind === 'file') throw fsError('ENOTDIR', 'rename', from, to);
    const target = dst.node;
    if (target) {
      if (node.kind === 'dir' && target.kind === 'file') throw fsError('ENOTDIR', 'rename', from, to);
      if (node.kind === 'file' && target.kind === 'dir') throw fsError('EISDIR', 'rename', from, to);
      if (target.kind === 'dir' && target.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', from, to);
    }
    this.record([
      { dir: src.parent, name: src.name, node: undefined },
      { dir: dst.parent, name: dst.name, node },
    ]);
  }

  async unlink(path: string): Promise<void> {
    const at = this.locate(path, 'unlink');
    if (!at.node) throw fsError('ENOENT', 'unlink', path);
    if (at.node.kind === 'dir' || !at.parent) throw fsError('EISDIR', 'unlink', path);
    if (at.trailingSlash) throw fsError('ENOTDIR', 'unlink', path);
    this.record([{ dir: at.parent, name: at.name, node: undefined }]);
  }

  async link(from: string, to: string): Promise<void> {
    const report: [string, string] = [from, to];
    const src = this.locate(from, 'link', report);
    const dst = this.locate(to, 'link', report);
    if (!src.node) throw fsError('ENOENT', 'link', from, to);
    if (src.node.kind === 'dir') throw fsError('EPERM', 'link', from, to);
    if (src.trailingSlash) throw fsError('ENOTDIR', 'link', from, to);
    if (dst.node) throw fsError('EEXIST', 'link', from, to);
    if (!dst.parent || dst.trailingSlash) throw fsError('ENOENT', 'link', from, to);
    this.record([{ dir: dst.parent, name: dst.name, node: src.node }]);
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    if (!options?.recursive) {
      const at = this.locate(path, 'mkdir');
      if (at.node || !at.parent) throw fsError('EEXIST', 'mkdir', path);
      this.record([{ dir: at.parent, name: at.name, node: new DirNode() }]);
      return;
    }
    let dir = this.root;
    const parts = this.split(path, 'mkdir').parts;
    for (let i = 0; i < parts.length; i++) {
      const child = dir.entries.get(parts[i]);
      if (child?.kind === 'file') throw fsError(i === parts.length - 1 ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
      if (child) {
        dir = child;
        continue;
      }
      const made = new DirNode();
      this.record([{ dir, name: parts[i], node: made }]);
      dir = made;
    }
  }

  async readdir(path: string): Promise<string[]> {
    const node = this.lookup(path, 'scandir');
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'scandir', path);
    return [...node.entries.keys()].sort();
  }

  async stat(path: string): Promise<FileStat> {
    const node = this.lookup(path, 'stat');
    const isFile = node.kind === 'file';
    return { size: isFile ? node.data.length : 0, mtimeMs: node.mtimeMs, isFile, isDirectory: !isFile, links: isFile ? this.namesOf(node, this.root) : 1, ino: isFile ? node.id : undefined };
  }

  /** Names of `node` in the tree under `dir` (its hard links). */
  private namesOf(node: FsNode, dir: DirNode): number {
    let n = 0;
    for (const child of dir.entries.values()) {
      if (child === node) n++;
      else if (child.kind === 'dir') n += this.namesOf(node, child);
    }
    return n;
  }

  async rm(path: string, options?: { recursive?: boolean }): Promise<void> {
    let at: Located;
    try {
      at = this.locate(path, 'rm');
    } catch (err) {
      // Like Node's rm with force: a missing parent is "nothing to remove", a file as parent is not.
      if ((err as { code?: string }).code === 'ENOENT') return;
      throw err;
    }
    if (!at.node) return;
    if (!at.parent) throw fsError('EPERM', 'rm', path);
    if (at.node.kind === 'dir' && !options?.recursive) throw fsError('EISDIR', 'rm', path);
    if (at.node.kind === 'file' && at.trailingSlash) throw fsError('ENOTDIR', 'rm', path);
    this.record([{ dir: at.parent, name: at.name, node: undefined }]);
  }

  async syncDir(path: string): Promise<void> {
    const node = this.lookup(path, 'fsync');
    if (node.kind !== 'dir') throw fsError('ENOTDIR', 'fsync', path);
    this.commitDir(node);
  }

  /**
   * Makes durable every pending directory operation that touches `dir`, plus the earlier operations on
   * the same names they build on (a rename of a file created just before carries the create with it).
   */
  commitDir(dir: DirNode): void {
    const keys = new Map<DirNode, Set<string>>();
    const touches = (op: DirOp): boolean => op.changes.some((c) => c.dir === dir || keys.get(c.dir)?.has(c.name));
    const chosen = new Set<DirOp>();
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const op = this.pending[i];
      if (!touches(op)) continue;
      chosen.add(op);
      for (const c of op.changes) {
        let names = keys.get(c.dir);
        if (!names) keys.set(c.dir, (names = new Set()));
        names.add(c.name);
      }
    }
    if (chosen.size === 0) return;
    for (const op of this.pending) if (chosen.has(op)) applyDirOp(op, (d) => d.durable);
    this.pending = this.pending.filter((op) => !chosen.has(op));
  }

  /**
   * Simulates a power loss in place: afterwards the file system holds only what survived (see
   * {@link CrashOptions} for the seeded random mode) and every open handle fails with EBADF.
   */
  crash(options?: CrashOptions): CrashReport {
    const { root, report } = survivingTree(this.root, this.pending, options);
    this.root = root;
    this.pending = [];
    this.gen++;
    return report;
  }

  /** A new file system holding what a power loss now would leave; this one is not changed. */
  snapshotDurable(options?: CrashOptions): MemoryFileSystem {
    const copy = new MemoryFileSystem();
    copy.root = survivingTree(this.root, this.pending, options).root;
    return copy;
  }

  /** Test helper: the current (not necessarily durable) content of a file. */
  readFileSync(path: string): Uint8Array {
    const node = this.lookup(path, 'open');
    if (node.kind === 'dir') throw fsError('EISDIR', 'read', path);
    return node.data.bytes();
  }

  /** Test helper: writes a file, creating missing parent directories, all durable at once. */
  writeFileSync(path: string, data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) throw new TypeError('data must be a Uint8Array');
    const parts = this.split(path, 'open').parts;
    if (parts.length === 0) throw fsError('EISDIR', 'open', path);
    let dir = this.root;
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      let child = dir.entries.get(parts[i]);
      if (child?.kind === (last ? 'dir' : 'file')) throw fsError(last ? 'EISDIR' : 'ENOTDIR', 'open', path);
      if (!child) {
        child = last ? new FileNode(data) : new DirNode();
        dir.entries.set(parts[i], child);
      } else if (child.kind === 'file') {
        child.setDurable(data);
      }
      dir.durable.set(parts[i], child);
      if (child.kind === 'dir') dir = child;
    }
  }

  /** Test helper: every path in the live tree, sorted; directories end with "/". */
  listAll(): string[] {
    const out: string[] = [];
    const walk = (dir: DirNode, prefix: string): void => {
      for (const [name, node] of dir.entries) {
        const p = `${prefix}/${name}`;
        if (node.kind === 'dir') {
          out.push(`${p}/`);
          walk(node, p);
        } else {
          out.push(p);
        }
      }
    };
    walk(this.root, '');
    return out.sort();
  }

  private record(changes: EntryChange[]): void {
    const op: DirOp = { changes };
    applyDirOp(op, (d) => d.entries);
    const now = Date.now();
    for (const c of changes) c.dir.mtimeMs = now;
    this.pending.push(op);
  }

  private split(path: string, syscall: string): { parts: string[]; trailingSlash: boolean } {
    if (typeof path !== 'string') throw new TypeError(`path must be a string, got ${typeof path}`);
    if (path === '') throw fsError('ENOENT', syscall, path);
    const parts = posix.resolve('/', path).split('/').filter((p) => p !== '');
    return { parts, trailingSlash: parts.length > 0 && /\/\.?$/.test(path) };
  }

  /** Resolves `path`; errors name `report` (path and dest) so rename reports both paths, as Node does. */
  private locate(path: string, syscall: string, report: [string, string?] = [path]): Located {
    const { parts, trailingSlash } = this.split(path, syscall);
    if (parts.length === 0) return { parent: undefined, name: '', node: this.root, chain: [], trailingSlash };
    const chain: DirNode[] = [this.root];
    let dir = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const child = dir.entries.get(parts[i]);
      if (!child) throw fsError('ENOENT', syscall, report[0], report[1]);
      if (child.kind === 'file') throw fsError('ENOTDIR', syscall, report[0], report[1]);
      dir = child;
      chain.push(dir);
    }
    const name = parts[parts.length - 1];
    return { parent: dir, name, node: dir.entries.get(name), chain, trailingSlash };
  }

  private lookup(path: string, syscall: string): FsNode {
    const at = this.locate(path, syscall);
    if (!at.node) throw fsError('ENOENT', syscall, path);
    if (at.trailingSlash && at.node.kind === 'file') throw fsError('ENOTDIR', syscall, path);
    return at.node;
  }
}
