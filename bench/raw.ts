/**
 * The raw-I/O baseline every benchmark compares with: write + fsync of the same bytes, and reading
 * them back into a preallocated buffer (page cache warm), both in 8 MB chunks.
 *
 * A durable save never rewrites a file in place: it writes a new file (then renames it, and the old
 * one is freed). The baseline write does the same, into a new file each time, because where the page
 * cache gets its pages matters on some virtual machines: rewriting one file in place reuses the pages
 * it just freed, while a new file takes pages from free memory, which there cost ~10 µs per 4 KiB
 * page to fault in on the host (measured 2026-12-05: 175 ms in place vs 385 ms as a new file for
 * 153.6 MB). `rewriteInPlace` measures the in-place figure for reference.
 */
import { openSync, writeSync, fsyncSync, closeSync, readSync, unlinkSync, statSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const CHUNK = 8 << 20;

/** Writes `bytes` to `path` and fsyncs; returns ms. */
export function rawWrite(path: string, bytes: Uint8Array): number {
  const s = performance.now();
  const fd = openSync(path, 'w');
  for (let o = 0; o < bytes.length; o += CHUNK) writeSync(fd, bytes, o, Math.min(CHUNK, bytes.length - o));
  fsyncSync(fd);
  closeSync(fd);
  return performance.now() - s;
}

/**
 * Makes the file system commit its journal now (an fsync of a small marker file in `dir` does), which is
 * when ext4 frees the blocks of removed files. Not `sync(1)`: spawning a process from this one would
 * mark all of its memory copy-on-write, and the next step would pay a page fault for every page it writes.
 */
export function commitJournal(dir: string): void {
  const fd = openSync(join(dir, '.journal-commit'), 'w');
  try {
    writeSync(fd, new Uint8Array(1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Fsyncs every file below `dir` (the data written without fsync gets written back now). */
export function fsyncTree(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      fsyncTree(p);
    } else if (e.isFile()) {
      const fd = openSync(p, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
}

/** Reads `path` fully into a new buffer; returns ms. */
export function rawRead(path: string): number {
  const s = performance.now();
  const size = statSync(path).size;
  const buf = new Uint8Array(size);
  const fd = openSync(path, 'r');
  for (let o = 0; o < size; o += CHUNK) readSync(fd, buf, o, Math.min(CHUNK, size - o), o);
  closeSync(fd);
  return performance.now() - s;
}

/** Median of in-place rewrites of one file (write + fsync, `times` rounds after a first write); ms. */
export function rewriteInPlace(path: string, bytes: Uint8Array, times: number): number {
  rawWrite(path, bytes);
  const t = Array.from({ length: times }, () => rawWrite(path, bytes)).sort((a, b) => a - b);
  unlinkSync(path);
  return t[t.length >> 1];
}

/**
 * What the baseline does with the file of the previous write: 'replace' removes it after the next
 * write (as a save replaces its previous file), 'keep' keeps it (as snapshots accumulate).
 */
export type PreviousFile = 'replace' | 'keep';

/** Raw write+fsync (each to a new file) and read of one buffer, for baselines measured next to the work. */
export class RawIo {
  private readonly files: string[] = [];

  constructor(private readonly path: string, private readonly bytes: Uint8Array, private readonly previous: PreviousFile = 'replace') {}

  /** One raw write+fsync of the buffer into a new file; ms (the previous file's removal is not timed). */
  write(): number {
    const file = `${this.path}.${this.files.length}`;
    const ms = rawWrite(file, this.bytes);
    const before = this.files.at(-1);
    if (this.previous === 'replace' && before !== undefined) {
      unlinkSync(before);
      // The blocks are freed at the next journal commit: make it now, outside the timings (see settleFs).
      commitJournal(dirname(file));
    }
    this.files.push(file);
    return ms;
  }

  /** One raw read of the newest file (written first if needed); ms. */
  read(): number {
    if (this.files.length === 0) this.write();
    return rawRead(this.files.at(-1) as string);
  }

  /** Removes the files still present. */
  dispose(): void {
    const present = this.previous === 'keep' ? this.files : this.files.slice(-1);
    for (const f of present) unlinkSync(f);
    this.files.length = 0;
  }
}

/** Median raw write (each to a new file, the previous one removed) and read times for `bytes`, `times` rounds each. */
export function rawBaseline(path: string, bytes: Uint8Array, times: number): { writeMs: number; readMs: number } {
  const io = new RawIo(path, bytes);
  const w: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < times; i++) {
    w.push(io.write());
    r.push(io.read());
  }
  io.dispose();
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return { writeMs: med(w), readMs: med(r) };
}
