/**
 * Physical deletion and folding. A snapshot is deleted by removing its metadata.json first (one atomic,
 * durable step that makes it invisible), then the rest of its folder; an interruption leaves only an
 * invisible folder for garbage collection. Dependents are always removed before their bases, so no
 * crash can leave a visible incremental without its base.
 *
 * Folding rewrites an incremental as a full snapshot in place: the staged state of its chain is written
 * as new files of the next generation (`vectors.g2.bin.gz`, ...), the new metadata.json replaces the old
 * one atomically, then the old generation's files are removed.
 */
import { QuiverError } from '../errors.js';
import { ProgressReporter } from '../util/progress.js';
import { readManifest, resolveChain } from './catalog.js';
import type { SnapshotContext } from './context.js';
import { columnsImage } from './image-source.js';
import { MANIFEST_NAME, snapshotKey, snapshotPrefix } from './layout.js';
import type { SnapshotManifest } from './manifest.js';
import { stageChain } from './stage.js';
import { writeSnapshot } from './writer.js';

/** Refusal to delete a snapshot other snapshots are built on (code BUSY); `dependents` lists them. */
export class SnapshotDependencyError extends QuiverError {
  readonly dependents: string[];

  constructor(id: string, dependents: string[]) {
    super(
      'BUSY',
      `snapshot ${id} is the base of ${dependents.length} incremental snapshot(s) (${dependents.slice(0, 5).join(', ')}${dependents.length > 5 ? ', …' : ''}); delete them first, or pass { dependents: 'cascade' } to delete them too, or { dependents: 'fold' } to rewrite them as full snapshots`,
      { id, dependents },
    );
    this.name = 'SnapshotDependencyError';
    this.dependents = dependents;
  }
}

/** Deletes one snapshot: metadata.json first (the commit), then its folder. */
export async function deleteOne(ctx: SnapshotContext, id: string): Promise<boolean> {
  const existed = await ctx.store.delete(snapshotKey(id, MANIFEST_NAME));
  await ctx.store.deletePrefix(snapshotPrefix(id));
  return existed;
}

/** Rewrites incremental `m` as a full snapshot holding the same state; returns the new manifest. */
export async function foldIntoFull(ctx: SnapshotContext, m: SnapshotManifest, signal?: AbortSignal): Promise<SnapshotManifest> {
  const chain = await resolveChain(ctx, m.id);
  const current = chain[0];
  if (current.type === 'full') return current;
  const columns = await stageChain(ctx, chain, { verify: true, signal });
  const generation = current.generation + 1;
  const written = await writeSnapshotGeneration(ctx, current, generation, columns, signal);
  // The old generation is unreferenced now; remove it (GC catches it if we are interrupted).
  for (const f of [...current.files.map((x) => x.name), current.checksumFile]) await ctx.store.delete(snapshotKey(m.id, f));
  return written;
}

async function writeSnapshotGeneration(ctx: SnapshotContext, old: SnapshotManifest, generation: number, columns: Parameters<typeof columnsImage>[0], signal?: AbortSignal): Promise<SnapshotManifest> {
  try {
    return await writeSnapshot(ctx, {
      id: old.id, name: old.name, createdAt: old.createdAt, type: 'full', chainDepth: 0, vectorCount: columns.ids.length,
      metadata: old.metadata, pinned: old.pinned, tags: old.tags, generation, foldedFrom: old.baseId,
      ...(old.note === undefined ? {} : { note: old.note }),
    }, { image: columnsImage(columns), deletedIds: [], cleared: false }, new ProgressReporter('fold', 1, undefined), signal);
  } catch (err) {
    // Nothing was committed: remove the new generation's files, keep the old snapshot as it was.
    const still = await readManifest(ctx, old.id).catch(() => undefined);
    if (still?.generation === old.generation) {
      for (const o of await ctx.store.list(snapshotPrefix(old.id))) {
        if (o.key.includes(`.g${generation}.`)) await ctx.store.delete(o.key).catch(() => undefined);
      }
    }
    throw err;
  }
}
