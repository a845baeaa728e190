/** Shared fixtures for the publishAtomically fault and power-loss tests. */
import assert from 'node:assert/strict';
import { publishAtomically, RETIRE_MIN_BYTES } from '../../src/env/atomic.js';
import type { FileSystem } from '../../src/env/fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';

export const DIR = '/db';
export const TARGET = '/db/target';

/** The file a publish replaces and the one it writes. */
export interface Contents {
  old: Uint8Array;
  new: Uint8Array;
}

/** Distinct, recognisable contents so a mix of old and new can never pass for either. */
export const OLD = new Uint8Array(300).map((_, i) => (i * 7 + 1) & 0xff);
export const NEW = new Uint8Array(5000).map((_, i) => (i * 13 + 101) & 0xff);
/** Small files: the publish renames over the old file directly. */
export const SMALL: Contents = { old: OLD, new: NEW };
/** Files large enough that the publish retires the old one (hard link, unlinked afterwards). */
export const LARGE: Contents = {
  old: new Uint8Array(RETIRE_MIN_BYTES + 10).map((_, i) => (i * 7 + 1) & 0xff),
  new: new Uint8Array(RETIRE_MIN_BYTES + 20).map((_, i) => (i * 13 + 101) & 0xff),
};

/** The operations one publish of NEW performs: open, 3 writes, sync, close, rename, syncDir. */
export const PUBLISH_OPS = 8;

/** Publishes the new content at TARGET in three writes, the way a format writer streams a file. */
export function publishNew(fs: FileSystem, contents: Contents = SMALL): Promise<string> {
  const data = contents.new;
  const a = Math.floor(data.length / 5);
  const b = Math.floor((data.length * 3) / 5);
  return publishAtomically(fs, TARGET, async (h) => {
    await h.write(data.subarray(0, a), 0);
    await h.write(data.subarray(a, b), a);
    await h.write(data.subarray(b), b);
    return 'published';
  });
}

/** A memory file system holding the old content at TARGET durably (or only the directory when `withOld` is false). */
export function freshDisk(withOld = true, contents: Contents = SMALL): MemoryFileSystem {
  const mem = new MemoryFileSystem();
  if (withOld) mem.writeFileSync(TARGET, contents.old);
  else mem.writeFileSync(`${DIR}/.keep`, new Uint8Array(0));
  if (!withOld) mem.crash(); // nothing pending
  return mem;
}

/** 'old', 'new' or 'missing' for TARGET on `fs`; anything else fails the assertion with `context`. */
export function targetState(fs: MemoryFileSystem, context: string, contents: Contents = SMALL): 'old' | 'new' | 'missing' {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(TARGET);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return 'missing';
    throw err;
  }
  if (Buffer.from(bytes).equals(Buffer.from(contents.old))) return 'old';
  if (Buffer.from(bytes).equals(Buffer.from(contents.new))) return 'new';
  assert.fail(`${context}: target holds ${bytes.length} bytes that are neither the old nor the new content`);
}

/** Chunk size of the big publishes that exercise background fsyncs. */
export const BIG_CHUNK = 8 << 20;

/** `chunks` × BIG_CHUNK bytes of a recognisable pattern, each chunk marked with its index (no two alike). */
export function bigContent(chunks: number): Uint8Array {
  const data = new Uint8Array(chunks * BIG_CHUNK);
  for (let i = 0; i < 4096; i++) data[i] = (i * 29 + 3) & 0xff;
  for (let filled = 4096; filled < data.length; filled *= 2) data.copyWithin(filled, 0, filled);
  for (let c = 0; c < chunks; c++) data[c * BIG_CHUNK] = c;
  return data;
}

/** Publishes `data` at TARGET in BIG_CHUNK writes, as a big writer streams a file. */
export function publishInChunks(fs: FileSystem, data: Uint8Array): Promise<void> {
  return publishAtomically(fs, TARGET, async (h) => {
    for (let off = 0; off < data.length; off += BIG_CHUNK) await h.write(data.subarray(off, off + BIG_CHUNK), off);
  });
}
