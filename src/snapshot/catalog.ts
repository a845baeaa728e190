/**
 * Reading the catalog: which snapshots exist (a folder with a valid metadata.json), which are damaged
 * (metadata.json present but failing its checks), which are incomplete (no metadata.json: an
 * interrupted create or delete, invisible and garbage-collected), and walking incremental chains.
 */
import { CorruptionError, QuiverError } from '../errors.js';
import { checkAbort, type StoreObjectInfo } from '../storage/store.js';
import { MAX_CHAIN_WALK, type SnapshotContext } from './context.js';
import { checkSnapshotId, timeOfId } from './ids.js';
import { idOfKey, MANIFEST_NAME, SNAPSHOT_PREFIX, snapshotKey } from './layout.js';
import { decodeManifest, MAX_MANIFEST_BYTES, parseChecksumFile, type SnapshotManifest } from './manifest.js';
import { createHash } from 'node:crypto';

/** Everything found under the snapshot prefix. */
export interface Catalog {
  /** Complete snapshots, newest first. */
  snapshots: SnapshotManifest[];
  /** Folders whose metadata.json fails its checks (never removed automatically). */
  damaged: Map<string, CorruptionError>;
  /** Folders without metadata.json, with their objects. */
  incomplete: Map<string, StoreObjectInfo[]>;
  /** Objects of every folder, by id. */
  objects: Map<string, StoreObjectInfo[]>;
}

/** Largest checksum file read (a few lines). */
const MAX_CHECKSUM_BYTES = 64 << 10;

/** Reads a small object without trusting its size: more than `max` bytes is corruption. */
async function getBounded(ctx: SnapshotContext, key: string, max: number, section: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of ctx.store.read(key, { chunkBytes: 64 << 10 })) {
    total += chunk.length;
    if (total > max) throw new CorruptionError({ file: ctx.store.locate(key), section }, `the file is larger than the ${max} bytes such a file can be`);
    parts.push(chunk);
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** Newest first: createdAt descending, ties by id ascending (the order retention uses). */
export function newestFirst(a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Reads and checks metadata.json of `id`. NOT_FOUND when the snapshot does not exist (or is incomplete). */
export async function readManifest(ctx: SnapshotContext, id: string): Promise<SnapshotManifest> {
  checkSnapshotId(id);
  const key = snapshotKey(id, MANIFEST_NAME);
  let bytes: Uint8Array;
  try {
    bytes = await getBounded(ctx, key, MAX_MANIFEST_BYTES, 'size');
  } catch (err) {
    if (err instanceof QuiverError && err.code === 'NOT_FOUND') {
      throw new QuiverError('NOT_FOUND', `snapshot ${id} does not exist in ${ctx.store.location}; listSnapshots() shows the ids there`, { id }, { cause: err });
    }
    throw err;
  }
  return decodeManifest(bytes, ctx.store.locate(key), id);
}

/** Reads the checksum file of `m`, checks it against `m.checksum`, and returns name → SHA-256. */
export async function readChecksums(ctx: SnapshotContext, m: SnapshotManifest): Promise<Map<string, string>> {
  const key = snapshotKey(m.id, m.checksumFile);
  const file = ctx.store.locate(key);
  let bytes: Uint8Array;
  try {
    bytes = await getBounded(ctx, key, MAX_CHECKSUM_BYTES, 'size');
  } catch (err) {
    if (err instanceof QuiverError && err.code === 'NOT_FOUND') throw new CorruptionError({ file, section: 'file' }, 'the checksum file is missing', 'CORRUPT', { cause: err });
    throw err;
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== m.checksum) {
    throw new CorruptionError({ file, section: 'checksum' }, `checksum mismatch: metadata.json records SHA-256 ${m.checksum}, the ${bytes.length} bytes hash to ${actual}`, 'CHECKSUM_MISMATCH');
  }
  return parseChecksumFile(bytes, file, m.files.map((f) => f.name));
}

/** Lists the store and reads every metadata.json (concurrently, bounded by ctx.io); `signal` stops it with ABORTED. */
export async function loadCatalog(ctx: SnapshotContext, signal?: AbortSignal): Promise<Catalog> {
  const objects = new Map<string, StoreObjectInfo[]>();
  for (const o of await ctx.store.list(SNAPSHOT_PREFIX, { signal })) {
    const at = idOfKey(o.key);
    if (!at) continue;
    const list = objects.get(at.id);
    if (list) list.push(o);
    else objects.set(at.id, [o]);
  }
  const snapshots: SnapshotManifest[] = [];
  const damaged = new Map<string, CorruptionError>();
  const incomplete = new Map<string, StoreObjectInfo[]>();
  const withManifest: string[] = [];
  for (const [id, objs] of objects) {
    if (objs.some((o) => o.key === `${SNAPSHOT_PREFIX}${id}/${MANIFEST_NAME}`)) withManifest.push(id);
    else incomplete.set(id, objs);
  }
  await ctx.io.map(withManifest, async (id) => {
    checkAbort(signal, 'reading the snapshot catalog');
    try {
      snapshots.push(await readManifest(ctx, id));
    } catch (err) {
      if (err instanceof QuiverError && err.code === 'NOT_FOUND') {
        incomplete.set(id, objects.get(id) ?? []); // deleted while we listed
      } else if (err instanceof CorruptionError) {
        damaged.set(id, err);
      } else {
        // An I/O error is not damage: decisions (dependents, retention) must not be taken on a partial catalog.
        throw err;
      }
    }
  });
  snapshots.sort(newestFirst);
  return { snapshots, damaged, incomplete, objects };
}

/**
 * The chain of `id`: its manifest first, then its base's, down to a full snapshot. A missing or
 * damaged link is CorruptionError naming it (NOT_FOUND when `id` itself does not exist).
 */
export async function resolveChain(ctx: SnapshotContext, id: string): Promise<SnapshotManifest[]> {
  const chain = [await readManifest(ctx, id)];
  const seen = new Set([id]);
  for (let cur = chain[0]; cur.type === 'incremental'; ) {
    const baseId = cur.baseId as string;
    if (seen.has(baseId) || chain.length > MAX_CHAIN_WALK) {
      throw new CorruptionError({ file: ctx.store.locate(snapshotKey(cur.id, MANIFEST_NAME)), section: 'baseId' }, `the chain of ${id} loops back to ${baseId}`);
    }
    seen.add(baseId);
    let base: SnapshotManifest;
    try {
      base = await readManifest(ctx, baseId);
    } catch (err) {
      if (err instanceof QuiverError && err.code === 'NOT_FOUND') {
        throw new CorruptionError({ file: ctx.store.locate(snapshotKey(baseId, MANIFEST_NAME)), section: 'chain' }, `base snapshot ${baseId} of ${cur.id} is missing, so ${id} cannot be restored`, 'CORRUPT', { cause: err });
      }
      throw err;
    }
    if (base.dimension !== cur.dimension || base.metric !== cur.metric) {
      throw new CorruptionError({ file: ctx.store.locate(snapshotKey(cur.id, MANIFEST_NAME)), section: 'chain' }, `base ${baseId} holds ${base.dimension}-d ${base.metric} vectors but ${cur.id} holds ${cur.dimension}-d ${cur.metric}`);
    }
    chain.push(base);
    cur = base;
  }
  return chain;
}

/** Ids of snapshots whose chain passes through `id` (direct and transitive dependents), newest first. */
export function dependentsOf(snapshots: readonly SnapshotManifest[], id: string): { direct: SnapshotManifest[]; all: SnapshotManifest[] } {
  const children = new Map<string, SnapshotManifest[]>();
  for (const s of snapshots) {
    if (s.type !== 'incremental') continue;
    const list = children.get(s.baseId as string);
    if (list) list.push(s);
    else children.set(s.baseId as string, [s]);
  }
  const direct = [...(children.get(id) ?? [])].sort(newestFirst);
  const all: SnapshotManifest[] = [];
  const queue = [...direct];
  const seen = new Set<string>([id]);
  while (queue.length > 0) {
    const s = queue.shift() as SnapshotManifest;
    if (seen.has(s.id)) continue;
    seen.add(s.id);
    all.push(s);
    queue.push(...(children.get(s.id) ?? []));
  }
  return { direct, all: all.sort(newestFirst) };
}

/**
 * The snapshots that a damaged one may still need as its base, so that retention keeps them: mending
 * its metadata.json (one flipped byte, say) must still find its chain. The base its damaged text still
 * names, when it names one; none when the text says it is a full snapshot; otherwise every snapshot
 * older than it (every one, when its id tells no time). Each comes with the chain below it.
 */
export async function basesOfDamaged(ctx: SnapshotContext, cat: Catalog, signal?: AbortSignal): Promise<Set<string>> {
  const needed = new Set<string>();
  for (const id of cat.damaged.keys()) {
    checkAbort(signal, 'reading the snapshot catalog');
    let text = '';
    try {
      text = Buffer.from(await getBounded(ctx, snapshotKey(id, MANIFEST_NAME), MAX_MANIFEST_BYTES, 'size')).toString('latin1');
    } catch {
      // Unreadable: nothing is known of its base.
    }
    const named = /"baseId"\s*:\s*"([A-Za-z0-9_-]{1,128})"/.exec(text)?.[1];
    if (named !== undefined) needed.add(named);
    else if (!/"type"\s*:\s*"full"/.test(text)) {
      const made = timeOfId(id);
      for (const s of cat.snapshots) if (made === undefined || s.createdAt <= made) needed.add(s.id);
    }
  }
  // A base's own chain goes with it.
  const byId = new Map(cat.snapshots.map((s) => [s.id, s]));
  for (const id of [...needed]) {
    for (let s = byId.get(id); s?.type === 'incremental' && s.baseId !== undefined && !needed.has(s.baseId); s = byId.get(s.baseId)) needed.add(s.baseId);
  }
  return needed;
}
