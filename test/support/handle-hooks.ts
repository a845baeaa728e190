/**
 * Test helper: a file system whose opened handles a test may wrap (a write that triggers something, a
 * counted truncation), everything else passed through to the inner one.
 */
import type { FileHandle, FileSystem, OpenMode, OpenOptions } from '../../src/env/fs.js';

/** `inner`, with every handle it opens given to `patch` first (which may replace the handle's methods). */
export function patchingHandles(inner: FileSystem, patch: (handle: FileHandle, path: string) => void): FileSystem {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'open') return Reflect.get(target, prop, receiver) as unknown;
      return async (path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> => {
        const h = await target.open(path, mode, options);
        patch(h, path);
        return h;
      };
    },
  });
}
