// Interoperability with NumPy itself: numpy loads what we write bit for bit, and what np.save writes
// imports. Skipped (with a message) when python3 with numpy is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuiverError } from '../../../src/errors.js';
import { nodeFs } from '../../../src/env/node-fs.js';
import { npyCodec } from '../../../src/format/npy/index.js';
import { loadFioriEmbeddings } from '../../../support/datasets.js';
import { tempDir } from '../../support/db.js';
import { assertSame, awkwardSpec, bytesOf, hasNumpy, makeImage, python, type ImageSpec } from './helpers.js';

const skip = hasNumpy() ? false : 'python3 with numpy is not installed';

test('numpy loads our export: shape, dtype, C order and the exact bytes', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const data = loadFioriEmbeddings();
    const path = join(dir, 'fiori.npy');
    await npyCodec.write(nodeFs, path, makeImage({ dimension: 384, ids: data.ids, vectors: data.vectors, metadata: data.metadata }));
    const out = python(
      'import sys, hashlib, numpy as np\n' +
        'a = np.load(sys.argv[1], allow_pickle=False)\n' +
        "print(a.shape, a.dtype.str, a.flags['C_CONTIGUOUS'], hashlib.sha256(a.tobytes()).hexdigest())",
      path,
    );
    const sha = createHash('sha256').update(bytesOf(data.vectors)).digest('hex');
    assert.equal(out.trim(), `(${data.ids.length}, 384) <f4 True ${sha}`);

    const awkward = awkwardSpec();
    const p2 = join(dir, 'awkward.npy');
    await npyCodec.write(nodeFs, p2, makeImage(awkward));
    const hex = python('import sys, numpy as np\nprint(np.load(sys.argv[1])[4].tobytes().hex())', p2).trim();
    assert.equal(hex, Buffer.from(bytesOf(awkward.vectors.subarray(24, 30))).toString('hex'), 'the extreme floats row, bit for bit');
    const ids = python('import sys, json\nprint(json.dumps(json.load(open(sys.argv[1]))))', join(dir, 'awkward.ids.json')).trim();
    assert.deepEqual(JSON.parse(ids), awkward.ids);
  } finally {
    cleanup();
  }
});

test('np.save files (versions 1.0, 2.0 and 3.0) import bit-exactly with a hand-made ids file', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const version of ['(1, 0)', '(2, 0)', '(3, 0)']) {
      const path = join(dir, `np${version.replace(/\D/g, '')}.npy`);
      // Values chosen in numpy, so the bits come from there: -0, subnormals, max float32, 1e-45.
      const hex = python(
        'import sys, numpy as np\n' +
          'a = np.array([[-0.0, 1e-45, 3.4028235e38, 0.1], [1/3, -2.5, 1.17549435e-38, 7]], dtype=np.float32)\n' +
          'a = np.concatenate([a, np.linspace(-1, 1, 4 * 50, dtype=np.float32).reshape(50, 4)])\n' +
          `with open(sys.argv[1], 'wb') as f: np.lib.format.write_array(f, a, version=${version})\n` +
          'print(a.tobytes().hex())',
        path,
      ).trim();
      const ids = Array.from({ length: 52 }, (_, i) => (i % 3 === 0 ? i : `row-${i}`));
      writeFileSync(join(dir, `np${version.replace(/\D/g, '')}.ids.json`), JSON.stringify(ids));
      const back = await npyCodec.read(nodeFs, path);
      const spec: ImageSpec = { dimension: 4, ids, vectors: new Float32Array(new Uint8Array(Buffer.from(hex, 'hex')).buffer) };
      assertSame(back.columns, spec);
      assert.equal(Object.is(back.columns.vectors[0], -0), true);
    }
  } finally {
    cleanup();
  }
});

test('numpy arrays we cannot take directly are refused with a numpy command that converts them', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cases: [string, RegExp][] = [
      ["np.zeros((3, 4), dtype='<f8')", /'<f8'.*astype\('<f4'\)/],
      ["np.zeros((3, 4), dtype='>f4')", /'>f4'.*astype\('<f4'\)/],
      ["np.zeros((3, 4), dtype=np.int32)", /'<i4'/],
      ["np.zeros((3, 4), dtype='<f2')", /'<f2'/],
      ["np.asfortranarray(np.zeros((3, 4), dtype='<f4'))", /Fortran.*ascontiguousarray/],
      ["np.zeros((2, 3, 4), dtype='<f4')", /shape is \(2, 3, 4\).*reshape/],
      ["np.zeros(4, dtype='<f4')", /shape is \(4\).*reshape/],
      ["np.zeros(3, dtype=[('a', '<f4'), ('b', '<i4')])", /structured dtype/],
    ];
    // One python run writes every case (numpy takes a while to start).
    python(`import sys, numpy as np\n${cases.map(([expr], i) => `np.save(sys.argv[1] + '/bad${i}.npy', ${expr})`).join('\n')}`, dir);
    for (const [i, [expr, message]] of cases.entries()) {
      const path = join(dir, `bad${i}.npy`);
      writeFileSync(join(dir, `bad${i}.ids.json`), '[1,2,3]');
      await assert.rejects(npyCodec.read(nodeFs, path), (e: unknown) => e instanceof QuiverError && e.code === 'UNSUPPORTED_FORMAT' && message.test(e.message) && e.message.includes(path), expr);
    }
    // A one-column Fortran-order array has the bytes of a C-order one: numpy writes it as C order, and a
    // header saying fortran_order for it is read as well.
    const path = join(dir, 'col.npy');
    python("import sys, numpy as np\nnp.save(sys.argv[1], np.asfortranarray(np.arange(3, dtype='<f4').reshape(3, 1)))", path);
    writeFileSync(join(dir, 'col.ids.json'), '["a","b","c"]');
    assert.deepEqual([...(await npyCodec.read(nodeFs, path)).columns.vectors], [0, 1, 2]);
  } finally {
    cleanup();
  }
});
