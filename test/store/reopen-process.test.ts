// Reopen in a fresh process after writes, deletes, metadata updates and a clear, in every durability
// mode, after a clean close and after an exit without close (the log alone must carry the writes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VectorDB } from '../../src/engine/vector-db.js';
import { digest } from './helpers.js';
import { runScript, SCRIPT_DIM } from './script.js';

const WRITER = fileURLToPath(new URL('./fixtures/reopen-writer.js', import.meta.url));
const READER = fileURLToPath(new URL('./fixtures/reopen-reader.js', import.meta.url));

function node(script: string, args: string[]): string {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${script} failed: ${r.stderr}`);
  return r.stdout.trim();
}

test('reopen in a fresh process: every mode, with and without close', async () => {
  const model = new VectorDB({ dimension: SCRIPT_DIM });
  await runScript(model);
  const expected = digest(model);
  assert.equal(model.len(), 28);
  const root = await mkdtemp(join(tmpdir(), 'quiver-reopen-'));
  try {
    for (const durability of ['sync', 'interval', 'none']) {
      for (const ending of ['close', 'exit']) {
        const dir = join(root, `${durability}-${ending}`);
        assert.equal(node(WRITER, [dir, durability, ending]), `digest ${expected}`);
        const got = JSON.parse(node(READER, [dir])) as { digest: string; count: number; replayed: number; created: boolean };
        assert.equal(got.digest, expected, `${durability}/${ending}`);
        assert.equal(got.count, 28);
        assert.equal(got.created, false);
        if (ending === 'close') assert.equal(got.replayed, 0, 'a clean close leaves nothing to replay');
        else assert.ok(got.replayed > 0, 'without close the log is replayed');
        // And once more after the reader's own close.
        assert.equal((JSON.parse(node(READER, [dir])) as { digest: string }).digest, expected);
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
