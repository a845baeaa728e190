// JSON's \uD800-\uDFFF escapes can spell a string no UTF-8 file can hold. Every reader of JSON text
// refuses such an id, metadata value or key as damage naming the file, where the engine's own insert
// refuses it as INVALID_METADATA / INVALID_ID: accepted, it would be silently changed by the next save.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorruptionError } from '../../src/errors.js';
import { nodeFs } from '../../src/env/node-fs.js';
import { importFile } from '../../src/interchange/index.js';
import { VectorDB } from '../../src/engine/vector-db.js';
import { DatabasePersistence } from '../../src/persistence/database-persistence.js';
import { parseJsonText } from '../../src/util/json-text.js';
import { tempDir } from '../support/db.js';

const LONE = '\\udc00x';
const PAIRED = '\\ud83d\\ude00';

/** A 2 x 3 little-endian float32 .npy file. */
function npy(): Buffer {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)]);
}

/**
 * Files of several formats whose only problem is `text` (a JSON string body) in an id or metadata:
 * what to import, and the file that holds the text.
 */
function foreignFiles(dir: string, text: string): Record<string, [string, string]> {
  const files: Record<string, [string, string]> = {};
  const put = (name: string, content: string | Buffer): [string, string] => {
    writeFileSync(join(dir, name), content);
    return [join(dir, name), join(dir, name)];
  };
  files['jsonl metadata value'] = put('a.jsonl', `{"id":"a","vector":[1,2,3],"metadata":{"k":"${text}"}}\n`);
  files['jsonl metadata key'] = put('b.jsonl', `{"id":"a","vector":[1,2,3],"metadata":{"${text}":1}}\n`);
  files['jsonl id'] = put('c.jsonl', `{"id":"${text}","vector":[1,2,3]}\n`);
  files['reference-000 metadata'] = put('r.json', `{"version":"1.0.0","vectors":[{"id":"a","vector":[1,2,3],"metadata":{"k":["${text}"]}}]}`);
  files['reference-000 id'] = put('s.json', `{"version":"1.0.0","vectors":[{"id":"${text}","vector":[1,2,3]}]}`);
  put('n.npy', npy());
  put('n.ids.json', '["a", 7]');
  files['npy metadata sidecar'] = [join(dir, 'n.npy'), put('n.metadata.jsonl', `{"k":{"deep":"${text}"}}\nnull\n`)[0]];
  put('m.npy', npy());
  files['npy ids sidecar'] = [join(dir, 'm.npy'), put('m.ids.json', `["${text}", 7]`)[0]];
  return files;
}

test('every JSON text reader refuses a lone surrogate escape as damage naming the file, and accepts a surrogate pair', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [what, [path, holder]] of Object.entries(foreignFiles(dir, LONE))) {
      await assert.rejects(importFile(nodeFs, path, { verifyChecksum: false }), (e: unknown) => {
        assert.ok(e instanceof CorruptionError, `${what}: ${String(e)}`);
        assert.equal(e.code, 'CORRUPT', what);
        assert.equal(e.file, holder, what);
        assert.match(e.message, /unpaired surrogate/, what);
        return true;
      });
    }
    // A well-formed pair (an emoji, escaped) is fine everywhere.
    for (const [what, [path]] of Object.entries(foreignFiles(dir, PAIRED))) {
      const { columns } = await importFile(nodeFs, path, { verifyChecksum: false });
      const texts = JSON.stringify([columns.ids, columns.metadata]);
      assert.ok(texts.includes('😀'), `${what}: ${texts}`);
    }
  } finally {
    cleanup();
  }
});

test('a JSON state file holding a lone surrogate does not load, and the database is untouched', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'state.json');
    writeFileSync(path, `{"format":"quiverdb","formatVersion":1,"kind":"full","seq":1,"stats":{"count":1,"dimension":3,"metric":"cosine"},"vectors":[\n{"id":"a","vector":[1,2,3],"metadata":{"k":"${LONE}"}}\n]}`);
    const db = new VectorDB({ dimension: 3 });
    await db.insert({ id: 'keep', vector: [1, 1, 1] });
    await assert.rejects(new DatabasePersistence(db, { baseDir: dir }).load({ path, verifyChecksum: false }), (e: unknown) => e instanceof CorruptionError && /vectors\[0\]\.metadata/.test(e.message) && /unpaired surrogate/.test(e.message));
    assert.deepEqual(db.ids(), ['keep']);
  } finally {
    cleanup();
  }
});

test('parseJsonText: checks only text with escapes, finds surrogates in nested values and keys', () => {
  assert.deepEqual(parseJsonText('{"a":[1,"x",{"b":"😀"}]}'), { a: [1, 'x', { b: '😀' }] });
  assert.deepEqual(parseJsonText('"\\ud83d\\ude00"'), '😀');
  assert.throws(() => parseJsonText('{"a":[1,{"b":"\\ud800"}]}'), /the value\.a\[1\]\.b holds an unpaired surrogate/);
  assert.throws(() => parseJsonText('{"\\udfff":1}'), /a key of the value holds an unpaired surrogate/);
  assert.throws(() => parseJsonText('"\\ude00\\ud83d"'), /unpaired surrogate/, 'a pair in the wrong order is two lone halves');
});
