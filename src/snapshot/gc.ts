/**
 * Garbage collection: removes snapshot folders without metadata.json (interrupted creates, deletes and
 * cleanups), files in complete snapshots that their metadata.json does not reference (an interrupted
 * fold), and store leftovers (temporaries, empty folders). Only things last modified at or before `cutoff`
 * are touched, so a snapshot another process is writing right now survives. Damaged snapshots (a
 * metadata.json failing its checks) are never removed automatically.
 */
import type { GcResult } from './types.js';
import { loadCatalog, type Catalog } from './catalog.js';
import type { SnapshotContext } from './context.js';
import { isSnapshotId } from './ids.js';
import { MANIFEST_NAME, snapshotKey, snapshotPrefix } from './layout.js';

/** Collects garbage older than `cutoff` (ms since the epoch); `skip` lists ids being written now. */
export async function collectGarbage(ctx: SnapshotContext, cutoff: number, skip: ReadonlySet<string>, catalog?: Catalog): Promise<GcResult> {
  const cat = catalog ?? (await loadCatalog(ctx));
  const result: GcResult = { incomplete: [], strayFiles: [], leftovers: [] };
  for (const [id, objs] of cat.incomplete) {
    if (skip.has(id) || !isSnapshotId(id)) continue;
    // A file still being written is not listed: date the folder by it too (a create between publishes).
    const newest = Math.max(objs.reduce((t, o) => Math.max(t, o.mtimeMs), 0), (await ctx.store.newestInProgress?.(snapshotPrefix(id))) ?? 0);
    if (newest > cutoff) continue;
    await ctx.store.deletePrefix(snapshotPrefix(id));
    result.incomplete.push(id);
  }
  for (const m of cat.snapshots) {
    if (skip.has(m.id)) continue;
    // A fold of another process in progress: its new files are not referenced yet, and one published
    // before the grace period is not a leftover while the rest is still being written.
    if (((await ctx.store.newestInProgress?.(snapshotPrefix(m.id))) ?? 0) > cutoff) continue;
    const referenced = new Set([MANIFEST_NAME, m.checksumFile, ...m.files.map((f) => f.name)].map((n) => snapshotKey(m.id, n)));
    const strays = (cat.objects.get(m.id) ?? []).filter((o) => !referenced.has(o.key));
    // A fold writes its new files one after another before its record: judged one by one, the first
    // could pass the grace period while the last is still being written. They go together, dated by
    // the newest (as an incomplete folder is).
    if (strays.length === 0 || strays.some((o) => o.mtimeMs > cutoff)) continue;
    for (const o of strays) {
      await ctx.store.delete(o.key);
      result.strayFiles.push(o.key);
    }
  }
  result.leftovers = await ctx.store.sweep(cutoff);
  return result;
}
