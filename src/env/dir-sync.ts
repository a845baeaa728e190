/**
 * Directory fsyncs of publishes, and the second names that wait for one: a file published by a hard
 * link keeps its temp name until the link is durable, which the next fsync of its directory makes it.
 */
import { dirname } from 'node:path';
import type { FileSystem } from './fs.js';
import { leaveUnremoved } from './temp-files.js';

/**
 * Temp names that are second names of files published without replacing (see linkTempFile), waiting
 * for a directory fsync before they can go.
 */
const secondNames = new WeakMap<FileSystem, Map<string, string>>();

/**
 * fsyncs `dir`, then unlinks the second names in it that were there before the fsync (their links are
 * durable now). Every directory fsync of a publish goes through here.
 */
export async function syncDirectory(fs: FileSystem, dir: string): Promise<void> {
  const names = secondNames.get(fs);
  const linked = names === undefined ? [] : [...names].filter(([n]) => dirname(n) === dir);
  await fs.syncDir(dir);
  for (const [n, published] of linked) {
    names?.delete(n);
    // Only while the published name is still a name of the same file: if it is gone (a crash undid the
    // link, as tests simulate in-process) the temp name holds the only copy, for a load to recover.
    const [st, pub] = await Promise.all([fs.stat(n).catch(() => undefined), fs.stat(published).catch(() => undefined)]);
    if (st === undefined || pub === undefined || (st.links !== undefined && st.links < 2)) continue;
    await fs.rm(n).catch((err: unknown) => {
      if ((err as { code?: unknown } | null)?.code !== 'ENOENT') leaveUnremoved(fs, n);
    });
  }
}

/** Notes that `tmp` is a second name of the file just linked to `published`, to unlink after the next directory fsync. */
export function keepSecondName(fs: FileSystem, tmp: string, published: string): void {
  let names = secondNames.get(fs);
  if (names === undefined) secondNames.set(fs, (names = new Map()));
  names.set(tmp, published);
}
