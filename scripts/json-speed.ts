/**
 * Prints save and load times of the JSON state format for N x 384 (default 100,000) next to the raw
 * write+fsync / read baseline of the same vector bytes. Not a test: run it to see where JSON stands.
 *
 *   npx tsc -p tsconfig.json && node build/scripts/json-speed.js [count] [none|gzip|brotli] [rounds]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CollectionImage } from '../src/engine/types.js';
import { nodeFs } from '../src/env/node-fs.js';
import { readJsonState, writeJsonState, type JsonCompression } from '../src/format/json/index.js';
import { clusteredDataset } from '../support/datasets.js';
import { rawBaseline } from '../bench/raw.js';

const count = Number(process.argv[2] ?? 100_000);
const compression = (process.argv[3] ?? 'none') as JsonCompression;
const rounds = Number(process.argv[4] ?? 3);
const dim = 384;

const data = clusteredDataset(count, dim, 42);
const image: CollectionImage = {
  dimension: dim,
  metric: data.metric,
  seq: count,
  count,
  ids: data.ids,
  metadata: data.metadata,
  *vectorChunks(max: number) {
    for (let i = 0; i < count; i += max) yield data.vectors.subarray(i * dim, Math.min(count, i + max) * dim);
  },
  release() {},
};

const dir = mkdtempSync(join(tmpdir(), 'quiver-json-speed-'));
try {
  const vectorBytes = new Uint8Array(data.vectors.buffer, data.vectors.byteOffset, data.vectors.byteLength);
  const raw = rawBaseline(join(dir, 'raw.bin'), vectorBytes, 3);
  const path = join(dir, 'state.json');
  const saves: number[] = [];
  const loads: number[] = [];
  const saveCpu: number[] = [];
  const loadCpu: number[] = [];
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1000;
  };
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    let c = process.cpuUsage();
    await writeJsonState(nodeFs, path, image, { compression });
    saves.push(performance.now() - t);
    saveCpu.push(cpuMs(c));
    t = performance.now();
    c = process.cpuUsage();
    const back = await readJsonState(nodeFs, path, { compression });
    loads.push(performance.now() - t);
    loadCpu.push(cpuMs(c));
    if (back.kind !== 'full' || back.columns.ids.length !== count) throw new Error('load returned the wrong state');
    const a = new Uint32Array(back.columns.vectors.buffer, back.columns.vectors.byteOffset, back.columns.vectors.length);
    const b = new Uint32Array(data.vectors.buffer, data.vectors.byteOffset, data.vectors.length);
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`vector bits differ at float ${i}`);
  }
  const best = (xs: number[]) => Math.min(...xs);
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const size = statSync(path).size;
  console.log(`JSON state, ${count} x ${dim}, compression ${compression}: file ${mb(size)} MB, vectors ${mb(vectorBytes.length)} MB`);
  console.log(`raw baseline: write+fsync ${raw.writeMs.toFixed(0)} ms, read ${raw.readMs.toFixed(0)} ms`);
  const all = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(`save: best ${best(saves).toFixed(0)} ms (${(best(saves) / raw.writeMs).toFixed(1)}x raw write)  all: ${all(saves)}  cpu (all threads): ${all(saveCpu)}`);
  console.log(`load: best ${best(loads).toFixed(0)} ms (${(best(loads) / raw.readMs).toFixed(1)}x raw read)  all: ${all(loads)}  cpu (all threads): ${all(loadCpu)}`);
  console.log(`machine load average (1 min): ${loadavg()[0].toFixed(2)} on ${availableParallelism()} cores`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
