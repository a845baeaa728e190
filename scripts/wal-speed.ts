/**
 * Prints write-ahead log append rates on the real file system: single 384-d upserts (string id, small
 * metadata) with 1 and 32 concurrent writers, in each durability mode, next to the raw cost of one
 * small write + fsync. Also the replay rate of the log written. Not a test: run it to see the numbers.
 *
 *   npx tsc -p tsconfig.json && node build/scripts/wal-speed.js [seconds per case] [directory]
 */
import { mkdtempSync, rmSync, openSync, writeSync, fsyncSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs } from '../src/env/node-fs.js';
import { readWal } from '../src/wal/reader.js';
import type { Durability } from '../src/wal/types.js';
import { WalWriter } from '../src/wal/writer.js';

const seconds = Number(process.argv[2] ?? 2);
const root = mkdtempSync(join(process.argv[3] ?? tmpdir(), 'quiver-wal-speed-'));
const DIM = 384;

function vector(i: number): Float32Array {
  const v = new Float32Array(DIM);
  for (let d = 0; d < DIM; d++) v[d] = Math.sin(i + d * 0.01);
  return v;
}

/** Sequential small write + fsync rate: the ceiling of a single writer that fsyncs every record. */
function rawFsyncRate(): number {
  const path = join(root, 'raw');
  const fd = openSync(path, 'w');
  const rec = new Uint8Array(DIM * 4 + 64);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    writeSync(fd, rec);
    fsyncSync(fd);
    n++;
  }
  closeSync(fd);
  return n / ((performance.now() - t0) / 1000);
}

async function appendRate(durability: Durability, writers: number): Promise<{ rate: number; appends: number; dir: string }> {
  const dir = join(root, `${durability}-${writers}`);
  const w = await WalWriter.open(nodeFs, dir, { durability });
  let appends = 0;
  const vectors = Array.from({ length: 64 }, (_, i) => vector(i));
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const loop = async (k: number): Promise<void> => {
    for (let i = 0; performance.now() < deadline; i++) {
      await w.append({ type: 'upsert', id: `doc-${k}-${i}`, vector: vectors[i & 63], metadata: { writer: k, i, tag: 'bench' } });
      appends++;
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, k) => loop(k)));
  const elapsed = (performance.now() - t0) / 1000;
  await w.close();
  return { rate: appends / elapsed, appends, dir };
}

async function replayRate(dir: string, batched: boolean): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  const reader = readWal(nodeFs, dir);
  if (batched) for await (const b of reader.batches()) n += b.length;
  else for await (const e of reader) if (e.seq > 0) n++;
  return n / ((performance.now() - t0) / 1000);
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
try {
  console.log(`raw write+fsync of one ${DIM * 4 + 64}-byte record: ${fmt(rawFsyncRate())}/s`);
  let biggest = { appends: 0, dir: '' };
  for (const durability of ['sync', 'interval', 'none'] as const) {
    for (const writers of [1, 32]) {
      const r = await appendRate(durability, writers);
      console.log(`${durability.padEnd(8)} ${String(writers).padStart(2)} writer(s): ${fmt(r.rate).padStart(9)} appends/s (${r.appends} appends)`);
      if (r.appends > biggest.appends) biggest = r;
    }
  }
  console.log(`replay, per record: ${fmt(await replayRate(biggest.dir, false))} records/s (${biggest.appends} records of ${DIM}-d)`);
  console.log(`replay, batches():  ${fmt(await replayRate(biggest.dir, true))} records/s`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
