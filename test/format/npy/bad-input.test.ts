import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { CorruptionError } from '../../../src/errors.js';
import { FaultFileSystem } from '../../../src/env/fault-fs.js';
import { rejects } from '../../support/columns.js';
import { IDS, META, NPY, awkwardSpec, exported, filesFs, imported, npyBytes, npyWithDict, randomVectors } from './helpers.js';

const IDS3 = '["a","b","c"]';

test('every truncated prefix of an .npy file is an error naming the file, never data', async () => {
  const full = npyBytes(3, 4);
  for (let len = 0; len < full.length; len++) {
    const fs = filesFs({ npy: full.subarray(0, len), ids: IDS3 });
    if (len === 0) await rejects(imported(fs), 'UNSUPPORTED_FORMAT', NPY, /not a NumPy \.npy file/);
    else {
      const err = await rejects(imported(fs), 'CORRUPT', NPY, /truncated|ends/);
      assert.ok(err instanceof CorruptionError);
    }
  }
  assert.equal((await imported(filesFs({ npy: full, ids: IDS3 }))).columns.ids.length, 3);
});

test('wrong magic, unknown versions and broken headers', async () => {
  const good = npyBytes(3, 4);
  const bad = Uint8Array.from(good);
  bad[1] = 0x4f;
  await rejects(imported(filesFs({ npy: bad, ids: IDS3 })), 'UNSUPPORTED_FORMAT', NPY, /does not start with/);
  await rejects(imported(filesFs({ npy: Buffer.from('{"vectors": []}'), ids: IDS3 })), 'UNSUPPORTED_FORMAT', NPY, /not a NumPy/);
  await rejects(imported(filesFs({ npy: gzipSync(good), ids: IDS3 })), 'UNSUPPORTED_FORMAT', NPY, /gzip-compressed: decompress it first/);
  for (const [major, minor] of [[4, 0], [0, 0], [1, 1]]) {
    const v = Uint8Array.from(good);
    v[6] = major;
    v[7] = minor;
    await rejects(imported(filesFs({ npy: v, ids: IDS3 })), 'UNSUPPORTED_VERSION', NPY, new RegExp(`version ${major}\\.${minor}`));
  }
  const data = new Uint8Array(48);
  const headers: [string, RegExp][] = [
    ["{'descr': '<f4', 'fortran_order': False}", /exactly the keys/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'extra': 1}", /exactly the keys/],
    ["['descr', '<f4']", /not a Python dict/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)", /not a Python dict literal/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4.5), }", /only integers/],
    ["{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4), }", /fortran_order must be True or False/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }", /non-negative integers/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': 12, }", /shape must be a tuple/],
    ["{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", /appears twice/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } junk", /after the header dict/],
  ];
  for (const [dict, message] of headers) await rejects(imported(filesFs({ npy: npyWithDict(dict, data), ids: IDS3 })), 'CORRUPT', NPY, message);
  // numpy 1.x headers (Python 2's long integers, double quotes) are fine.
  const old = npyWithDict(`{"descr": "<f4", "fortran_order": False, "shape": (3L, 4L), }`, npyBytes(3, 4).subarray(128));
  assert.equal((await imported(filesFs({ npy: old, ids: IDS3 }))).columns.dimension, 4);
});

test('header lengths are bounded by the file and by 64 KiB before anything is allocated', async () => {
  const huge = npyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", new Uint8Array(4), [2, 0]);
  new DataView(huge.buffer).setUint32(8, 0xfffffff0, true);
  await rejects(imported(filesFs({ npy: huge, ids: '[1]' })), 'CORRUPT', NPY, /header claims 4294967280 bytes/);
  const past = Uint8Array.from(npyBytes(1, 1));
  new DataView(past.buffer).setUint16(8, 5000, true);
  await rejects(imported(filesFs({ npy: past, ids: '[1]' })), 'CORRUPT', NPY, /truncated/);
  // A shape claiming terabytes is compared with the file size, not allocated.
  const big = npyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 65536), }", new Uint8Array(64));
  await rejects(imported(filesFs({ npy: big, ids: '[]' })), 'CORRUPT', NPY, /needs 262144000000000 bytes .* holds 64 \(it is truncated\)/);
});

test('shape versus data size: missing and extra bytes, empty or oversized vectors', async () => {
  const full = npyBytes(3, 4);
  await rejects(imported(filesFs({ npy: full.subarray(0, full.length - 4), ids: IDS3 })), 'CORRUPT', NPY, /needs 48 bytes of float32 data but the file holds 44/);
  const extra = new Uint8Array(full.length + 4);
  extra.set(full);
  await rejects(imported(filesFs({ npy: extra, ids: IDS3 })), 'CORRUPT', NPY, /4 bytes follow/);
  await rejects(imported(filesFs({ npy: npyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", new Uint8Array(0)), ids: IDS3 })), 'UNSUPPORTED_FORMAT', NPY, /0 numbers/);
  await rejects(imported(filesFs({ npy: npyWithDict("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 70000), }", new Uint8Array(0)), ids: '[]' })), 'UNSUPPORTED_FORMAT', NPY, /70000 numbers/);
  await rejects(imported(filesFs({ npy: npyWithDict("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", new Uint8Array(96)), ids: IDS3 })), 'UNSUPPORTED_FORMAT', NPY, /'<f8'.*astype/);
});

test('NaN and Infinity in the data are refused, naming the row, the element and the byte', async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const vectors = randomVectors(3, 4, 1);
    vectors[2 * 4 + 1] = bad;
    const err = await rejects(imported(filesFs({ npy: npyBytes(3, 4, vectors), ids: IDS3 })), 'CORRUPT', NPY, new RegExp(`element 1 of vector 2 is ${String(bad)}`));
    assert.ok(err instanceof CorruptionError);
    assert.equal(err.section, 'data row 2');
    assert.equal(err.offset, 128 + 9 * 4);
  }
});

test('the ids file: missing, wrong count, duplicates and invalid ids', async () => {
  const npy = npyBytes(3, 4);
  const missing = await rejects(imported(filesFs({ npy })), 'NOT_FOUND', IDS, /does not exist/);
  assert.ok(missing.message.includes(NPY));
  await rejects(imported(filesFs({ npy, ids: '["a","b"]' })), 'CORRUPT', IDS, /holds 2 ids but .* holds 3 vectors/);
  await rejects(imported(filesFs({ npy, ids: '["a","b","c","d"]' })), 'CORRUPT', IDS, /holds 4 ids/);
  const dup = await rejects(imported(filesFs({ npy, ids: '["a", 7, "a"]' })), 'CORRUPT', IDS, /the id "a" appears twice, at \[0\] \(row 0\) and at \[2\] \(row 2\)/);
  assert.ok(dup instanceof CorruptionError);
  await rejects(imported(filesFs({ npy, ids: '[7, "x", 7]' })), 'CORRUPT', IDS, /the id 7 \(a number\) appears twice, at \[0\].*\[2\]/);
  await rejects(imported(filesFs({ npy, ids: '[0, "x", -0]' })), 'CORRUPT', IDS, /the id 0 \(a number\) appears twice/);
  // "7" and 7 are different ids.
  assert.deepEqual((await imported(filesFs({ npy, ids: '[7, "7", "x"]' }))).columns.ids, [7, '7', 'x']);
  const invalid: [string, RegExp][] = [
    ['["a", 1.5, "c"]', /safe integer/],
    ['["a", "", "c"]', /empty string/],
    ['["a", true, "c"]', /string or a safe integer/],
    ['["a", null, "c"]', /string or a safe integer/],
    ['["a", {"id": 1}, "c"]', /string or a safe integer/],
    ['["a", "\\ud800", "c"]', /unpaired surrogate/],
    ['["a", 9007199254740992, "c"]', /safe integer/],
    [`["a", "${'x'.repeat(65536)}", "c"]`, /at most 65535 UTF-8 bytes/],
  ];
  for (const [ids, message] of invalid) {
    const err = await rejects(imported(filesFs({ npy, ids })), 'CORRUPT', IDS, message);
    assert.ok(err instanceof CorruptionError && err.section === '[1]', `${ids.slice(0, 30)}: section ${(err as CorruptionError).section}`);
    assert.equal((err as CorruptionError).offset, 6);
  }
  for (const [ids, message] of [['{"ids": []}', /a JSON array of ids/], ['["a","b","c"', /truncated/], ['["a","b","c"] x', /after the end/], ['["a" "b","c"]', /"," or "]"/], ['', /truncated/]] as [string, RegExp][]) {
    await rejects(imported(filesFs({ npy, ids })), 'CORRUPT', IDS, message);
  }
  assert.deepEqual((await imported(filesFs({ npy, ids: '\ufeff [ "a" ,\n\t"b" , "c" ] \n' }))).columns.ids, ['a', 'b', 'c'], 'BOM and whitespace are fine');
});

test('the metadata file: optional, one object-or-null line per row, __proto__ kept as data', async () => {
  const npy = npyBytes(3, 4);
  assert.deepEqual((await imported(filesFs({ npy, ids: IDS3 }))).columns.metadata, [undefined, undefined, undefined], 'missing file: no metadata');
  const back = await imported(filesFs({ npy, ids: IDS3, meta: '{"__proto__": {"polluted": true}, "a": 1}\r\nnull\n{"b": [1, {"c": "ü"}]}' }));
  assert.deepEqual(Object.keys(back.columns.metadata[0] ?? {}), ['__proto__', 'a']);
  assert.equal(Object.getPrototypeOf(back.columns.metadata[0]), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
  assert.deepEqual(back.columns.metadata.slice(1), [undefined, { b: [1, { c: 'ü' }] }]);
  const bad: [string, RegExp, string][] = [
    ['{"a":1}\n[1,2]\nnull\n', /must be a JSON object or null, not an array/, 'line 2'],
    ['{"a":1}\n"text"\nnull\n', /not string/, 'line 2'],
    ['{"a":1}\nnull\n42\n', /not number/, 'line 3'],
    ['{"a":1}\n\nnull\n', /the line is empty/, 'line 2'],
    ['{"a":1}\nnull\n', /2 lines for the 3 vectors/, 'line 3'],
    ['{"a":1}\nnull\nnull\nnull\n', /more lines than the 3 vectors/, 'line 4'],
    ['{"a":1}\n{"b":\nnull\n', /invalid JSON/, 'line 2'],
    ['{"a":1}\nnull\nnull\n\n', /the line is empty/, 'line 4'],
  ];
  for (const [meta, message, section] of bad) {
    const err = await rejects(imported(filesFs({ npy, ids: IDS3, meta })), 'CORRUPT', META, message);
    assert.ok(err instanceof CorruptionError && err.section === section, `${JSON.stringify(meta)}: ${(err as CorruptionError).section}`);
  }
  const invalidUtf8 = Buffer.concat([Buffer.from('{"a":1}\n{"b":"'), Buffer.from([0xff]), Buffer.from('"}\nnull\n')]);
  const fs = filesFs({ npy, ids: IDS3 });
  fs.writeFileSync(META, invalidUtf8);
  await rejects(imported(fs), 'CORRUPT', META, /UTF-8/);
});

test('an import never returns partial data: a bad last row fails the whole file', async () => {
  const spec = awkwardSpec();
  const fs = await exported(spec);
  const npy = Uint8Array.from(fs.readFileSync(NPY));
  new DataView(npy.buffer).setFloat32(npy.length - 4, NaN, true);
  fs.writeFileSync(NPY, npy);
  await rejects(imported(fs), 'CORRUPT', NPY, new RegExp(`vector ${spec.ids.length - 1}`));
});

test('a bad sidecar stops the data read: no read runs after the import failed, every handle is closed', async () => {
  const rows = 40000;
  const base = filesFs({ npy: npyBytes(rows, 64, randomVectors(rows, 64, 8)), ids: `[${Array.from({ length: rows - 1 }, (_, i) => i).join(',')},"x",]` });
  const fault = new FaultFileSystem(base);
  await rejects(imported(fault), 'CORRUPT', IDS, /expected|value/);
  const after = fault.ops.length;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(fault.ops.length, after, 'nothing ran after the rejection');
  const opened = fault.ops.filter((o) => o.kind === 'open').length;
  const closed = fault.ops.filter((o) => o.kind === 'close').length;
  assert.equal(closed, opened, 'every handle was closed');
  assert.ok(fault.ops.some((o) => o.kind === 'read' && o.path === NPY), 'the data read had started');
});
