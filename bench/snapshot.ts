/**
 * Issue-5 figures: full snapshots (none and gzip) and their restores next to raw write and read of
 * the same vector bytes, an incremental snapshot after changing 1% of the entries (bytes and time
 * against the full one), the content-diff incremental of a database the manager has not seen, and the
 * restore of a 5-link chain; then the same full snapshot, restore and incremental against an S3 bucket
 * on a local S3 server.
 *
 * `benchSnapshots(report, settings)` is wired into bench/main.ts; `node build/bench/snapshot.js
 * [--n N] [--rounds R] [--json]` runs it alone.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { VectorDB } from '../src/engine/vector-db.js';
import { SnapshotManager } from '../src/snapshot/manager.js';
import { S3SnapshotStore } from '../src/storage/s3-store.js';
import { startLocalS3 } from '../support/local-s3.js';
import type { SnapshotInfo } from '../src/snapshot/types.js';
import { clusteredDataset, prng } from '../support/datasets.js';
import type { BenchSettings } from './persistence.js';
import { RawIo, rawBaseline } from './raw.js';
import { pairedExtra, Report, settleFs, timeMedian, timePaired } from './report.js';

/** Changes `fraction` of the entries of `db` (new vectors and metadata for existing ids). */
async function changeEntries(db: VectorDB, n: number, fraction: number, seed: number): Promise<void> {
  const rnd = prng(seed);
  const dim = db.dimension;
  const count = Math.max(1, Math.round(n * fraction));
  for (let i = 0; i < count; i++) {
    const j = Math.floor(rnd() * n);
    const v = new Float32Array(dim);
    for (let d = 0; d < dim; d++) v[d] = rnd() - 0.5;
    await db.insert({ id: `doc-${j}`, vector: v, metadata: { title: `changed ${j}`, seed } });
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  await settleFs();
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Runs the snapshot suite into `report`. */
export async function benchSnapshots(report: Report, s: BenchSettings): Promise<void> {
  const suite = 'snapshot';
  const dir = join(s.dir, 'snapshot');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const data = clusteredDataset(s.n, s.dim, 7);
  const vectorBytes = new Uint8Array(data.vectors.buffer, data.vectors.byteOffset, data.vectors.byteLength);
  const raw = rawBaseline(join(dir, 'raw.bin'), vectorBytes, Math.max(3, s.rounds));
  // Snapshots accumulate (none is deleted between rounds), so the baseline keeps its files too.
  const io = new RawIo(join(dir, 'raw-paired.bin'), vectorBytes, 'keep');
  const mb = vectorBytes.length / 1e6;
  report.add({ suite, name: `raw write+fsync ${mb.toFixed(1)} MB (new file)`, value: raw.writeMs, unit: 'ms' });
  report.add({ suite, name: `raw read ${mb.toFixed(1)} MB`, value: raw.readMs, unit: 'ms' });
  const db = new VectorDB({ dimension: s.dim, metric: 'cosine' });
  db.replaceAll({ ...data, vectors: data.vectors.slice() });

  const fulls: Record<string, { ms: number; info: SnapshotInfo; manager: SnapshotManager }> = {};
  for (const compression of ['none', 'gzip'] as const) {
    const manager = new SnapshotManager({ snapshotDir: join(dir, compression), compression });
    let info: SnapshotInfo | undefined;
    const rounds = compression === 'none' ? s.pairedRounds : 1;
    const full = await timePaired(rounds, () => io.write(), async () => {
      info = await manager.createSnapshot(db, `full ${compression}`);
    });
    if (!info) throw new Error('no snapshot');
    const ms = full.ms;
    fulls[compression] = { ms, info, manager };
    report.ratio(suite, `full snapshot (${compression}, durable)`, ms, 'ms', full.rawMs, 'raw write, new file, same rounds', compression === 'none' ? 1.5 : undefined, pairedExtra(full, { bytes: info.sizeBytes }));
    let restored: VectorDB | undefined;
    const restore = await timePaired(rounds, () => io.read(), async () => {
      restored = await manager.restoreSnapshot((info as SnapshotInfo).id);
    });
    if (restored?.len() !== s.n) throw new Error(`restore returned ${restored?.len()} entries`);
    report.ratio(suite, `restore full (${compression}, verified) until searchable`, restore.ms, 'ms', restore.rawMs, 'raw read, same rounds', compression === 'none' ? 2 : undefined, pairedExtra(restore));
  }

  // Incremental after changing 1% of the entries, same compression as the full one it is measured against.
  const { manager, info: base, ms: fullMs } = fulls.none;
  await changeEntries(db, s.n, 0.01, 1);
  const inc = await timed(() => manager.createIncrementalSnapshot(db, 'inc 1%', base.id));
  report.add({ suite, name: 'incremental after 1% changes: time', value: inc.ms, unit: 'ms', baseline: fullMs, baselineName: 'full snapshot', target: '≤ 0.1×', ratio: inc.ms / fullMs, pass: inc.ms / fullMs <= 0.1 });
  report.add({ suite, name: 'incremental after 1% changes: bytes', value: inc.value.sizeBytes, unit: 'B', baseline: base.sizeBytes, baselineName: 'full snapshot', target: '≤ 0.03×', ratio: inc.value.sizeBytes / base.sizeBytes, pass: inc.value.sizeBytes / base.sizeBytes <= 0.03 });
  // The same change found by content hashes (a manager that did not take the base from this db object).
  const other = new SnapshotManager({ snapshotDir: join(dir, 'none'), compression: 'none' });
  const diff = await timed(() => other.createIncrementalSnapshot(db, 'inc by content diff', base.id));
  report.add({ suite, name: 'incremental by content diff (other process): time', value: diff.ms, unit: 'ms', baseline: fullMs, baselineName: 'full snapshot', ratio: diff.ms / fullMs, extra: { changed: diff.value.changedCount } });

  // A 5-link chain: the full base plus four 1% incrementals.
  let top = inc.value;
  for (let link = 2; link < 5; link++) {
    await changeEntries(db, s.n, 0.01, link);
    top = await manager.createIncrementalSnapshot(db, `link ${link}`, top.id);
  }
  if (top.chainDepth !== 4) throw new Error(`chain depth ${top.chainDepth}`);
  let chained: VectorDB | undefined;
  const chainMs = await timeMedian(s.rounds, async () => {
    chained = await manager.restoreSnapshot(top.id);
  });
  if (chained?.len() !== db.len()) throw new Error('chain restore returned the wrong count');
  report.ratio(suite, 'restore 5-link chain (none, verified)', chainMs, 'ms', raw.readMs, 'raw read', undefined, { bytes: top.sizeBytes });
  const gzipManager = fulls.gzip.manager;
  const verify = await timed(() => gzipManager.verifySnapshot(fulls.gzip.info.id));
  if (!verify.value) throw new Error('verify failed');
  report.ratio(suite, 'verifySnapshot (gzip full)', verify.ms, 'ms', raw.readMs, 'raw read');
  try {
    await benchRemote(report, s, db, io);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Remote storage: a full snapshot into an S3 bucket, its verified restore, and a 1% incremental on it.
 * The bucket is served by a local S3 server (s3rver, in this process, over loopback, storing its objects
 * as files), so the figures show the store's own overhead (HTTP, multipart upload, copies), not a network.
 */
async function benchRemote(report: Report, s: BenchSettings, db: VectorDB, io: RawIo): Promise<void> {
  const suite = 'snapshot';
  const s3 = await startLocalS3();
  const store = new S3SnapshotStore({ bucket: await s3.bucket('quiver-bench'), clientConfig: s3.config });
  try {
    const manager = new SnapshotManager({ store, compression: 'none' });
    const rounds = Math.min(2, s.pairedRounds);
    let info: SnapshotInfo | undefined;
    const put = await timePaired(rounds, () => io.write(), async () => {
      info = await manager.createSnapshot(db, 'full to s3');
    });
    if (!info) throw new Error('no snapshot');
    report.ratio(suite, 'full snapshot to S3 (none; local s3rver)', put.ms, 'ms', put.rawMs, 'raw write, new file, same rounds', undefined, pairedExtra(put, { bytes: info.sizeBytes }));
    let restored: VectorDB | undefined;
    const get = await timePaired(rounds, () => io.read(), async () => {
      restored = await manager.restoreSnapshot((info as SnapshotInfo).id);
    });
    if (restored?.len() !== db.len()) throw new Error(`restore from S3 returned ${restored?.len()} entries`);
    report.ratio(suite, 'restore full from S3 (none, verified; local s3rver)', get.ms, 'ms', get.rawMs, 'raw read, same rounds', undefined, pairedExtra(get));
    await changeEntries(db, s.n, 0.01, 9);
    const inc = await timed(() => manager.createIncrementalSnapshot(db, 'inc 1% to s3', (info as SnapshotInfo).id));
    report.add({ suite, name: 'incremental to S3 after 1% changes: time', value: inc.ms, unit: 'ms', baseline: put.ms, baselineName: 'full snapshot to S3', ratio: inc.ms / put.ms, extra: { bytes: inc.value.sizeBytes } });
  } finally {
    store.close();
    await s3.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const arg = (name: string, dflt: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const n = arg('--n', 5000);
  const dir = join(process.env.QUIVER_BENCH_DIR ?? tmpdir(), `quiver-bench-snap-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const report = new Report({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, n, dim: 384 });
  try {
    await benchSnapshots(report, { n, dim: arg('--dim', 384), rounds: arg('--rounds', 3), pairedRounds: arg('--rounds', 3), queries: 0, dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report.print();
  if (args.includes('--json')) process.stdout.write(JSON.stringify(report.toJSON(), null, 2) + '\n');
}
