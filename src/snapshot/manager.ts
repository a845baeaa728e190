/**
 * SnapshotManager: full and incremental snapshots of a VectorDB in a SnapshotStore (reference 002 in
 * TypeScript), with verification, all-or-nothing restore, dependency-aware deletion, retention and
 * garbage collection. Scheduling lives in scheduler.ts.
 *
 * Concurrency: every call that writes runs through one queue, so snapshots, deletions and cleanups of a
 * manager never interleave; restores and verifies run concurrently with creates but never with a
 * deletion, fold or garbage collection. Snapshots capture the database synchronously when called.
 */
import { CorruptionError, QuiverError } from '../errors.js';
import type { ChangeImage, CollectionImage } from '../engine/types.js';
import { VectorDB } from '../engine/vector-db.js';
import { FileSystemSnapshotStore } from '../storage/fs-store.js';
import type { SnapshotStore } from '../storage/store.js';
import { checkAbort } from '../storage/store.js';
import { ProgressReporter } from '../util/progress.js';
import { basesOfDamaged, dependentsOf, loadCatalog, readManifest, resolveChain, type Catalog } from './catalog.js';
import type { SnapshotContext } from './context.js';
import { createFull, createIncremental, type CreateRequest, type TakenState } from './create.js';
import { deleteOne, foldIntoFull, SnapshotDependencyError } from './delete.js';
import { collectGarbage } from './gc.js';
import { checkSnapshotId, checkSnapshotName, checkTags, newSnapshotId } from './ids.js';
import { Limiter } from './limiter.js';
import { MANIFEST_NAME, SNAPSHOT_PREFIX, snapshotKey } from './layout.js';
import { encodeManifest, infoOf, type SnapshotManifest } from './manifest.js';
import { resolveOptions, withReferenceNames, checkUserMetadata, optionalBoolean, type ResolvedSnapshotOptions } from './options.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { ReadWriteLock } from './rwlock.js';
import { SnapshotSchedule } from './scheduler.js';
import { chainBytes, stageChain } from './stage.js';
import type {
  CreateSnapshotOptions, DeleteResult, DeleteSnapshotOptions, GcResult, PruneOptions, PruneResult, RestoreOptions, ScheduleOptions,
  SnapshotInfo, SnapshotManagerOptions, SnapshotUpdate, VerifyOptions, VerifyReport,
} from './types.js';
import { verifySnapshotChain } from './verify.js';

/** Where a database stood when a snapshot of it was taken or restored: enables fast incrementals. */
interface Lineage {
  seq: number;
  depth: number;
}

/** Snapshots remembered per database for fast incrementals. */
const LINEAGE_LIMIT = 32;

/** Progress of a create: work counted in raw bytes written (vectors plus an estimate for the records), reported in entries. */
function progressFor(view: CollectionImage, options: CreateSnapshotOptions): ProgressReporter {
  const progress = new ProgressReporter('snapshot', Math.max(1, view.count * (view.dimension * 4 + 32)), options.onProgress);
  progress.countItems(view.count);
  return progress;
}

function checkDb(db: unknown, what: string): VectorDB {
  if (!(db instanceof VectorDB)) throw new TypeError(`${what} must be a VectorDB`);
  return db;
}

/**
 * A fold of a deletion's dependents that failed with ABORTED after earlier folds were done: those are
 * full snapshots now (restoring the same state), so the error says so instead of "nothing was changed".
 */
function abortedAfterFolds(err: unknown, folded: readonly string[]): unknown {
  if (!(err instanceof QuiverError) || err.code !== 'ABORTED' || folded.length === 0) return err;
  return new QuiverError('ABORTED', `the deletion was aborted: nothing was deleted, but ${folded.join(', ')} had already been rewritten as full snapshot(s), which restore the same state as before`, { folded: [...folded] }, { cause: err });
}

/**
 * Moves the snapshots a damaged one may need (see basesOfDamaged) from a retention decision's removals
 * to its keeps, newest first as the decision lists them, each with the reason `base of damaged`.
 */
/** `ids` and every snapshot they are built on (their chains' links down to the full base). */
function withBases(ids: readonly string[], snapshots: readonly { id: string; baseId?: string }[]): Set<string> {
  const byId = new Map(snapshots.map((m) => [m.id, m]));
  const out = new Set<string>();
  for (const start of ids) {
    let id: string | undefined = start;
    while (id !== undefined && !out.has(id)) {
      out.add(id);
      id = byId.get(id)?.baseId;
    }
  }
  return out;
}

function keepNeeded(decision: { keep: string[]; remove: string[]; reasons: Record<string, string[]> }, needed: Set<string>, cat: Catalog, reason = 'base of damaged'): void {
  const rank = new Map(cat.snapshots.map((s, i) => [s.id, i]));
  for (const id of decision.remove.filter((x) => needed.has(x))) {
    decision.keep.push(id);
    decision.reasons[id] = [reason];
  }
  decision.remove = decision.remove.filter((x) => !needed.has(x));
  decision.keep.sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
}

/**
 * `ids` in the order deletions take them: deepest links first, so that a crash part-way never leaves an
 * incremental whose base is gone (creation times, which a clock set back can make disagree with the
 * chain, are not used).
 */
function deepestFirst(ids: readonly string[], snapshots: readonly { id: string; baseId?: string }[]): string[] {
  const depth = chainDepths(snapshots);
  return [...ids].sort((a, b) => (depth.get(b) ?? 0) - (depth.get(a) ?? 0));
}

/** Each snapshot's number of links above its full base (0 for a full one), by id. */
function chainDepths(snapshots: readonly { id: string; baseId?: string }[]): Map<string, number> {
  const byId = new Map(snapshots.map((m) => [m.id, m]));
  const depth = new Map<string, number>();
  const of = (id: string, seen: number): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    const base = byId.get(id)?.baseId;
    const d = base === undefined || !byId.has(base) || seen > byId.size ? 0 : of(base, seen + 1) + 1;
    depth.set(id, d);
    return d;
  };
  for (const m of snapshots) of(m.id, 0);
  return depth;
}

/** Reads of a chain that another writer keeps rewriting are tried this often before BUSY. */
const READ_ATTEMPTS = 3;

/** The snapshot manager. */
export class SnapshotManager {
  /** The store snapshots live in. */
  readonly store: SnapshotStore;
  /** The resolved settings. */
  readonly options: Readonly<ResolvedSnapshotOptions>;
  private readonly ctx: SnapshotContext;
  private readonly queue = new Limiter(1);
  private readonly lock = new ReadWriteLock();
  private readonly lineage = new WeakMap<VectorDB, Map<string, Lineage>>();
  private readonly inFlight = new Set<string>();
  private autoGcDone = false;

  constructor(given: SnapshotManagerOptions) {
    const options = withReferenceNames(given);
    const o = resolveOptions(options);
    this.options = o;
    this.store = options.store ?? new FileSystemSnapshotStore(options.snapshotDir as string, { fs: options.fs });
    this.ctx = {
      store: this.store, compression: o.compression, compressionLevel: o.compressionLevel, verifyChecksum: o.verifyChecksum,
      io: new Limiter(o.maxConcurrentIo), maxChainDepth: o.maxChainDepth, gcGraceMs: o.gcGraceMs,
    };
  }

  /**
   * Takes a full snapshot of `db` as it is at the moment of the call (later writes are not included).
   * `metadata` is stored with it (plain JSON). Resolves with the committed snapshot's info.
   */
  createSnapshot(db: VectorDB, name: string, metadata?: Record<string, unknown>, options: CreateSnapshotOptions = {}): Promise<SnapshotInfo> {
    try {
      checkDb(db, 'createSnapshot(db)');
      const labels = this.request(name, metadata ?? options.metadata, options);
      const image = db.openWriterImage();
      const req = { ...labels, progress: progressFor(image, options) };
      return this.run(req, image, () => createFull(this.ctx, req, image), (m) => this.remember(db, m, image.seq));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Takes an incremental snapshot of `db` on `baseId`: only the entries upserted and the ids deleted
   * since the base are stored. Past `maxChainDepth` a full snapshot is taken instead (see `note`).
   */
  createIncrementalSnapshot(db: VectorDB, name: string, baseId: string, options: CreateSnapshotOptions = {}): Promise<SnapshotInfo> {
    try {
      checkDb(db, 'createIncrementalSnapshot(db)');
      checkSnapshotId(baseId, 'baseId');
      const labels = this.request(name, options.metadata, options);
      const taken = this.take(db, baseId);
      const view = (taken.changes ?? taken.image) as CollectionImage;
      const seq = view.seq;
      const req = { ...labels, progress: progressFor(view, options) };
      return this.run(req, view, () => createIncremental(this.ctx, req, baseId, taken), (m) => this.remember(db, m, seq), taken.image);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Every complete snapshot, newest first. Damaged and incomplete ones are left out (see `catalog`). */
  async listSnapshots(): Promise<SnapshotInfo[]> {
    return (await loadCatalog(this.ctx)).snapshots.map(infoOf);
  }

  /** The complete picture: snapshots, damaged folders (with their errors) and incomplete ones. */
  async catalog(): Promise<{ snapshots: SnapshotInfo[]; damaged: { id: string; error: CorruptionError }[]; incomplete: string[] }> {
    const c = await loadCatalog(this.ctx);
    return { snapshots: c.snapshots.map(infoOf), damaged: [...c.damaged].map(([id, error]) => ({ id, error })), incomplete: [...c.incomplete.keys()].sort() };
  }

  /** The snapshot's info, or null when there is none with that id. A damaged metadata.json throws. */
  async getSnapshot(id: string): Promise<SnapshotInfo | null> {
    checkSnapshotId(id);
    try {
      return infoOf(await readManifest(this.ctx, id));
    } catch (err) {
      if (err instanceof QuiverError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /** Restores snapshot `id` (its whole chain) into a new VectorDB. */
  async restoreSnapshot(id: string, options: RestoreOptions = {}): Promise<VectorDB> {
    checkSnapshotId(id);
    // One reporter for the call: an attempt read again (readChainSteadily) reports into it from its start,
    // and what it already reported does not go back.
    const progress = new ProgressReporter('restore', 1, options.onProgress);
    const db = await this.lock.read(() => this.readChainSteadily(id, async (resolved) => {
      const chain = resolved ?? (await resolveChain(this.ctx, id));
      const into = new VectorDB({ dimension: chain[0].dimension, metric: chain[0].metric });
      await this.stageInto(chain, into, { ...options, onProgress: progress.child(0, 1) });
      return into;
    }));
    progress.finish(`restored ${db.len()} entries from snapshot ${id}`);
    return db;
  }

  /**
   * Runs a read of `id`'s chain (a restore, a verify) again when another manager on the same store
   * rewrote or removed a link while it read (a fold writes a new generation and deletes the old files):
   * the chain's manifests after a failure are compared with those the attempt started from, and a
   * change means the failure was that race, not damage. The read is handed the chain it starts from
   * (undefined when it could not be resolved; the read then reports why). This manager's own writes
   * never race its reads (its read/write lock), so this only ever retries for another writer; at most
   * READ_ATTEMPTS attempts, then BUSY.
   */
  private async readChainSteadily<T>(id: string, read: (chain: SnapshotManifest[] | undefined) => Promise<T>, failed: (result: T) => boolean = () => false): Promise<T> {
    const resolve = async (): Promise<{ chain?: SnapshotManifest[]; links: string }> => {
      try {
        const chain = await resolveChain(this.ctx, id);
        return { chain, links: chain.map((m) => `${m.id}:${m.generation}:${m.checksum}`).join(' ') };
      } catch (err) {
        return { links: `unreadable: ${err instanceof Error ? err.message : String(err)}` };
      }
    };
    // A chain rewritten during every attempt is reported as what it is (BUSY), never as damage.
    const busy = (cause?: unknown): QuiverError =>
      new QuiverError('BUSY', `snapshot ${id}: another writer rewrote its chain (a fold or a delete) while each of ${READ_ATTEMPTS} reads ran; nothing is known to be damaged: try again once that writer is idle`, { id }, { cause });
    for (let attempt = 1; ; attempt++) {
      const before = await resolve();
      let result: T;
      try {
        result = await read(before.chain);
      } catch (err) {
        const ours = err instanceof QuiverError && (err.code === 'ABORTED' || err.code === 'NOT_FOUND' && (err.details as { id?: unknown }).id === id);
        if (ours) throw err;
        const after = await resolve();
        if (after.links === before.links) throw err;
        // BUSY only for a chain seen rewritten: a chain that could not be read (a failing store) is that failure.
        if (attempt >= READ_ATTEMPTS) throw before.chain && after.chain ? busy(err) : err;
        continue;
      }
      if (!failed(result)) return result;
      const after = await resolve();
      if (after.links === before.links) return result;
      if (attempt >= READ_ATTEMPTS) {
        if (before.chain && after.chain) throw busy();
        return result;
      }
    }
  }

  /**
   * Restores snapshot `id` into an existing database (same dimension and metric): everything is read
   * and verified first, then swapped in at once. On any failure `db` is left exactly as it was; writes
   * made to `db` while the restore runs are replaced by the snapshot's state.
   */
  async restoreSnapshotInto(id: string, db: VectorDB, options: RestoreOptions = {}): Promise<SnapshotInfo> {
    checkSnapshotId(id);
    checkDb(db, 'restoreSnapshotInto(db)');
    const progress = new ProgressReporter('restore', 1, options.onProgress);
    const info = await this.lock.read(() => this.readChainSteadily(id, async (resolved) => {
      const chain = resolved ?? (await resolveChain(this.ctx, id));
      const m = chain[0];
      if (m.dimension !== db.dimension) {
        throw new QuiverError('DIMENSION_MISMATCH', `snapshot ${id} holds ${m.dimension}-dimensional vectors but the database stores ${db.dimension}-dimensional ones; restore into a database of dimension ${m.dimension} (or restore it as a new database with SnapshotManager.restoreSnapshot)`, { expected: db.dimension, actual: m.dimension });
      }
      if (m.metric !== db.metric) {
        throw new QuiverError('INVALID_ARGUMENT', `snapshot ${id} was taken with metric '${m.metric}' but the database uses '${db.metric}'; restore into a database created with metric '${m.metric}' (or restore it as a new database with SnapshotManager.restoreSnapshot)`, { expected: db.metric, actual: m.metric });
      }
      await this.stageInto(chain, db, { ...options, onProgress: progress.child(0, 1) });
      return infoOf(m);
    }));
    progress.finish(`restored ${info.vectorCount} entries from snapshot ${id}`);
    return info;
  }

  /**
   * True when every file of the snapshot and of its base chain verifies (reference 002's
   * `verify_snapshot`). Damage gives false, never an exception; a missing id is NOT_FOUND.
   * {@link verifySnapshotReport} names the bad files.
   */
  async verifySnapshot(id: string, options: VerifyOptions = {}): Promise<boolean> {
    return (await this.verifySnapshotReport(id, options)).ok;
  }

  /** Checks every file of the snapshot and its chain and reports each; never throws for damage, only for a missing id. */
  verifySnapshotReport(id: string, options: VerifyOptions = {}): Promise<VerifyReport> {
    try {
      checkSnapshotId(id);
    } catch (err) {
      return Promise.reject(err);
    }
    // One reporter for the call, as for restoreSnapshot.
    const progress = new ProgressReporter('verify', 1, options.onProgress);
    return this.lock.read(() => this.readChainSteadily(id, () => verifySnapshotChain(this.ctx, id, progress.child(0, 1), options.signal), (report) => !report.ok)).then((report) => {
      progress.finish(`verified ${report.files.length} files`);
      return report;
    });
  }

  /**
   * Deletes a snapshot. Snapshots built on it are refused (SnapshotDependencyError, code BUSY) unless
   * `dependents` is 'cascade' (delete them too) or 'fold' (rewrite direct dependents as full first).
   */
  deleteSnapshot(id: string, options: DeleteSnapshotOptions = {}): Promise<DeleteResult> {
    try {
      checkSnapshotId(id);
      const policy = options.dependents ?? 'refuse';
      if (!['refuse', 'cascade', 'fold'].includes(policy)) throw new QuiverError('INVALID_ARGUMENT', `options.dependents must be 'refuse', 'cascade' or 'fold', got ${JSON.stringify(policy)}`);
      return this.exclusive(async () => {
        const cat = await loadCatalog(this.ctx, options.signal);
        const known = cat.snapshots.some((s) => s.id === id) || cat.damaged.has(id) || cat.incomplete.has(id);
        if (!known) throw new QuiverError('NOT_FOUND', `snapshot ${id} does not exist in ${this.store.location}`, { id });
        const deps = dependentsOf(cat.snapshots, id);
        const result: DeleteResult = { deleted: [], folded: [] };
        const progress = new ProgressReporter('delete', deps.all.length + 1, options.onProgress);
        if (deps.all.length > 0 && policy === 'refuse') throw new SnapshotDependencyError(id, deps.all.map((d) => d.id));
        if (cat.damaged.size > 0 && (await basesOfDamaged(this.ctx, cat, options.signal)).has(id)) {
          const damaged = [...cat.damaged.keys()];
          throw new QuiverError('BUSY', `snapshot ${id} may be the base of damaged snapshot(s) ${damaged.join(', ')} (their metadata.json fails its checks; see catalog()), which could not be restored without it once mended; delete or mend those first`, { id, damaged });
        }
        try {
          if (policy === 'fold') {
            for (const d of deps.direct) {
              await foldIntoFull(this.ctx, d, options.signal);
              result.folded.push(d.id);
              progress.advance(1, `folded ${d.id} into a full snapshot`);
            }
          }
          // The deletions are checked for an abort once, before the first: ABORTED means nothing was
          // deleted, so once they start they run to the end (each is quick).
          checkAbort(options.signal, 'the deletion');
        } catch (err) {
          throw abortedAfterFolds(err, result.folded);
        }
        // Nor does a progress callback that throws stop them half-way (it becomes a warning).
        progress.irreversible();
        if (policy === 'cascade') {
          for (const dep of deepestFirst(deps.all.map((d) => d.id), cat.snapshots)) {
            await deleteOne(this.ctx, dep);
            result.deleted.push(dep);
            progress.advance(1, `deleted ${dep}`);
          }
        }
        await deleteOne(this.ctx, id);
        result.deleted.push(id);
        progress.finish(`deleted ${result.deleted.length} snapshot(s)`);
        return result;
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Keeps the `keep` newest snapshots (plus bases they need) and deletes the rest; returns how many were deleted. */
  async cleanupOldSnapshots(keep: number): Promise<number> {
    if (!Number.isSafeInteger(keep) || keep < 1) throw new QuiverError('INVALID_ARGUMENT', `cleanupOldSnapshots(keep) needs a whole number >= 1, got ${String(keep)}`);
    return (await this.prune({ keepLast: keep })).deleted.length;
  }

  /**
   * Applies a retention policy (see applyRetention) and physically deletes what it removes, dependents
   * before bases, then collects garbage. With `dryRun` (option or policy) nothing is deleted.
   */
  prune(policy: RetentionPolicy, options: PruneOptions = {}): Promise<PruneResult> {
    // A mistyped dryRun must never delete (as policy.dryRun; see applyRetention).
    try {
      optionalBoolean(options.dryRun, 'prune options.dryRun');
    } catch (err) {
      return Promise.reject(err);
    }
    const protect = options.protect ?? [];
    if (!Array.isArray(protect) || !protect.every((id) => typeof id === 'string')) return Promise.reject(new QuiverError('INVALID_ARGUMENT', 'prune options.protect must be an array of snapshot ids'));
    return this.exclusive(async () => {
      const cat = await loadCatalog(this.ctx, options.signal);
      const inputs = cat.snapshots.map((m) => ({ id: m.id, createdAt: m.createdAt, type: m.type, baseId: m.baseId, pinned: m.pinned, tags: m.tags }));
      const decision = applyRetention(inputs, policy, options.now ?? Date.now());
      // A damaged snapshot is never removed automatically, nor is a base it may still need.
      const needed = await basesOfDamaged(this.ctx, cat, options.signal);
      if (needed.size > 0) keepNeeded(decision, needed, cat);
      if (protect.length > 0) keepNeeded(decision, withBases(protect, cat.snapshots), cat, 'protected');
      const dryRun = options.dryRun === true || policy.dryRun === true;
      const deleted: string[] = [];
      const progress = new ProgressReporter('prune', Math.max(1, decision.remove.length), options.onProgress);
      if (!dryRun) {
        const kept = new Set(decision.keep);
        const order = deepestFirst(decision.remove, cat.snapshots);
        // Checked once, before the first deletion: ABORTED means nothing was deleted (see deleteSnapshot).
        checkAbort(options.signal, 'the cleanup');
        progress.irreversible();
        for (const id of order) {
          // Retention never removes a base a kept snapshot needs; re-check before an irreversible step.
          if (dependentsOf(cat.snapshots, id).all.some((d) => kept.has(d.id))) continue;
          await deleteOne(this.ctx, id);
          deleted.push(id);
          progress.advance(1, `deleted ${id}`);
        }
        await collectGarbage(this.ctx, Date.now() - this.ctx.gcGraceMs, this.inFlight);
      }
      progress.finish(dryRun ? `would delete ${decision.remove.length} snapshot(s)` : `deleted ${deleted.length} snapshot(s)`);
      return { ...decision, deleted, dryRun };
    });
  }

  /** Removes interrupted snapshots and leftovers older than `gcGraceMs` (or `graceMs`). */
  collectGarbage(graceMs = this.ctx.gcGraceMs): Promise<GcResult> {
    if (!Number.isFinite(graceMs) || graceMs < 0) return Promise.reject(new QuiverError('INVALID_ARGUMENT', `graceMs must be a number >= 0, got ${String(graceMs)}`));
    return this.exclusive(() => collectGarbage(this.ctx, Date.now() - graceMs, this.inFlight));
  }

  /** Total bytes of every object under the snapshot root (complete or not). */
  async totalSize(): Promise<number> {
    return (await this.store.list(SNAPSHOT_PREFIX)).reduce((s, o) => s + o.size, 0);
  }

  /** Changes a snapshot's name, pin, tags or user metadata (rewrites metadata.json atomically). */
  updateSnapshot(id: string, update: SnapshotUpdate): Promise<SnapshotInfo> {
    try {
      checkSnapshotId(id);
      if (update === null || typeof update !== 'object') throw new TypeError('updateSnapshot needs an object { name?, pinned?, tags?, metadata? }');
      const next: Partial<SnapshotManifest> = {};
      if (update.name !== undefined) next.name = checkSnapshotName(update.name);
      if (update.pinned !== undefined) {
        if (typeof update.pinned !== 'boolean') throw new QuiverError('INVALID_ARGUMENT', 'update.pinned must be a boolean');
        next.pinned = update.pinned;
      }
      if (update.tags !== undefined) next.tags = checkTags(update.tags);
      if (update.metadata !== undefined) next.metadata = checkUserMetadata(update.metadata);
      return this.queue.run(async () => {
        const m = { ...(await readManifest(this.ctx, id)), ...next };
        await this.store.put(snapshotKey(id, MANIFEST_NAME), encodeManifest(m));
        return infoOf(m);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Takes snapshots of `options.db` every `options.every`; see SnapshotSchedule. */
  schedule(options: ScheduleOptions): SnapshotSchedule {
    return new SnapshotSchedule(this, options);
  }

  // ---- internals ------------------------------------------------------------------------------

  private request(name: string, metadata: Record<string, unknown> | undefined, options: CreateSnapshotOptions): Omit<CreateRequest, 'progress'> {
    const n = checkSnapshotName(name);
    const md = checkUserMetadata(metadata ?? {});
    if (options.pinned !== undefined && typeof options.pinned !== 'boolean') throw new QuiverError('INVALID_ARGUMENT', 'options.pinned must be a boolean');
    const tags = options.tags === undefined ? [] : checkTags(options.tags);
    checkAbort(options.signal, 'the snapshot');
    const { id, createdAt } = newSnapshotId();
    return { id, createdAt, name: n, metadata: md, pinned: options.pinned ?? false, tags, signal: options.signal };
  }

  /** Synchronously takes what an incremental needs: the change view when the base is known, else a full image. */
  private take(db: VectorDB, baseId: string): TakenState {
    const known = this.lineage.get(db)?.get(baseId);
    const count = db.len();
    if (known && known.depth + 1 <= this.ctx.maxChainDepth) {
      let changes: ChangeImage | undefined;
      try {
        changes = db.openChanges(known.seq);
      } catch {
        changes = undefined; // history trimmed or replaced since: fall back to the content diff
      }
      if (changes) return { changes, count };
    }
    return { image: db.openWriterImage(), count };
  }

  private run(req: CreateRequest, view: CollectionImage, work: () => Promise<SnapshotManifest>, done: (m: SnapshotManifest) => void, also?: CollectionImage): Promise<SnapshotInfo> {
    this.inFlight.add(req.id);
    const p = this.queue.run(async () => {
      await this.autoGc();
      const m = await work();
      done(m);
      req.progress.finish(`snapshot ${m.id} written (${m.sizeBytes} bytes)`);
      return infoOf(m);
    });
    return p.finally(() => {
      view.release();
      also?.release();
      this.inFlight.delete(req.id);
    });
  }

  private remember(db: VectorDB, m: SnapshotManifest, seq: number): void {
    let map = this.lineage.get(db);
    if (!map) this.lineage.set(db, (map = new Map()));
    map.set(m.id, { seq, depth: m.chainDepth });
    if (map.size > LINEAGE_LIMIT) map.delete(map.keys().next().value as string);
    // The fast incremental path needs the changes since the oldest snapshot remembered, none older.
    let oldest = seq;
    for (const l of map.values()) oldest = Math.min(oldest, l.seq);
    db.keepChangesSince(this, oldest);
  }

  private async stageInto(chain: SnapshotManifest[], db: VectorDB, options: RestoreOptions): Promise<void> {
    const progress = new ProgressReporter('restore', Math.max(1, chainBytes(chain)), options.onProgress);
    progress.countItems(chain[0].vectorCount);
    const columns = await stageChain(this.ctx, chain, { verify: optionalBoolean(options.verifyChecksum, 'options.verifyChecksum') ?? this.ctx.verifyChecksum, signal: options.signal, progress });
    checkAbort(options.signal, 'the restore');
    db.replaceAll(columns);
    this.remember(db, chain[0], db.seq);
    progress.finish(`restored ${columns.ids.length} entries from snapshot ${chain[0].id}`);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(() => this.lock.write(fn));
  }

  /** Once per manager, before its first snapshot: clear out what crashed writers left (errors ignored). */
  private async autoGc(): Promise<void> {
    if (this.autoGcDone) return;
    this.autoGcDone = true;
    await this.lock.write(() => collectGarbage(this.ctx, Date.now() - this.ctx.gcGraceMs, this.inFlight)).catch(() => undefined);
  }
}

export { SnapshotDependencyError };
