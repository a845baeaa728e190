/** Shared fixtures for the publishAtomically fault and power-loss tests. */
import assert from 'node:assert/strict';
import { publishAtomically } from '../../src/env/atomic.js';
import type { FileSystem } from '../../src/env/fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';

export const DIR = '/db';
export const TARGET = '/db/target';

/** Distinct, recognisable contents so a mix of old and new can never pass for either. */
export const OLD = new Uint8Array(300).map((_, i) => (i * 7 + 1) & 0xff);
export const NEW = new Uint8Array(5000).map((_, i) => (i * 13 + 101) & 0xff);

/** The operations one publish of NEW performs: open, 3 writes, sync, close, rename, syncDir. */
export const PUBLISH_OPS = 8;

/** Publishes NEW at TARGET in three writes, the way a format writer streams a file. */
export function publishNew(fs: FileSystem): Promise<string> {
  return publishAtomically(fs, TARGET, async (h) => {
    await h.write(NEW.subarray(0, 1000), 0);
    await h.write(NEW.subarray(1000, 3000), 1000);
    await h.write(NEW.subarray(3000), 3000);
    return 'published';
  });
}

/** A memory file system holding OLD at TARGET durably (or only the directory when `withOld` is false). */
export function freshDisk(withOld = true): MemoryFileSystem {
  const mem = new MemoryFileSystem();
  if (withOld) mem.writeFileSync(TARGET, OLD);
  else mem.writeFileSync(`${DIR}/.keep`, new Uint8Array(0));
  if (!withOld) mem.crash(); // nothing pending
  return mem;
}

/** 'old', 'new' or 'missing' for TARGET on `fs`; anything else fails the assertion with `context`. */
export function targetState(fs: MemoryFileSystem, context: string): 'old' | 'new' | 'missing' {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(TARGET);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return 'missing';
    throw err;
  }
  if (Buffer.from(bytes).equals(Buffer.from(OLD))) return 'old';
  if (Buffer.from(bytes).equals(Buffer.from(NEW))) return 'new';
  assert.fail(`${context}: target holds ${bytes.length} bytes that are neither the old nor the new content`);
}
