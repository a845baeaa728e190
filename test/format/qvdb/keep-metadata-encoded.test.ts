// readQvdb's keepMetadataEncoded: the metadata maps stay encoded until first read, handed over to
// VectorDB.replaceAll with the columns. What the engine then returns must equal what the eager path
// gives, entry by entry and key by key, and what the eager path rejects must be rejected the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { readQvdb, writeQvdb } from '../../../src/format/qvdb/index.js';
import { SectionType } from '../../../src/format/qvdb/constants.js';
import { encodeFrame, plainMapItemExtents } from '../../../src/format/qvdb/frames.js';
import { pack } from '../../../src/util/msgpack.js';
import { PACKED } from '../../../src/engine/packed-metadata.js';
import { VectorDB } from '../../../src/engine/vector-db.js';
import type { Columns, Metadata } from '../../../src/engine/types.js';
import { makeImage, randomVectors } from '../../support/image.js';
import { assembleFile, parseFile, type RawSection } from './surgery.js';

const DIM = 4;

/** Metadata of every shape a user may store, including ones that must not stay encoded. */
function variedMetadata(n: number): (Metadata | undefined)[] {
  return Array.from({ length: n }, (_, i): Metadata | undefined => {
    switch (i % 7) {
      case 0:
        return undefined;
      case 1:
        return { title: `Document ${i}`, rank: i, score: i / 7, ok: i % 2 === 0, none: null };
      case 2:
        return { nested: { deep: { list: [1, 'two', { three: 3 }], empty: {} } }, 'ключ': 'значение', emoji: '🦀' };
      case 3:
        return { z: 1, a: 2, m: 3, 10: 'numeric-looking key', '': 'empty key' };
      case 4:
        // Larger than the arena keeps (64 KiB): decoded at once.
        return { big: 'x'.repeat(70_000), i };
      case 5:
        return JSON.parse(`{"__proto__": {"polluted": ${i}}, "after": true}`) as Metadata;
      default:
        return { tags: ['a', 'b', 'c'].slice(0, i % 3), n: -i, f: 1e-300 };
    }
  });
}

async function fileWith(metadata: (Metadata | undefined)[], compression: 'none' | 'gzip' = 'none'): Promise<MemoryFileSystem> {
  const fs = new MemoryFileSystem();
  const ids = metadata.map((_, i) => `doc-${i}`);
  await writeQvdb(fs, '/m.qvdb', makeImage({ dimension: DIM, ids, vectors: randomVectors(ids.length, DIM), metadata }), { compression });
  return fs;
}

async function loadInto(fs: MemoryFileSystem, keep: boolean): Promise<{ db: VectorDB; columns: Columns }> {
  const r = await readQvdb(fs, '/m.qvdb', { keepMetadataEncoded: keep });
  assert.ok(r.kind === 'full');
  const columns = { ...r.columns, metadata: [...r.columns.metadata] };
  const db = new VectorDB({ dimension: DIM });
  db.replaceAll(r.columns);
  return { db, columns };
}

test('metadata kept encoded reads back equal to the eager load, key order included, for every shape and codec', async () => {
  const metadata = variedMetadata(700);
  for (const compression of ['none', 'gzip'] as const) {
    const fs = await fileWith(metadata, compression);
    const eager = await loadInto(fs, false);
    const kept = await loadInto(fs, true);
    // It really kept some encoded, and none of the eager load's cells is a placeholder.
    assert.ok(kept.columns.metadata.some((m) => m === PACKED), 'some metadata stayed encoded');
    assert.ok(!eager.columns.metadata.some((m) => m === PACKED));
    for (let i = 0; i < metadata.length; i++) {
      const a = eager.db.get(`doc-${i}`)?.metadata;
      const b = kept.db.get(`doc-${i}`)?.metadata;
      assert.deepEqual(b, a, `entry ${i}`);
      assert.equal(JSON.stringify(b), JSON.stringify(a), `entry ${i}: key order`);
      if (metadata[i] === undefined) assert.equal(b, undefined);
    }
    // The "__proto__" key survives as data on both paths.
    const proto = kept.db.get('doc-5')?.metadata as Record<string, unknown>;
    assert.ok(Object.prototype.hasOwnProperty.call(proto, '__proto__'));
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  }
});

test('filters, iteration and the memory estimate work over metadata still encoded', async () => {
  const n = 300;
  const metadata = Array.from({ length: n }, (_, i) => ({ category: i % 3 === 0 ? 'keep' : 'other', rank: i }));
  const fs = await fileWith(metadata);
  const { db, columns } = await loadInto(fs, true);
  assert.ok(columns.metadata.every((m) => m === PACKED));
  assert.ok(db.stats().memoryUsage > 0);
  const hits = db.search({ vector: [1, 0, 0, 0], k: n, filter: { category: 'keep', rank: { gte: 150 } } });
  assert.equal(hits.length, 50);
  assert.ok(hits.every((h) => h.metadata?.category === 'keep' && (h.metadata.rank as number) >= 150));
  let seen = 0;
  for (const e of db) {
    assert.deepEqual(e.metadata, metadata[Number(String(e.id).slice(4))]);
    seen++;
  }
  assert.equal(seen, n);
  // Replacing and deleting entries lets their encodings go.
  await db.updateMetadata('doc-0', { category: 'changed' });
  assert.equal(await db.delete('doc-1'), true);
  assert.deepEqual(db.get('doc-0')?.metadata, { category: 'changed' });
  assert.deepEqual(db.get('doc-2')?.metadata, metadata[2]);
});

test('metadata the eager path rejects is rejected the same way when kept encoded', async () => {
  const fs = await fileWith([{ x: 1 }, undefined, { y: 'z' }]);
  const { kind, sections } = parseFile(fs.readFileSync('/m.qvdb'));
  const withMeta = (items: unknown[]): RawSection[] => {
    const f = encodeFrame(items);
    return sections.map((s) => (s.type === SectionType.METADATA ? { ...s, stored: f, rawLength: f.length } : s));
  };
  const cases: [string, unknown[]][] = [
    ['NaN', [{ a: NaN }, null, null]],
    ['Infinity', [{ a: 1 }, null, { b: [Infinity] }]],
    ['a float32 NaN', [{ a: 1 }, null, null]],
    ['not a map', [{ a: 1 }, [1], null]],
    ['a Date', [{ a: new Date(0) }, null, null]],
    ['too few items', [{ a: 1 }, null]],
    ['too many items', [{ a: 1 }, null, null, null]],
  ];
  for (const [what, items] of cases) {
    let file = assembleFile(kind, withMeta(items));
    if (what === 'a float32 NaN') {
      // msgpackr writes floats as float64: hand-write a float32 NaN (0xca 7fc00000) as item 0's value.
      const body = Uint8Array.of(0x93, 0x81, 0xa1, 0x61, 0xca, 0x7f, 0xc0, 0x00, 0x00, 0xc0, 0xc0);
      const frame = new Uint8Array(4 + body.length);
      new DataView(frame.buffer).setUint32(0, body.length, true);
      frame.set(body, 4);
      file = assembleFile(kind, sections.map((s) => (s.type === SectionType.METADATA ? { ...s, stored: frame, rawLength: frame.length } : s)));
    }
    const errs: unknown[] = [];
    for (const keep of [false, true]) {
      const f = new MemoryFileSystem();
      f.writeFileSync('/m.qvdb', file);
      errs.push(await readQvdb(f, '/m.qvdb', { keepMetadataEncoded: keep }).then(() => undefined, (e: unknown) => e));
    }
    const [eager, kept] = errs;
    assert.ok(eager instanceof CorruptionError && eager.section === 'metadata', `${what}: ${String(eager)}`);
    assert.ok(kept instanceof CorruptionError, `${what}: ${String(kept)}`);
    assert.equal(kept.message, eager.message, what);
    assert.equal(kept.section, eager.section, what);
  }
});

test('plainMapItemExtents splits plain frames and refuses everything else', () => {
  const ends: number[] = [];
  const items = [{ a: 1 }, null, { b: 'two', c: [1, 2] }];
  const body = pack(items);
  const r = plainMapItemExtents(body, ends);
  assert.deepEqual(r, { start: 1, count: 3 });
  assert.equal(ends[2], body.length);
  // Items start where they should: a map (msgpackr writes map16), nil, a map.
  assert.deepEqual([body[r.start], body[ends[0]], body[ends[1]]], [0xde, 0xc0, 0xde]);
  // array16 and array32 headers.
  const many = pack(Array.from({ length: 20 }, (_, i) => ({ i })));
  assert.equal(many[0], 0xdc);
  assert.deepEqual(plainMapItemExtents(many, ends), { start: 3, count: 20 });
  const as32 = Uint8Array.of(0xdd, 0, 0, 0, 2, 0xc0, 0x80);
  assert.deepEqual(plainMapItemExtents(as32, ends), { start: 5, count: 2 });
  const refused: [string, Uint8Array][] = [
    ['empty array', Uint8Array.of(0x90)],
    ['not an array', pack({ a: 1 })],
    ['trailing bytes', Uint8Array.of(0x91, 0xc0, 0xc0)],
    ['cut short', Uint8Array.of(0x92, 0xc0)],
    ['a bin item', Uint8Array.of(0x91, 0xc4, 0x01, 0x07)],
    ['a float64 NaN', Uint8Array.of(0x91, 0x81, 0xa1, 0x61, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0)],
    ['a float64 -Infinity', Uint8Array.of(0x91, 0x81, 0xa1, 0x61, 0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0)],
    ['a float32 Infinity', Uint8Array.of(0x91, 0x81, 0xa1, 0x61, 0xca, 0x7f, 0x80, 0, 0)],
    ['a "__proto__" key', pack([JSON.parse('{"__proto__": 1}')])],
    ['an item that is neither nil nor a map', pack([{ a: 1 }, 7])],
    ['an array item', pack([[1, 2]])],
  ];
  for (const [what, bytes] of refused) assert.equal(plainMapItemExtents(bytes, ends), undefined, what);
  // Finite floats with many exponent bits set are fine.
  assert.deepEqual(plainMapItemExtents(Uint8Array.of(0x91, 0x81, 0xa1, 0x61, 0xcb, 0x7f, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ends), { start: 1, count: 1 });
});

test('replaceAll refuses placeholders for encoded metadata that was not handed over with the columns', () => {
  const db = new VectorDB({ dimension: 2 });
  assert.throws(
    () => db.replaceAll({ dimension: 2, metric: 'cosine', ids: ['a'], vectors: Float32Array.of(1, 2), metadata: [PACKED] }),
    (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_ARGUMENT' && /placeholder/.test(e.message),
  );
  assert.equal(db.len(), 0);
});
