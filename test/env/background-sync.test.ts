// Background fsyncs while a big file is written: when they start, that a failed one fails the publish
// (an early writeback error must never be lost), and that the publish still leaves old-or-new content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TEMP_SUFFIX } from '../../src/env/temp-files.js';
import { BackgroundSync, BYTES_PER_SYNC } from '../../src/env/background-sync.js';
import { FaultFileSystem } from '../../src/env/fault-fs.js';
import { QuiverError } from '../../src/errors.js';
import { bigContent, DIR, freshDisk, publishInChunks, TARGET } from './publish-helpers.js';

test('BackgroundSync starts a sync per BYTES_PER_SYNC written, never two at once, and settle reports a failure', async () => {
  const calls: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const bg = new BackgroundSync(() => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })));
  bg.wrote(BYTES_PER_SYNC - 1);
  assert.equal(calls.length, 0, 'below the threshold nothing is synced');
  bg.wrote(1);
  assert.equal(calls.length, 1, 'the threshold starts one sync');
  bg.wrote(3 * BYTES_PER_SYNC);
  assert.equal(calls.length, 1, 'no second sync while one runs');
  calls[0].resolve();
  await bg.settle();
  bg.wrote(1);
  assert.equal(calls.length, 2, 'bytes written during a sync start the next one at the next write after it');
  calls[1].resolve();
  await bg.settle();
  bg.wrote(BYTES_PER_SYNC - 1);
  assert.equal(calls.length, 2, 'the count restarted when that sync started');
  bg.wrote(1);
  assert.equal(calls.length, 3);
  calls[2].reject(Object.assign(new Error('writeback failed'), { code: 'EIO' }));
  await assert.rejects(bg.settle(), { code: 'EIO' });
  await assert.rejects(bg.settle(), { code: 'EIO' }, 'the failure stays reported');
});

test('a big publish fsyncs in the background while it writes, and the result is exactly what was written', async () => {
  const data = bigContent(10);
  const mem = freshDisk(false);
  const fs = new FaultFileSystem(mem);
  await publishInChunks(fs, data);
  const kinds = fs.ops.map((o) => o.kind);
  const lastWrite = kinds.lastIndexOf('write');
  const early = kinds.slice(0, lastWrite).filter((k) => k === 'sync').length;
  assert.ok(early >= 1, `a sync before the last write (ops: ${kinds.join(' ')})`);
  assert.ok(early <= Math.ceil(data.length / BYTES_PER_SYNC), 'at most one per BYTES_PER_SYNC');
  assert.equal(kinds.filter((k) => k === 'sync').length, early + 1, 'plus the final fsync');
  assert.ok(Buffer.from(mem.snapshotDurable().readFileSync(TARGET)).equals(Buffer.from(data)), 'durable and exact');
});

test('a failed background fsync fails the publish: the target is untouched and no temp file is left', async () => {
  const data = bigContent(6);
  const mem = freshDisk(true);
  const before = Buffer.from(mem.readFileSync(TARGET));
  const fs = new FaultFileSystem(mem).failAt(1, 'EIO', { kinds: ['sync'] });
  await assert.rejects(publishInChunks(fs, data), (err: unknown) => {
    assert.ok(err instanceof QuiverError);
    assert.equal(err.code, 'EIO');
    assert.match(err.message, /\/db\/target/);
    assert.match(err.message, /fsync/, 'reported as the fsync it is');
    return true;
  });
  const failed = fs.ops.find((o) => o.failed !== undefined);
  assert.equal(failed?.kind, 'sync');
  assert.ok(fs.ops.indexOf(failed) < fs.ops.map((o) => o.kind).lastIndexOf('write'), 'it was a background sync, not the final one');
  assert.ok(Buffer.from(mem.readFileSync(TARGET)).equals(before));
  assert.deepEqual((await mem.readdir(DIR)).filter((n) => n.endsWith(TEMP_SUFFIX)), []);
});
