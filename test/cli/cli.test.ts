import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { formatForPath, importFile } from '../../src/interchange/index.js';
import { nodeFs } from '../../src/env/node-fs.js';
import { tempDir, realDb } from '../support/db.js';

const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function quiver(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
}

test('quiver verify / info report what a file holds; a flipped byte is exit 1 with the error code', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(120);
    const path = await new DatabasePersistence(db, { baseDir: dir }).save({ path: join(dir, 'db.qvdb') });
    let r = quiver('verify', path);
    assert.equal(r.status, 0, r.stderr);
    const withMeta = [...db].filter((e) => e.metadata !== undefined).length;
    assert.ok(r.stdout.includes(`binary, ${db.len()} entries of dimension 384, metric cosine, ${withMeta} with metadata`), r.stdout);
    assert.match(r.stdout, /verified: file checksum [0-9a-f]{64} \(recorded in .*; not the SHA-256 of its bytes\)/);
    r = quiver('info', path);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /checksums not checked/);
    // Forced to the wrong format: still exit 1, but told the file is what its bytes say, not only "damaged".
    r = quiver('verify', path, '--format', 'json');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /read as --format json, but its bytes look like binary: without --format it is read as what it is/);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    writeFileSync(path, bytes);
    r = quiver('verify', path);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^quiver: CHECKSUM_MISMATCH: .*db\.qvdb/);
  } finally {
    cleanup();
  }
});

test('quiver convert takes the target format from the name or --format, keeping every entry bit for bit', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: 3 });
    for (let i = 1; i <= 50; i++) void db.insert({ id: i % 2 ? `doc-${i}` : i, vector: [i / 7, -i, 1e-7 * i], metadata: { i, tag: 'ü' } });
    const src = await new DatabasePersistence(db, { baseDir: dir }).save({ path: join(dir, 'src.qvdb') });
    for (const [target, extra, format] of [['out.parquet', [], 'parquet'], ['out.jsonl.gz', [], 'jsonl'], ['out.data', ['--format', 'msgpack'], 'msgpack']] as const) {
      const to = join(dir, target);
      const r = quiver('convert', src, to, ...extra);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`\\(binary\\) -> .*\\(${format}.*50 entries`));
      const back = await importFile(nodeFs, to);
      assert.equal(back.format, format);
      assert.deepEqual(back.columns.ids, [...db].map((e) => e.id));
      assert.deepEqual([...back.columns.vectors], [...db].flatMap((e) => [...e.vector]));
    }
    // What the source's save recorded of its own file now describes the copy.
    const json = join(dir, 'out.json');
    assert.equal(quiver('convert', src, json).status, 0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { options?: { persistence?: { format?: string; compression?: string } } };
    assert.deepEqual(doc.options?.persistence && { format: doc.options.persistence.format, compression: doc.options.persistence.compression }, { format: 'json', compression: 'none' });
    for (const [args, message] of [
      [[src, join(dir, 'out.unknown')], /cannot tell the target format.*pass --format \(binary, (?!.*reference)/],
      [[src, join(dir, 'x.json'), '--format', 'reference-000'], /--format reference-000 can be read but not written/],
      [[src, join(dir, 'x.qvdb'), '--format', 'bogus'], /--format 'bogus' is not a format/],
      [[src, join(dir, 'x.jsonl'), '--compression', 'zip'], /--compression must be one of/],
      // A name that says one compression is not given another (brotli bytes were written as x.jsonl.gz).
      [[src, join(dir, 'x.jsonl.gz'), '--compression', 'brotli'], /--compression brotli would write brotli under the name .*x\.jsonl\.gz, which says gzip; name it .*x\.jsonl\.br/],
      [[src, join(dir, 'x.jsonl'), '--compression', 'gzip'], /which says uncompressed; name it .*x\.jsonl\.gz/],
      // A format's name with a compression it never takes.
      [[src, join(dir, 'x.parquet.gz')], /parquet files are never compressed as a whole.*name it .*x\.parquet or pass --format/],
    ] as const) {
      const r = quiver('convert', ...args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
    // Parquet carries page CRCs, not a whole-file checksum: verify says what it checked.
    assert.match(quiver('verify', join(dir, 'out.parquet')).stdout, /verified: every checksum the format carries/);
  } finally {
    cleanup();
  }
});

test('quiver usage mistakes are exit 2 with the usage text; --version prints the package version', () => {
  for (const args of [[], ['frobnicate'], ['verify'], ['convert', 'a'], ['verify', 'a', '--bogus'], ['verify', ''], ['info', 'a', '--from', 'json'], ['verify', 'a', '--compression', 'gzip'], ['convert', '', 'b.json']]) {
    const r = quiver(...args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /usage: quiver <command>/);
  }
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
  assert.equal(quiver('--version').stdout.trim(), pkg.version);
  assert.equal(quiver('verify', '/no/such/file').status, 1);
  // A file in no known format: exit 1, and the hint names the command line's flag.
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'notes.txt'), 'not a database\n');
    const foreign = quiver('verify', join(dir, 'notes.txt'));
    assert.equal(foreign.status, 1);
    assert.match(foreign.stderr, /UNSUPPORTED_FORMAT: .*--format/);
  } finally {
    cleanup();
  }
});

test('formatForPath: the format and compression a file name says, and none when the name cannot say it', () => {
  const cases: [string, unknown][] = [
    ['a.qvdb', { format: 'binary', compression: 'none' }],
    ['a.JSON.GZ', { format: 'json', compression: 'gzip' }],
    ['a.msgpack.br', { format: 'msgpack', compression: 'brotli' }],
    ['a.jsonl', { format: 'jsonl', compression: 'none' }],
    ['a.parquet', { format: 'parquet', compression: 'none' }],
    ['a.npy', { format: 'npy', compression: 'none' }],
    ['a.sqlite', { format: 'sqlite', compression: 'none' }],
    ['a.txt', undefined],
  ];
  for (const [name, want] of cases) assert.deepEqual(formatForPath(name), want, name);
});

test('quiver verify, info and convert, and import(), read a save file with its deltas and journal: the state it holds', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const journaled of [false, true]) {
      const base = join(dir, journaled ? 'j.qvdb' : 'd.qvdb');
      const db = new VectorDB({ dimension: 4 });
      for (let i = 0; i < 10; i++) void db.insert({ id: `x${i}`, vector: [i, 1, 2, 3], metadata: { i } });
      const p = new DatabasePersistence(db, { baseDir: dir, incremental: true, autoSaveInterval: journaled ? 3_600_000 : 0 });
      p.stopAutoSave();
      await p.save({ path: base });
      void db.insert({ id: 'added-later', vector: [9, 9, 9, 9] });
      void db.delete('x0');
      await p.saveIncremental();
      void db.insert({ id: 'x5', vector: [5, 5, 5, 5], metadata: { replaced: true } });
      await p.saveIncremental();
      await p.shutdown();
      let r = quiver('verify', base);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.includes('binary, 10 entries'), r.stdout);
      assert.match(r.stdout, journaled ? /0 delta files and 2 save-journal records/ : /2 delta files and 0 save-journal records/);
      const to = join(dir, journaled ? 'j.jsonl' : 'd.jsonl');
      r = quiver('convert', base, to);
      assert.equal(r.status, 0, r.stderr);
      const back = await importFile(nodeFs, to);
      const entries = (ids: readonly unknown[], vectors: Float32Array) => new Map(ids.map((id, i) => [id, [...vectors.subarray(i * 4, i * 4 + 4)]]));
      assert.deepEqual(entries(back.columns.ids, back.columns.vectors), new Map([...db].map((e) => [e.id, [...e.vector]])));
      const imported = new VectorDB({ dimension: 4 });
      await imported.insert({ id: 'x0', vector: [7, 7, 7, 7] });
      await new DatabasePersistence(imported, { baseDir: dir }).import({ path: base });
      assert.deepEqual(imported.get('x5')?.metadata, { replaced: true });
      assert.ok(imported.has('added-later'));
      assert.deepEqual([...imported.get('x0')!.vector], [7, 7, 7, 7], 'a merge keeps what the file does not hold (x0 was deleted from it)');
      // Damage in the chain is damage of what the file holds.
      const victim = journaled ? join(`${base}.wal`, readdirSync(`${base}.wal`).find((n) => n !== 'HEAD')!) : `${base}.delta-000001`;
      const bytes = readFileSync(victim);
      bytes[Math.floor(bytes.length / 2)] ^= 0x40;
      writeFileSync(victim, bytes);
      r = quiver('verify', base);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /^quiver: (CHECKSUM_MISMATCH|CORRUPT): /);
    }
  } finally {
    cleanup();
  }
});

test('quiver convert of a file that records no metric (npy) needs --metric for a target that records one, and never contradicts a recorded one', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: 3, metric: 'euclidean' });
    for (let i = 0; i < 20; i++) void db.insert({ id: `doc-${i}`, vector: [i, -i, i / 3] });
    const p = new DatabasePersistence(db, { baseDir: dir });
    const npy = join(dir, 'x.npy');
    await p.export({ path: npy });
    const out = join(dir, 'out.json');
    // Before the fix the copy said "cosine" as a fact, and importing it into this euclidean database failed.
    let r = quiver('convert', npy, out);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /records no metric.*--metric/);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('out')), [], 'nothing written');
    r = quiver('convert', npy, out, '--metric', 'euclidean');
    assert.equal(r.status, 0, r.stderr);
    const back = await importFile(nodeFs, out);
    assert.equal(back.columns.metric, 'euclidean');
    assert.equal(back.metricKnown, true);
    await p.import({ path: out, clear: true });
    assert.equal(db.len(), 20);
    // To npy (which records none) no metric is needed.
    r = quiver('convert', out, join(dir, 'again.npy'));
    assert.equal(r.status, 0, r.stderr);
    // A recorded metric is never relabelled, and --metric is convert's option only.
    r = quiver('convert', out, join(dir, 'other.json'), '--metric', 'cosine');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /records the euclidean metric/);
    r = quiver('convert', npy, join(dir, 'bad.json'), '--metric', 'hamming');
    assert.equal(r.status, 2);
    r = quiver('verify', out, '--metric', 'cosine');
    assert.equal(r.status, 2);
  } finally {
    cleanup();
  }
});

test('quiver convert cleans dead writers\' temp files in the target directory, but never the file it converts', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: 3 });
    for (let i = 0; i < 10; i++) void db.insert({ id: `doc-${i}`, vector: [i, 1, 2] });
    const saved = await new DatabasePersistence(db, { baseDir: dir }).save({ path: join(dir, 'db.qvdb') });
    // A complete file under a dead writer's temp name (pid 999999 is not running here), being rescued,
    // beside another leftover of the same dead writer.
    const rescued = join(dir, `.db.qvdb.p999999s1-0123456789ab.quiver-tmp`);
    const other = join(dir, `.other.qvdb.p999999s1-ba9876543210.quiver-tmp`);
    writeFileSync(rescued, readFileSync(saved));
    writeFileSync(other, 'x');
    const r = quiver('convert', rescued, join(dir, 'rescued.jsonl'));
    assert.equal(r.status, 0, r.stderr);
    const left = readdirSync(dir);
    assert.ok(left.includes(basename(rescued)), 'the source is kept');
    assert.ok(!left.includes(basename(other)), 'another leftover is removed');
    assert.equal((await importFile(nodeFs, join(dir, 'rescued.jsonl'))).columns.ids.length, 10);
  } finally {
    cleanup();
  }
});

test('output that cannot be written: a closed pipe drops it (the command still succeeds), a full disk is exit 1 with a message, never a stack trace', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = await realDb(50);
    const path = await new DatabasePersistence(db, { baseDir: dir }).save({ path: join(dir, 'db.qvdb') });
    // `quiver verify db.qvdb | head -0`: the reader is gone before the first line.
    const shown = spawnSync('/bin/bash', ['-c', `"${process.execPath}" "${main}" verify "${path}" | head -c 0; echo "status \${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
    assert.match(shown.stderr, /^status 0$/m, shown.stderr);
    assert.doesNotMatch(shown.stderr, /EPIPE|Unhandled| {4}at /, shown.stderr);
    const full = spawnSync('/bin/bash', ['-c', `"${process.execPath}" "${main}" verify "${path}" > /dev/full`], { encoding: 'utf8' });
    assert.equal(full.status, 1, full.stderr);
    assert.match(full.stderr, /quiver: the output could not be written \(ENOSPC\)/);
    assert.doesNotMatch(full.stderr, /Unhandled| {4}at /);
  } finally {
    cleanup();
  }
});

test('Ctrl-C during a conversion: exit 130, nothing published, and no temp file left behind', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: 384 });
    const rnd = (i: number, d: number): number => Math.sin(i * 12.9898 + d * 78.233);
    await db.insertBatch(Array.from({ length: 20_000 }, (_, i) => ({ id: `doc-${i}`, vector: Float32Array.from({ length: 384 }, (_, d) => rnd(i, d)), metadata: { i } })));
    const source = await new DatabasePersistence(db, { baseDir: dir }).save({ path: join(dir, 'src.qvdb') });
    const out = join(dir, 'out', 'x.jsonl');
    mkdirSync(join(dir, 'out'));
    const child = spawn(process.execPath, [main, 'convert', source, out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Interrupted once its temp file exists (it is being written).
    const t0 = Date.now();
    while (!readdirSync(join(dir, 'out')).some((n) => n.includes('quiver-tmp')) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(readdirSync(join(dir, 'out')).some((n) => n.includes('quiver-tmp')), 'the conversion was writing');
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted \(SIGINT\); nothing was published/);
    assert.deepEqual(readdirSync(join(dir, 'out')), []);
  } finally {
    cleanup();
  }
});
