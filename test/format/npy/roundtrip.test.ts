import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuiverError } from '../../../src/errors.js';
import { join } from 'node:path';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { tempDir } from '../../support/db.js';
import { FaultFileSystem, type OpRecord } from '../../../src/env/fault-fs.js';
import { encodeNpyHeader, npyCodec, npySidecarPaths, parseNpyHeader } from '../../../src/format/npy/index.js';
import type { Progress } from '../../../src/util/progress.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { IDS, META, NPY, assertSame, awkwardSpec, exported, imported, makeImage, randomVectors, type ImageSpec } from './helpers.js';

test('awkward content round-trips bit-exactly: ids keep their types, metadata its key order', async () => {
  const spec = awkwardSpec();
  const fs = await exported(spec);
  const back = await imported(fs);
  assertSame(back.columns, spec);
  assert.equal(back.columns.metric, 'cosine');
  assert.equal(back.metricKnown, false, 'npy stores no metric');
  assert.deepEqual(back.user, {});
  assert.equal(back.checksum, undefined);
  assert.equal(typeof back.columns.ids[1], 'number');
  assert.deepEqual(Object.keys(back.columns.metadata[3] ?? {}), ['__proto__', 'constructor', 'b']);
  assert.deepEqual((back.columns.metadata[3] as Record<string, unknown>)['__proto__'], { polluted: true });
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
});

test('the three files: exact .npy bytes (numpy 1.0 header, 64-byte aligned), ids array, one metadata line per row', async () => {
  const spec: ImageSpec = { dimension: 2, ids: ['a', 7], vectors: Float32Array.of(1, -0, 1e-45, 3.4028234663852886e38), metadata: [{ k: 'v' }, undefined] };
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  const res = await npyCodec.write(fs, NPY, makeImage(spec));
  assert.deepEqual(res.files, [NPY, IDS, META]);
  assert.equal(res.path, NPY);
  assert.equal(res.count, 2);
  const npy = fs.readFileSync(NPY);
  assert.equal(res.bytes, npy.length + fs.readFileSync(IDS).length + fs.readFileSync(META).length);
  const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  const headerText = dict + ' '.repeat(128 - 10 - dict.length - 1) + '\n';
  assert.equal(Buffer.from(npy.subarray(0, 128)).toString('latin1'), `\x93NUMPY\x01\x00${String.fromCharCode(headerText.length)}\x00${headerText}`);
  assert.equal(npy.length, 128 + 16);
  assert.deepEqual([...npy.subarray(128)], [0, 0, 0x80, 0x3f, 0, 0, 0, 0x80, 1, 0, 0, 0, 0xff, 0xff, 0x7f, 0x7f]);
  assert.equal(Buffer.from(fs.readFileSync(IDS)).toString(), '["a",7]\n');
  assert.equal(Buffer.from(fs.readFileSync(META)).toString(), '{"k":"v"}\nnull\n');
  const h = parseNpyHeader(npy, npy.length, NPY);
  assert.deepEqual(h, { major: 1, dataOffset: 128, rows: 2, dimension: 2 });
});

test('headers stay 64-byte aligned for every shape width', () => {
  for (const [rows, dim] of [[0, 1], [1, 1], [9, 99], [99999, 384], [123456789, 65536]]) {
    const header = encodeNpyHeader(rows, dim);
    assert.equal(header.length % 64, 0, `${rows}x${dim}`);
    assert.equal(header[header.length - 1], 10, 'the header ends with a newline');
    // Only the header is needed; the file size says the data the shape asks for is there.
    const h = parseNpyHeader(header, header.length + rows * dim * 4, 'x.npy');
    assert.deepEqual(h, { major: 1, dataOffset: header.length, rows, dimension: dim });
  }
});

test('the real fiori embeddings round-trip bit-exactly with their metadata', async () => {
  const data = loadFioriEmbeddings();
  const spec: ImageSpec = { dimension: 384, ids: data.ids, vectors: data.vectors, metadata: data.metadata };
  assertSame((await imported(await exported(spec))).columns, spec);
});

test('empty and single-entry images', async () => {
  const empty: ImageSpec = { dimension: 5, ids: [], vectors: new Float32Array(0) };
  const fs = await exported(empty);
  assert.equal(Buffer.from(fs.readFileSync(IDS)).toString(), '[]\n');
  assert.equal(fs.readFileSync(META).length, 0);
  const back = await imported(fs);
  assert.equal(back.columns.dimension, 5);
  assert.equal(back.columns.vectors.length, 0);
  assertSame(back.columns, empty);
  const one: ImageSpec = { dimension: 1, ids: ['only'], vectors: Float32Array.of(-0), metadata: [{ k: null }] };
  assertSame((await imported(await exported(one))).columns, one);
});

test('sidecar names: a trailing .npy is replaced, any other name is extended', () => {
  assert.deepEqual(npySidecarPaths('/a/b.npy'), { ids: '/a/b.ids.json', metadata: '/a/b.metadata.jsonl' });
  assert.deepEqual(npySidecarPaths('/a/B.NPY'), { ids: '/a/B.ids.json', metadata: '/a/B.metadata.jsonl' });
  assert.deepEqual(npySidecarPaths('/a/vectors'), { ids: '/a/vectors.ids.json', metadata: '/a/vectors.metadata.jsonl' });
  assert.equal(npyCodec.extension('none'), '.npy');
  assert.deepEqual(npyCodec.compressions, ['none']);
  assert.equal(npyCodec.canWrite, true);
});

test('sniff recognises the magic only', async () => {
  const fs = await exported(awkwardSpec());
  assert.equal(npyCodec.sniff(fs.readFileSync(NPY).subarray(0, 4096)), true);
  assert.equal(npyCodec.sniff(Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50)), false);
  assert.equal(npyCodec.sniff(Buffer.from('{"format":"quiverdb"}')), false);
  assert.equal(npyCodec.sniff(fs.readFileSync(IDS)), false);
});

test('export progress is monotonic and ends at 100; import too', async () => {
  const spec: ImageSpec = { dimension: 64, ids: Array.from({ length: 40000 }, (_, i) => `id-${i}`), vectors: randomVectors(40000, 64, 2) };
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  const seen: Progress[] = [];
  await npyCodec.write(fs, NPY, makeImage(spec), { onProgress: (p) => seen.push(p) });
  assert.ok(seen.length > 2, 'several reports');
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].percentage >= seen[i - 1].percentage, 'never goes backwards');
  assert.equal(seen.at(-1)?.percentage, 100);
  const back: Progress[] = [];
  await npyCodec.read(fs, NPY, { onProgress: (p) => back.push(p) });
  for (let i = 1; i < back.length; i++) assert.ok(back[i].percentage >= back[i - 1].percentage);
  assert.equal(back.at(-1)?.percentage, 100);
});

test('an aborted export leaves the previous files untouched and no temp files', async () => {
  const spec: ImageSpec = { dimension: 64, ids: Array.from({ length: 40000 }, (_, i) => i), vectors: randomVectors(40000, 64, 4) };
  const fs = await exported(awkwardSpec());
  const before = [NPY, IDS, META].map((p) => Buffer.from(fs.readFileSync(p)));
  for (const stopAt of [1, 40, 90]) {
    const ctl = new AbortController();
    await assert.rejects(
      npyCodec.write(fs, NPY, makeImage(spec), { signal: ctl.signal, onProgress: (p) => p.percentage >= stopAt && ctl.abort() }),
      (e: unknown) => e instanceof QuiverError && e.code === 'ABORTED',
    );
    assert.deepEqual([NPY, IDS, META].map((p) => Buffer.from(fs.readFileSync(p))), before, `old files kept (abort at ${stopAt}%)`);
    assert.deepEqual(fs.listAll().sort(), ['/d/', IDS, META, NPY].sort(), 'no temp files left');
  }
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(npyCodec.read(fs, NPY, { signal: ctl.signal }), (e: unknown) => e instanceof QuiverError && e.code === 'ABORTED');
});

test('a failing disk while any of the three files is written leaves the old export intact', async () => {
  const spec: ImageSpec = { dimension: 16, ids: Array.from({ length: 3000 }, (_, i) => `n${i}`), vectors: randomVectors(3000, 16, 9), metadata: Array.from({ length: 3000 }, (_, i) => ({ i })) };
  const base = await exported(awkwardSpec());
  const before = [NPY, IDS, META].map((p) => Buffer.from(base.readFileSync(p)));
  let failures = 0;
  for (let n = 1; n < 200; n++) {
    // Every byte of all three files is written and fsynced before the first rename; faults up to
    // there must leave the old export as it was.
    let renamed = false;
    const beforeRename = (op: OpRecord) => {
      if (op.kind === 'rename') renamed = true;
      return !renamed && (op.kind === 'write' || op.kind === 'sync' || op.kind === 'open');
    };
    const fault = new FaultFileSystem(base, { faults: [{ at: n, code: 'EIO', kinds: beforeRename }], log: false });
    try {
      await npyCodec.write(fault, NPY, makeImage(spec));
      break;
    } catch (err) {
      failures++;
      assert.ok(err instanceof QuiverError && err.code === 'EIO', String(err));
      assert.deepEqual([NPY, IDS, META].map((p) => Buffer.from(base.readFileSync(p))), before, `failure at op ${n}`);
    }
  }
  assert.ok(failures > 3, 'the loop hit several operations');
  assertSame((await imported(base)).columns, spec);
});

test('compression and bad images are refused before anything is written', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  const image = makeImage(awkwardSpec());
  for (const compression of ['gzip', 'brotli'] as const) {
    await assert.rejects(npyCodec.write(fs, NPY, image, { compression }), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT' && /cannot be compressed/.test(e.message));
  }
  assert.deepEqual(fs.listAll(), ['/d/']);
});

test('two exports to one path at once in this process never mix their three files', async () => {
  const spec = (tag: string, seed: number): ImageSpec => {
    const ids = Array.from({ length: 40 }, (_, i) => `${tag}${i}`);
    return { dimension: 4, ids, vectors: randomVectors(40, 4, seed), metadata: ids.map((id) => ({ from: tag, id })) };
  };
  const a = spec('a', 1);
  const b = spec('b', 2);
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'x.npy');
    for (let round = 0; round < 20; round++) {
      await Promise.all([npyCodec.write(nodeFs, path, makeImage(a)), npyCodec.write(nodeFs, path, makeImage(b))]);
      // The later export wins whole: its ids, vectors and metadata together.
      assertSame((await npyCodec.read(nodeFs, path)).columns, b);
    }
  } finally {
    cleanup();
  }
});
