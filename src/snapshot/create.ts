/**
 * Creating snapshots from images taken synchronously when the caller asked (so writes that continue
 * meanwhile never leak in). Incrementals use the engine's change tracking when the manager saw the base
 * taken from (or restored into) this same database object, and a content diff against the base chain's
 * hashes otherwise. An incremental that would exceed the chain depth limit is written as a full
 * snapshot, and says so in its `note`.
 */
import { QuiverError } from '../errors.js';
import type { ChangeImage, CollectionImage } from '../engine/types.js';
import type { ProgressReporter } from '../util/progress.js';
import { resolveChain } from './catalog.js';
import type { SnapshotContext } from './context.js';
import { diffAgainstChain } from './diff.js';
import type { SnapshotSource } from './image-source.js';
import type { SnapshotManifest } from './manifest.js';
import { writeSnapshot } from './writer.js';

/** Identity and labels of a snapshot being created. */
export interface CreateRequest {
  id: string;
  createdAt: number;
  name: string;
  metadata: Record<string, unknown>;
  pinned: boolean;
  tags: string[];
  progress: ProgressReporter;
  signal?: AbortSignal;
}

/** What was taken from the database at call time: its change view since the base, or a full image. */
export interface TakenState {
  changes?: ChangeImage;
  image?: CollectionImage;
  /** Entries in the database at that moment. */
  count: number;
}

/** Writes a full snapshot of `image`. */
export function createFull(ctx: SnapshotContext, req: CreateRequest, image: CollectionImage, note?: string): Promise<SnapshotManifest> {
  return writeSnapshot(ctx, {
    id: req.id, name: req.name, createdAt: req.createdAt, type: 'full', chainDepth: 0, vectorCount: image.count,
    metadata: req.metadata, pinned: req.pinned, tags: req.tags, generation: 1, ...(note === undefined ? {} : { note }),
  }, { image, deletedIds: [], cleared: false }, req.progress, req.signal);
}

/** Writes an incremental snapshot on `baseId` (or a full one past the depth limit). */
export async function createIncremental(ctx: SnapshotContext, req: CreateRequest, baseId: string, taken: TakenState): Promise<SnapshotManifest> {
  const chain = await resolveChain(ctx, baseId);
  const base = chain[0];
  const view = (taken.changes ?? taken.image) as CollectionImage;
  if (base.dimension !== view.dimension) {
    throw new QuiverError('DIMENSION_MISMATCH', `base snapshot ${baseId} holds ${base.dimension}-dimensional vectors, the database ${view.dimension}-dimensional ones; take a full snapshot instead`, { expected: base.dimension, actual: view.dimension });
  }
  if (base.metric !== view.metric) {
    throw new QuiverError('INVALID_ARGUMENT', `base snapshot ${baseId} was taken with metric '${base.metric}', the database uses '${view.metric}'; take a full snapshot instead`, { expected: base.metric, actual: view.metric });
  }
  // The chain as it is now: a base folded into a full snapshot since shortened it (a stored
  // chainDepth, counted when its snapshot was written, may over-estimate).
  const depth = chain.length;
  if (depth > ctx.maxChainDepth && taken.image) {
    return createFull(ctx, req, taken.image, `incremental requested on ${baseId}, but the chain would be ${depth} links deep (limit ${ctx.maxChainDepth}); took a full snapshot`);
  }
  let source: SnapshotSource;
  if (taken.changes) {
    source = { image: taken.changes, deletedIds: taken.changes.deletedIds, cleared: taken.changes.cleared };
  } else {
    source = await diffAgainstChain(ctx, chain, taken.image as CollectionImage, req.signal);
  }
  return writeSnapshot(ctx, {
    id: req.id, name: req.name, createdAt: req.createdAt, type: 'incremental', baseId, chainDepth: depth, vectorCount: taken.count,
    metadata: req.metadata, pinned: req.pinned, tags: req.tags, generation: 1,
  }, source, req.progress, req.signal);
}
