/**
 * The raw-I/O baseline every benchmark compares with: write + fsync of the same bytes, and reading
 * them back into a preallocated buffer (page cache warm), both in 8 MB chunks.
 */
import { openSync, writeSync, fsyncSync, closeSync, readSync, unlinkSync, statSync } from 'node:fs';

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

/** Median raw write and read times for `bytes`, `times` rounds each. */
export function rawBaseline(path: string, bytes: Uint8Array, times: number): { writeMs: number; readMs: number } {
  const w: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < times; i++) {
    w.push(rawWrite(path, bytes));
    r.push(rawRead(path));
  }
  unlinkSync(path);
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return { writeMs: med(w), readMs: med(r) };
}

/** Raw write+fsync and read of one buffer at one path, for baselines interleaved with the measured work. */
export class RawIo {
  private written = false;

  constructor(private readonly path: string, private readonly bytes: Uint8Array) {}

  /** One raw write+fsync of the buffer; ms. */
  write(): number {
    this.written = true;
    return rawWrite(this.path, this.bytes);
  }

  /** One raw read of the file (written first if needed); ms. */
  read(): number {
    if (!this.written) this.write();
    return rawRead(this.path);
  }

  /** Removes the file. */
  dispose(): void {
    if (this.written) unlinkSync(this.path);
    this.written = false;
  }
}
