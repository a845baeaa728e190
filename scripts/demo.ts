/**
 * `npm run demo`: builds a collection from 778 real sentence embeddings (plus generated vectors for
 * scale), saves and loads it in every format and compression, checks every load bit-for-bit, shows an
 * incremental save, and prints a table of sizes and times.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { VectorDB, DatabasePersistence, formatFileSize, type PersistenceFormat, type CompressionType } from '../src/index.js';
import { loadFioriEmbeddings, clusteredDataset } from '../support/datasets.js';

const extra = Number(process.argv[2] ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'quiver-demo-'));
const fiori = loadFioriEmbeddings();
const db = new VectorDB({ dimension: 384, metric: 'cosine' });

await db.insertBatch(fiori.ids.map((id, i) => ({ id, vector: fiori.vectors.subarray(i * 384, (i + 1) * 384), metadata: fiori.metadata[i] })));
const gen = clusteredDataset(extra, 384, 3);
for (let i = 0; i < extra; i++) {
  // Un-awaited inserts, as many users write them: each is applied before insert() returns.
  void db.insert({ id: `gen-${i}`, vector: gen.vectors.subarray(i * 384, (i + 1) * 384), metadata: gen.metadata[i] });
}
console.log(`Collection: ${fiori.ids.length} real all-MiniLM-L6-v2 embeddings of SAP Fiori docs + ${extra} generated, ${db.len()} x 384 (cosine)\n`);

const probe = 5;
const query = fiori.vectors.subarray(probe * 384, (probe + 1) * 384);
const before = db.search({ vector: query, k: 3, filter: { category: fiori.metadata[probe]!.category } });
console.log(`Nearest documents to "${fiori.titles[probe]}" (same category):`);
for (const r of before) console.log(`  ${r.score.toFixed(4)}  ${String(r.metadata?.title)}`);
console.log('');

function sameContents(a: VectorDB, b: VectorDB): boolean {
  if (a.len() !== b.len()) return false;
  for (const e of a) {
    const o = b.get(e.id);
    if (!o) return false;
    const x = new Uint8Array(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength);
    const y = new Uint8Array(o.vector.buffer, o.vector.byteOffset, o.vector.byteLength);
    if (Buffer.compare(x, y) !== 0 || JSON.stringify(e.metadata) !== JSON.stringify(o.metadata)) return false;
  }
  return true;
}

const rows: string[][] = [];
const formats: [PersistenceFormat, CompressionType][] = [
  ['binary', 'none'],
  ['binary', 'gzip'],
  ['binary', 'brotli'],
  ['json', 'none'],
  ['json', 'gzip'],
  ['json', 'brotli'],
  ['sqlite', 'none'],
];
for (const [format, compression] of formats) {
  const p = new DatabasePersistence(db, { baseDir: dir, format, compression });
  const t0 = performance.now();
  const path = await p.save();
  const saveMs = performance.now() - t0;
  const copy = new VectorDB({ dimension: 384, metric: 'cosine' });
  const t1 = performance.now();
  await new DatabasePersistence(copy, { baseDir: dir }).load({ path });
  const loadMs = performance.now() - t1;
  const after = copy.search({ vector: query, k: 3, filter: { category: fiori.metadata[probe]!.category } });
  const ok = sameContents(db, copy) && after.map((r) => r.id).join() === before.map((r) => r.id).join();
  rows.push([format, compression, formatFileSize(statSync(path).size), `${saveMs.toFixed(0)} ms`, `${loadMs.toFixed(0)} ms`, ok ? 'bit-exact' : 'MISMATCH']);
}

// Incremental save: change 1% and write only the delta.
const p = new DatabasePersistence(db, { baseDir: join(dir, 'inc'), format: 'binary' });
const base = await p.save();
const changed = Math.round(db.len() / 100);
for (let i = 0; i < changed; i++) void db.updateMetadata(`gen-${i}`, { title: `edited ${i}` });
const t2 = performance.now();
const delta = await p.saveIncremental();
const deltaMs = performance.now() - t2;

const head = ['format', 'compression', 'size', 'save', 'load', 'round trip'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log(`\nIncremental: ${changed} of ${db.len()} entries changed -> delta ${formatFileSize(statSync(delta ?? base).size)} in ${deltaMs.toFixed(0)} ms (full file ${formatFileSize(statSync(base).size)})`);
rmSync(dir, { recursive: true, force: true });
if (rows.some((r) => r[5] === 'MISMATCH')) {
  console.error('A round trip did not reproduce the database.');
  process.exit(1);
}
