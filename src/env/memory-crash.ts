/**
 * Power-loss model of MemoryFileSystem: builds the tree that would be found after a crash, from the
 * durable state plus (in seeded random mode) a random part of what was not yet synced.
 */
import { seededRandom } from '../util/random.js';
import { applyDataOp, applyDirOp, DirNode, FileNode, type DirOp, type FsNode } from './memory-nodes.js';

/** How a simulated power loss treats work that was not made durable. */
export interface CrashOptions {
  /**
   * Seed of the random mode. Without it only durable state survives. With it, each file keeps a random
   * prefix of its unsynced writes (the last kept one possibly cut short: a torn write) and each unsynced
   * directory operation is independently kept or dropped (a rename entirely or not at all).
   */
  seed?: number;
  /** Random mode: chance that an unsynced directory operation survives (default 0.5). */
  dirOpKeepProbability?: number;
}

export { seededRandom };

/** What a crash kept and dropped, for test diagnostics. */
export interface CrashReport {
  keptDirOps: number;
  droppedDirOps: number;
  /** Files that kept some but not all of their unsynced changes. */
  tornFiles: number;
  /** Files whose unsynced changes were all dropped. */
  revertedFiles: number;
}

/**
 * Builds a fresh tree holding what survives a power loss. The input tree is not modified; the new
 * tree's live and durable states are equal and it has nothing pending.
 */
export function survivingTree(root: DirNode, pending: readonly DirOp[], options: CrashOptions = {}): { root: DirNode; report: CrashReport } {
  const rand = options.seed === undefined ? undefined : seededRandom(options.seed);
  const keepP = options.dirOpKeepProbability ?? 0.5;
  const report: CrashReport = { keptDirOps: 0, droppedDirOps: 0, tornFiles: 0, revertedFiles: 0 };

  const entries = new Map<DirNode, Map<string, FsNode>>();
  const view = (d: DirNode): Map<string, FsNode> => {
    let m = entries.get(d);
    if (!m) {
      m = new Map(d.durable);
      entries.set(d, m);
    }
    return m;
  };
  for (const op of pending) {
    if (rand && rand() < keepP) {
      applyDirOp(op, view);
      report.keptDirOps++;
    } else {
      report.droppedDirOps++;
    }
  }

  const copies = new Map<FsNode, FsNode>();
  const copyFile = (f: FileNode): FileNode => {
    const content = f.durable.clone();
    const n = f.pending.length;
    // Writes forced durable on their own (O_DSYNC) survive whatever happens to the changes before them.
    let kept = 0;
    if (rand && n > 0) {
      const keep = Math.floor(rand() * (n + 1));
      for (let i = 0; i < keep; i++) applyDataOp(content, f.pending[i]);
      kept = keep;
      const next = f.pending[keep];
      let torn = false;
      if (next?.kind === 'write') {
        const cut = Math.floor(rand() * (next.data.length + 1));
        if (cut > 0) applyDataOp(content, next, cut);
        torn = cut > 0;
      }
      if (keep === 0 && !torn) report.revertedFiles++;
      else if (keep < n) report.tornFiles++;
    } else if (n > 0) {
      report.revertedFiles++;
    }
    for (let i = kept; i < n; i++) {
      const op = f.pending[i];
      if (op.kind === 'write' && op.forced) applyDataOp(content, op);
    }
    const copy = new FileNode();
    copy.data = content;
    copy.durable = content.clone();
    copy.mtimeMs = f.mtimeMs;
    copy.id = f.id;
    return copy;
  };
  const copyDir = (d: DirNode, onPath: Set<DirNode>): DirNode => {
    const copy = new DirNode();
    copy.mtimeMs = d.mtimeMs;
    onPath.add(d);
    for (const [name, child] of entries.get(d) ?? d.durable) {
      // Replaying only some renames can link a directory under its own descendant; such a loop is
      // unreachable on a real disk, so the entry is dropped.
      if (child.kind === 'dir' && onPath.has(child)) continue;
      let c = copies.get(child);
      if (!c) {
        c = child.kind === 'file' ? copyFile(child) : copyDir(child, onPath);
        copies.set(child, c);
      }
      copy.entries.set(name, c);
      copy.durable.set(name, c);
    }
    onPath.delete(d);
    return copy;
  };
  return { root: copyDir(root, new Set()), report };
}
