// Every reader keeps to the rules for stored metadata (README, "Semantics"): a number beyond float64's
// range, which JSON.parse reads as Infinity, and nesting deeper than files may hold (1001 levels, as
// earlier versions stored; insert's own limit is 256) are damage naming the file, not values that the
// next save would refuse or silently change. At insert's limit, every format round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { nodeFs } from '../../src/env/node-fs.js';
import { exchangeFormats, exportImage, importFile, codecFor } from '../../src/interchange/index.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { parseJsonText } from '../../src/util/json-text.js';
import { jsonValueAt } from '../../src/format/msgpack/json-value.js';
import { tempDir } from '../support/db.js';

/** Metadata `{ d: [[...[1]...]] }` of exactly `levels` levels (the object itself is level 1). */
function nested(levels: number): Record<string, unknown> {
  let v: unknown = 1;
  for (let i = 1; i < levels; i++) v = [v];
  return { d: v };
}

/** Foreign JSON-text files whose only problem is `meta` (JSON text of one entry's metadata). */
function foreignFiles(dir: string, meta: string): Record<string, [string, string]> {
  const put = (name: string, content: string): string => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const npy = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]), Buffer.from(`{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }`.padEnd(117) + '\n', 'latin1'), Buffer.from(new Float32Array([1, 2, 3]).buffer)]);
  writeFileSync(join(dir, 'n.npy'), npy);
  put('n.ids.json', '["a"]');
  const jsonl = put('a.jsonl', `{"id":"a","vector":[1,2,3],"metadata":${meta}}\n`);
  const ref = put('r.json', `{"version":"1.0.0","vectors":[{"id":"a","vector":[1,2,3],"metadata":${meta}}]}`);
  return { jsonl: [jsonl, jsonl], 'reference-000': [ref, ref], 'npy sidecar': [join(dir, 'n.npy'), put('n.metadata.jsonl', `${meta}\n`)] };
}

test('a metadata number beyond float64 range (1e400) is damage naming the file in every JSON-text reader', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [what, [path, holder]] of Object.entries(foreignFiles(dir, '{"n":1e400}'))) {
      await assert.rejects(importFile(nodeFs, path, { verifyChecksum: false }), (e: unknown) => {
        assert.ok(e instanceof CorruptionError, `${what}: ${String(e)}`);
        assert.equal(e.file, holder, what);
        assert.match(e.message, /beyond the range of a float64/, what);
        return true;
      });
    }
  } finally {
    cleanup();
  }
});

test('a metadata object of more than 65,535 members (what insert refuses and no save can store) is damage naming the file in every JSON-text reader and in MessagePack', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const wide: Record<string, number> = {};
    for (let i = 0; i < 70_000; i++) wide[`k${i}`] = i;
    const text = JSON.stringify({ nested: wide });
    for (const [what, [path, holder]] of Object.entries(foreignFiles(dir, text))) {
      await assert.rejects(importFile(nodeFs, path, { verifyChecksum: false }), (e: unknown) => {
        assert.ok(e instanceof CorruptionError, `${what}: ${String(e)}`);
        assert.equal(e.file, holder, what);
        assert.match(e.message, /70000 members, more than the 65535/, what);
        return true;
      });
    }
    // A map32 header declaring 70,000 members: refused before any member is read.
    const map32 = Buffer.from([0x81, 0xa1, 0x6d, 0xdf, 0x00, 0x01, 0x11, 0x70]);
    assert.throws(() => jsonValueAt(map32, 0, map32.length), /70000 members, more than the 65535/);
    // At the limit, it is metadata like any other.
    delete wide.k0;
    for (let i = 65_535; i < 70_000; i++) delete wide[`k${i}`];
    assert.equal(Object.keys(wide).length, 65_534);
    assert.ok(parseJsonText(JSON.stringify({ nested: wide })));
  } finally {
    cleanup();
  }
});

test('metadata nested deeper than files may hold (1001 levels, what earlier versions stored) is damage in every JSON-text reader; 1001 levels import', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [what, [path, holder]] of Object.entries(foreignFiles(dir, JSON.stringify(nested(1002))))) {
      await assert.rejects(importFile(nodeFs, path, { verifyChecksum: false }), (e: unknown) => {
        assert.ok(e instanceof CorruptionError, `${what}: ${String(e)}`);
        assert.equal(e.file, holder, what);
        assert.match(e.message, /nested deeper than 1001 levels/, what);
        return true;
      });
    }
    for (const [what, [path]] of Object.entries(foreignFiles(dir, JSON.stringify(nested(1001))))) {
      const { columns } = await importFile(nodeFs, path, { verifyChecksum: false });
      assert.deepEqual(columns.metadata[0], nested(1001), what);
    }
    // 20,000 levels, which overflowed the stack of every later step before: damage, not a crash.
    const [deepPath] = foreignFiles(dir, `{"d":${'['.repeat(19_999)}1${']'.repeat(19_999)}}`).jsonl;
    await assert.rejects(importFile(nodeFs, deepPath, { verifyChecksum: false }), CorruptionError);
  } finally {
    cleanup();
  }
});

test('metadata at the nesting limit (256 levels) round-trips through every writable format; one level more is refused at insert', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = new VectorDB({ dimension: 3 });
    await db.insert({ id: 'deep', vector: [1, 2, 3], metadata: nested(256) });
    await db.insert({ id: 7, vector: [4, 5, 6], metadata: { z: -0, big: 1e308 } });
    assert.throws(() => db.insert({ id: 'x', vector: [1, 2, 3], metadata: nested(257) }), (e: unknown) => e instanceof QuiverError && e.code === 'INVALID_METADATA');
    assert.ok(Object.is(db.get(7)?.metadata?.z, 0), 'metadata -0 is stored as 0');
    for (const format of exchangeFormats()) {
      if (!codecFor(format).canWrite) continue;
      const path = join(dir, `deep-${format}`);
      const image = db.openImage();
      try {
        await exportImage(nodeFs, path, image, { format });
      } finally {
        image.release();
      }
      const { columns } = await importFile(nodeFs, path);
      const back = new Map(columns.ids.map((id, i) => [id, columns.metadata[i]]));
      assert.deepEqual(back.get('deep'), nested(256), format);
      assert.deepEqual(back.get(7), { z: 0, big: 1e308 }, format);
    }
  } finally {
    cleanup();
  }
});

test('parseJsonText: numbers beyond float64 and nesting beyond the limit (counted below levelsAbove)', () => {
  assert.deepEqual(parseJsonText('{"a":1e308,"b":"1e400"}'), { a: 1e308, b: '1e400' }, 'a string that looks like a number is fine');
  assert.throws(() => parseJsonText('{"a":[1,-1E+400]}'), /the value\.a\[1\] is a number beyond the range of a float64/);
  assert.throws(() => parseJsonText(`{"a":${'9'.repeat(400)}}`), /beyond the range/);
  assert.doesNotThrow(() => parseJsonText(JSON.stringify(nested(1001))));
  assert.throws(() => parseJsonText(JSON.stringify(nested(1002))), /nested deeper than 1001 levels/);
  assert.doesNotThrow(() => parseJsonText(JSON.stringify({ id: 1, metadata: nested(1001) }), 1));
  assert.throws(() => parseJsonText(JSON.stringify({ id: 1, metadata: nested(1002) }), 1), /nested deeper/);
  assert.doesNotThrow(() => parseJsonText(JSON.stringify({ s: '['.repeat(5000) })), 'brackets inside strings are not nesting');
});
