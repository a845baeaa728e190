import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exchangeFormats } from '../../src/interchange/index.js';
import { tempDir } from '../support/db.js';

const child = fileURLToPath(new URL('./big-child.js', import.meta.url));

for (const format of ['json', 'jsonl'] as const) {
  const known = exchangeFormats().includes(format);
  test(`${format}: a database over 512 MB of text exports and imports with --max-old-space-size=1024`, { skip: !known && `${format} is not built in this version` }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = spawnSync(process.execPath, ['--max-old-space-size=1024', child, format, dir], { encoding: 'utf8', timeout: 240_000 });
      assert.equal(r.status, 0, `child failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { bytes: number; count: number; same: boolean; heapLimitMB: number };
      assert.ok(out.bytes > 512 * 2 ** 20, `the ${format} file has only ${out.bytes} bytes`);
      assert.ok(out.heapLimitMB <= 1200, `heap limit ${out.heapLimitMB} MB`);
      assert.equal(out.count, 130_000);
      assert.equal(out.same, true, 'every id, vector and metadata value came back');
    } finally {
      cleanup();
    }
  });
}
