import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, constants as Z, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { readQvdb, readQvdbInfo, writeQvdb } from '../../../src/format/qvdb/index.js';
import { Codec, FileKind, FRAME_MAX_ITEMS, FRAME_TARGET_BYTES, HEADER_SIZE, SectionType } from '../../../src/format/qvdb/constants.js';
import { DecompressStream } from '../../../src/format/qvdb/codec.js';
import { encodeDirectory, encodeFooter, encodeHeader } from '../../../src/format/qvdb/layout.js';
import { encodeManifest } from '../../../src/format/qvdb/manifest.js';
import { encodeFrame, encodeFrames, FrameDecoder } from '../../../src/format/qvdb/frames.js';
import { unpackOne } from '../../../src/format/qvdb/msgpack.js';
import { makeImage, randomVectors } from '../../support/image.js';
import { assembleFile, parseFile, patchHeader, type RawSection } from './surgery.js';

async function valid(compression: 'none' | 'brotli' = 'none'): Promise<Uint8Array> {
  const fs = new MemoryFileSystem();
  await writeQvdb(fs, '/v.qvdb', makeImage({ dimension: 4, ids: ['a', 'b', 'c'], vectors: randomVectors(3, 4), metadata: [{ x: 1 }, undefined, { y: 'z' }] }), { compression, createdAt: 1 });
  return fs.readFileSync('/v.qvdb');
}

async function load(bytes: Uint8Array) {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/f.qvdb', bytes);
  return readQvdb(fs, '/f.qvdb');
}

function replace(sections: RawSection[], type: number, s: Partial<RawSection>): RawSection[] {
  return sections.map((x) => (x.type === type ? { ...x, ...s } : x));
}

/** 64 MB of zeros in about 12 KB of brotli (quality 1 compresses zeros fast). */
const bombOf = (mb: number): Buffer => brotliCompressSync(Buffer.alloc(mb << 20), { params: { [Z.BROTLI_PARAM_QUALITY]: 1 } });

test('a compressed section that decompresses beyond its raw length is corrupt (zip-bomb guard)', async () => {
  const { kind, sections } = parseFile(await valid());
  const bomb = bombOf(64);
  assert.ok(bomb.length < 20_000);
  const before = process.memoryUsage().arrayBuffers;
  const err = await load(assembleFile(kind, replace(sections, SectionType.VECTORS, { codec: Codec.BROTLI, stored: bomb }))).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError, String(err));
  assert.equal(err.section, 'vectors');
  assert.match(err.message, /beyond its declared raw length of 48 bytes/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, 'the bomb was not expanded');
  const meta = gzipSync(Buffer.alloc(1 << 20, 0x90));
  const err2 = await load(assembleFile(kind, replace(sections, SectionType.METADATA, { codec: Codec.GZIP, stored: meta, rawLength: 10 }))).catch((e: unknown) => e);
  assert.ok(err2 instanceof CorruptionError && err2.section === 'metadata' && /beyond/.test(err2.message), String(err2));
});

test('DecompressStream never delivers more than the declared raw length', async () => {
  const bomb = bombOf(64);
  let delivered = 0;
  const d = new DecompressStream(Codec.BROTLI, 1000, (c) => (delivered += c.length));
  await assert.rejects(d.write(bomb), /beyond its declared raw length/);
  assert.ok(delivered <= 1000);
  assert.ok(d.outputBytes <= 1000);
});

test('a compressed section that decompresses short of its raw length is corrupt', async () => {
  const { kind, sections } = parseFile(await valid());
  const ids = sections.find((s) => s.type === SectionType.IDS);
  assert.ok(ids);
  const short = assembleFile(kind, replace(sections, SectionType.IDS, { codec: Codec.GZIP, stored: gzipSync(ids.stored), rawLength: ids.rawLength + 1 }));
  const err = await load(short).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError && err.section === 'ids' && /short of the declared/.test(err.message), String(err));
  // The same section with the right raw length loads: the codec is per section.
  const ok = await load(assembleFile(kind, replace(sections, SectionType.IDS, { codec: Codec.GZIP, stored: gzipSync(ids.stored) })));
  assert.ok(ok.kind === 'full' && ok.columns.ids.length === 3);
});

test('other versions, flags, kinds and codecs are UNSUPPORTED_VERSION', async () => {
  const bytes = await valid();
  await assert.rejects(load(patchHeader(bytes, 8, [2, 0])), (e: unknown) => e instanceof QuiverError && !(e instanceof CorruptionError) && e.code === 'UNSUPPORTED_VERSION' && /version 2/.test(e.message));
  await assert.rejects(load(patchHeader(bytes, 10, [1, 0])), { code: 'UNSUPPORTED_VERSION' });
  await assert.rejects(load(patchHeader(bytes, 12, [3])), { code: 'UNSUPPORTED_VERSION' });
  const { kind, sections } = parseFile(bytes);
  await assert.rejects(load(assembleFile(kind, replace(sections, SectionType.IDS, { codec: 9 }))), { code: 'UNSUPPORTED_VERSION' });
});

test('files that are not .qvdb are UNSUPPORTED_FORMAT', async () => {
  for (const text of ['{"version":1,"vectors":[]}', 'hello world, this is not a database', '\x89PNG\r\n\x1a\n0000000000000000000000000000000000000000']) {
    await assert.rejects(load(Buffer.from(text, 'latin1')), (e: unknown) => e instanceof QuiverError && !(e instanceof CorruptionError) && e.code === 'UNSUPPORTED_FORMAT', text);
  }
  await assert.rejects(load(Uint8Array.of(1, 2, 3)), { code: 'UNSUPPORTED_FORMAT' });
});

test('a file whose line endings were converted (text-mode transfer) is corrupt, and says so', async () => {
  const bytes = Buffer.from(await valid());
  const mangled = Buffer.from(bytes.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  assert.notEqual(mangled.length, bytes.length);
  const err = await load(mangled).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError && err.section === 'header' && /text mode/.test(err.message), String(err));
});

test('lengths from a self-consistent but hostile directory are bounded by the file before allocating', async () => {
  const { sections } = parseFile(await valid());
  const manifest = sections[0];
  // A VECTORS entry claiming 1 TB stored: the directory hashes fine but the section cannot fit in the file.
  const entries = [
    { type: SectionType.MANIFEST, codec: 0, level: 0, offset: HEADER_SIZE, storedLength: manifest.stored.length, rawLength: manifest.stored.length, sha256: createHash('sha256').update(manifest.stored).digest() },
    { type: SectionType.VECTORS, codec: 0, level: 0, offset: HEADER_SIZE + manifest.stored.length, storedLength: 2 ** 40, rawLength: 2 ** 40, sha256: new Uint8Array(32) },
  ];
  const dir = encodeDirectory(entries);
  const dirOffset = HEADER_SIZE + manifest.stored.length;
  const file = Buffer.concat([encodeHeader(FileKind.FULL), manifest.stored, dir, encodeFooter(dirOffset, dir.length, createHash('sha256').update(dir).digest())]);
  const err = await load(file).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError && err.section === 'directory', String(err));
});

test('a manifest count far beyond the data fails on the data, without allocating for the count', async () => {
  const { kind, sections } = parseFile(await valid('brotli'));
  const m = encodeManifest({ format: 'qvdb', formatVersion: 1, kind: 'full', dimension: 4, metric: 'cosine', count: 1e9, seq: 1, createdAt: 1, library: 'x', user: {} });
  const forged = replace(replace(sections, SectionType.MANIFEST, { stored: m, rawLength: m.length }), SectionType.VECTORS, { rawLength: 16e9 });
  const err = await load(assembleFile(kind, forged)).catch((e: unknown) => e);
  // Sections are read concurrently: either the ids or the vectors run out first.
  assert.ok(err instanceof CorruptionError && ['ids', 'vectors'].includes(err.section), String(err));
});

test('a manifest count far beyond the data reserves nothing for it, also when metadata is kept encoded (a load\'s and a checkpoint\'s way)', async () => {
  const { kind, sections } = parseFile(await valid('brotli'));
  const count = 2 ** 28;
  const m = encodeManifest({ format: 'qvdb', formatVersion: 1, kind: 'full', dimension: 1, metric: 'cosine', count, seq: 1, createdAt: 1, library: 'x', user: {} });
  // Self-consistent as far as it goes: the compressed vectors section declares count × 4 raw bytes.
  const forged = replace(replace(sections, SectionType.MANIFEST, { stored: m, rawLength: m.length }), SectionType.VECTORS, { rawLength: count * 4 });
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/f.qvdb', assembleFile(kind, forged));
  const before = process.memoryUsage().arrayBuffers;
  const err = await readQvdb(fs, '/f.qvdb', { keepMetadataEncoded: true }).catch((e: unknown) => e);
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(err instanceof CorruptionError, String(err));
  assert.ok(grew < 64 << 20, `arrayBuffers grew by ${(grew / 2 ** 20).toFixed(0)} MB for a ${count}-entry count (12 bytes each would be 3 GB)`);
});

test('structural mismatches are corruption: vector length vs count, missing and duplicate sections', async () => {
  const { kind, sections } = parseFile(await valid());
  const vec = sections.find((s) => s.type === SectionType.VECTORS);
  assert.ok(vec);
  const cut = vec.stored.subarray(0, 32);
  let err = await load(assembleFile(kind, replace(sections, SectionType.VECTORS, { stored: cut, rawLength: cut.length }))).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError && err.section === 'vectors', String(err));
  err = await load(assembleFile(kind, sections.filter((s) => s.type !== SectionType.METADATA))).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError && err.section === 'directory' && /"metadata" is missing/.test(err.message), String(err));
  err = await load(assembleFile(kind, [...sections, sections[1]])).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError && err.section === 'directory' && /twice/.test(err.message), String(err));
  err = await load(assembleFile(FileKind.DELTA, sections)).catch((e: unknown) => e);
  assert.ok(err instanceof CorruptionError && err.section === 'manifest', String(err));
});

test('unknown and reserved (INDEX) section types are skipped by v1 readers', async () => {
  const { kind, sections } = parseFile(await valid());
  const extra = [...sections, { type: SectionType.INDEX, codec: 0, level: 0, stored: Uint8Array.of(1, 2, 3), rawLength: 3 }, { type: 200, codec: 0, level: 0, stored: Uint8Array.of(4), rawLength: 1 }];
  const r = await load(assembleFile(kind, extra));
  assert.ok(r.kind === 'full');
  assert.deepEqual(r.columns.ids, ['a', 'b', 'c']);
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/i.qvdb', assembleFile(kind, extra));
  assert.deepEqual((await readQvdbInfo(fs, '/i.qvdb')).directory.map((d) => d.section), ['manifest', 'vectors', 'ids', 'metadata', 'index', 'section type 200']);
});

test('record items of the wrong type are corrupt even when hashes match', async () => {
  const { kind, sections } = parseFile(await valid());
  const cases: [number, unknown[], RegExp][] = [
    [SectionType.IDS, ['a', 1.5, 'c'], /item 1/],
    [SectionType.IDS, ['a', 'b'], /2 items, the manifest says 3/],
    [SectionType.METADATA, [{ a: 1 }, [1], null], /not a map or nil/],
    [SectionType.METADATA, [{ a: new Date(0) }, null, null], /Date/],
  ];
  for (const [type, items, re] of cases) {
    const f = encodeFrame(items);
    const err = await load(assembleFile(kind, replace(sections, type, { stored: f, rawLength: f.length }))).catch((e: unknown) => e);
    assert.ok(err instanceof CorruptionError && re.test(err.message), `${re}: ${String(err)}`);
  }
});

test('writers bound frames by bytes, and by item count', async () => {
  const fs = new MemoryFileSystem();
  const n = 140_000;
  const ids = Array.from({ length: n }, (_, i) => i);
  const metadata = ids.map((i) => ({ text: 'm'.repeat(500), i }));
  await writeQvdb(fs, '/f.qvdb', makeImage({ dimension: 1, ids, vectors: new Float32Array(n), metadata }));
  const { sections } = parseFile(fs.readFileSync('/f.qvdb'));
  const frames = (type: number): { items: number[]; bytes: number[] } => {
    const s = sections.find((x) => x.type === type);
    assert.ok(s);
    const items: number[] = [];
    const dec = new FrameDecoder(s.rawLength, (batch) => items.push(batch.length), (p) => assert.fail(p));
    dec.push(s.stored);
    dec.end();
    const bytes: number[] = [];
    for (let at = 0; at < s.stored.length; ) {
      const len = new DataView(s.stored.buffer, s.stored.byteOffset + at, 4).getUint32(0, true);
      bytes.push(len);
      at += 4 + len;
    }
    return { items, bytes };
  };
  for (const type of [SectionType.IDS, SectionType.METADATA]) {
    const f = frames(type);
    assert.equal(f.items.reduce((a, b) => a + b, 0), n);
    assert.ok(f.items.length > 1);
    // The first frame holds 64 items; later ones are sized from the bytes per item of the frame before
    // (ids here grow from 1 to 5 bytes, so a frame can overshoot while they do).
    assert.equal(f.items[0], 64);
    assert.ok(f.bytes.slice(1).every((b) => b <= FRAME_TARGET_BYTES * 1.5), f.bytes.join(','));
  }
  // With a byte target that tiny items cannot reach, the item cap closes frames.
  const big = [...encodeFrames(ids, (i) => i, 1 << 30)].map(([, body]) => (unpackOne(body) as unknown[]).length);
  assert.equal(big.reduce((a, b) => a + b, 0), n);
  assert.ok(big.every((k) => k <= FRAME_MAX_ITEMS) && big.includes(FRAME_MAX_ITEMS), big.join(','));
});

test('a frame split across any chunk boundaries decodes the same', () => {
  const bytes = Buffer.concat([encodeFrame(['a', 1, 'ü']), encodeFrame([{ k: [1, 2] }]), encodeFrame(['z'])]);
  for (let cut1 = 0; cut1 <= bytes.length; cut1++) {
    for (const cut2 of [cut1, Math.min(bytes.length, cut1 + 3), bytes.length]) {
      const items: unknown[] = [];
      const dec = new FrameDecoder(bytes.length, (xs) => items.push(...xs), (p) => assert.fail(p));
      const reused = Buffer.alloc(bytes.length);
      for (const [a, b] of [[0, cut1], [cut1, cut2], [cut2, bytes.length]]) {
        // Chunks are written into one reused buffer, as the reader does: leftovers must be detached.
        bytes.copy(reused, 0, a, b);
        dec.push(reused.subarray(0, b - a));
        reused.fill(0xee);
      }
      dec.end();
      assert.deepEqual(items, ['a', 1, 'ü', { k: [1, 2] }, 'z'], `cuts ${cut1},${cut2}`);
    }
  }
});

test('metadata MessagePack cannot hold (an object of more than 65,535 members) fails the save with INVALID_METADATA and publishes nothing', async () => {
  const wide = Object.fromEntries(Array.from({ length: 65_536 }, (_, i) => [`k${i}`, i]));
  for (const checked of [false, true]) {
    const fs = new MemoryFileSystem();
    // `checked`: an engine image, whose metadata the writer does not check again (adopted from a file
    // of an earlier version, say): the encoder's own failure is the typed error.
    const image = { ...makeImage({ dimension: 2, ids: ['a', 'b'], vectors: randomVectors(2, 2), metadata: [{ ok: 1 }, wide] }), checked };
    await assert.rejects(writeQvdb(fs, '/w.qvdb', image), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_METADATA' && /65536 members|at most 65535 members/.test(e.message), `checked: ${checked}`);
    assert.deepEqual(fs.listAll().filter((p) => !p.endsWith('/')), [], 'nothing published, no temp file left');
  }
});
