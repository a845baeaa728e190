/**
 * verifySnapshot: checks every file of a snapshot and of its base chain and names each bad one.
 * metadata.json is checked against its own SHA-256, the checksum file against metadata.json, and every
 * data file's size and SHA-256 against those two. Files are hashed concurrently (bounded by ctx.io).
 * Damage (missing, short or mismatching files, undecodable manifests) is reported; a store that cannot be read
 * (an OS error) or a cancel is thrown with its code.
 */
import { QuiverError, isIoFailure } from '../errors.js';
import { ProgressReporter, type ProgressCallback } from '../util/progress.js';
import { readChecksums, readManifest } from './catalog.js';
import { MAX_CHAIN_WALK, type SnapshotContext } from './context.js';
import { hashObject, missingFile } from './file-reader.js';
import { MANIFEST_NAME, snapshotKey } from './layout.js';
import type { SnapshotManifest } from './manifest.js';
import type { VerifiedFile, VerifyReport } from './types.js';

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Throws failures that say nothing about the snapshot's bytes: the store could not be read (isIoFailure),
 * or the work was stopped. They are not damage: a caller that deletes what fails to verify must not
 * delete a good snapshot because of a passing EIO.
 */
function throwIfNotDamage(err: unknown): void {
  if (isIoFailure(err) || (err instanceof QuiverError && (err.code === 'ABORTED' || err.code === 'CLOSED'))) throw err;
}

/** Verifies snapshot `id` and its chain. NOT_FOUND only when `id` itself does not exist. */
export async function verifySnapshotChain(ctx: SnapshotContext, id: string, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<VerifyReport> {
  const files: VerifiedFile[] = [];
  const chain: string[] = [];
  const links: { m: SnapshotManifest; sums?: Map<string, string>; sumsError?: string }[] = [];
  for (let cur: string | undefined = id; cur !== undefined; ) {
    if (chain.includes(cur) || chain.length > MAX_CHAIN_WALK) {
      files.push({ name: ctx.store.locate(snapshotKey(chain[chain.length - 1], MANIFEST_NAME)), snapshotId: chain[chain.length - 1], ok: false, error: `the chain loops back to ${cur}` });
      break;
    }
    chain.push(cur);
    const name = snapshotKey(cur, MANIFEST_NAME);
    let m: SnapshotManifest;
    try {
      m = await readManifest(ctx, cur);
    } catch (err) {
      throwIfNotDamage(err);
      if (cur === id && err instanceof QuiverError && err.code === 'NOT_FOUND') throw err;
      const why = err instanceof QuiverError && err.code === 'NOT_FOUND' ? `missing: base snapshot ${cur} of ${chain[chain.length - 2]} does not exist` : message(err);
      files.push({ name, snapshotId: cur, ok: false, error: why });
      break;
    }
    files.push({ name, snapshotId: cur, ok: true });
    const link: (typeof links)[number] = { m };
    const sumsName = snapshotKey(cur, m.checksumFile);
    try {
      link.sums = await readChecksums(ctx, m);
      files.push({ name: sumsName, snapshotId: cur, ok: true });
    } catch (err) {
      throwIfNotDamage(err);
      link.sumsError = message(err);
      files.push({ name: sumsName, snapshotId: cur, ok: false, error: link.sumsError });
    }
    links.push(link);
    cur = m.type === 'incremental' ? m.baseId : undefined;
  }

  const total = links.reduce((s, l) => s + l.m.files.reduce((t, f) => t + f.bytes, 0), 0);
  const progress = new ProgressReporter('verify', total, onProgress);
  // Counted in bytes also when reporting into a caller's reporter (SnapshotManager's, one per call).
  progress.countItems(total);
  let done = 0;
  const jobs = links.flatMap((l) => l.m.files.map((f) => ({ l, f })));
  const results = await ctx.io.map(jobs, async ({ l, f }): Promise<VerifiedFile> => {
    const key = snapshotKey(l.m.id, f.name);
    const entry: VerifiedFile = { name: key, snapshotId: l.m.id, ok: false };
    try {
      const got = await hashObject(ctx.store, key, signal, (n) => {
        done += n;
        progress.update(done, `verifying ${key}`);
      });
      const want = l.sums?.get(f.name);
      if (got.bytes !== f.bytes) entry.error = `size mismatch: ${got.bytes} bytes, metadata.json records ${f.bytes}`;
      else if (want === undefined) entry.error = `not verifiable: ${l.m.checksumFile} is damaged (${l.sumsError ?? 'unknown'})`;
      else if (got.sha256 !== want) entry.error = `checksum mismatch: ${l.m.checksumFile} records SHA-256 ${want}, the file hashes to ${got.sha256}`;
      else entry.ok = true;
    } catch (err) {
      throwIfNotDamage(err);
      entry.error = message(missingFile(ctx.store, key, err));
    }
    return entry;
  });
  files.push(...results);
  progress.finish(`verified ${files.length} files`);
  return { id, ok: files.every((f) => f.ok), chain, files };
}
