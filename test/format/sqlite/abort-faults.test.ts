import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QuiverError } from '../../../src/errors.js';
import type { Id } from '../../../src/engine/types.js';
import { FaultFileSystem } from '../../../src/env/fault-fs.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import { NodeFileSystem, nodeFs } from '../../../src/env/node-fs.js';
import type { FileHandle, OpenMode } from '../../../src/env/fs.js';
import { BYTES_PER_SYNC } from '../../../src/env/background-sync.js';
import { applySqliteChanges, readSqliteState, writeSqliteState } from '../../../src/format/sqlite/index.js';
import { hashThreadReady } from '../../support/hash-thread.js';
import { assertColumnsEqual, awkwardSpec, inTempDir, makeChangeImage, makeImage, randomVectors, type ImageSpec } from './helpers.js';

function bigSpec(n = 6000, dim = 32): ImageSpec {
  const ids: Id[] = Array.from({ length: n }, (_, i) => `a${i}`);
  return { dimension: dim, ids, vectors: randomVectors(n, dim, 11), metadata: ids.map((id) => ({ id })) };
}

test('a cancelled write (before or during) leaves the previous file and no temp file', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'x.sqlite');
    const old = awkwardSpec();
    await writeSqliteState(nodeFs, path, makeImage(old));
    const before = readFileSync(path);
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(writeSqliteState(nodeFs, path, makeImage(bigSpec()), { signal: pre.signal }), { code: 'ABORTED' });
    const ctl = new AbortController();
    await assert.rejects(
      writeSqliteState(nodeFs, path, makeImage(bigSpec()), { signal: ctl.signal, onProgress: (p) => p.current > 1000 && ctl.abort() }),
      { code: 'ABORTED', message: /cancelled.*unchanged/ },
    );
    assert.ok(readFileSync(path).equals(before));
    assert.deepEqual(readdirSync(dir), ['x.sqlite']);
  });
});

test('cancelling a write whose buckets are hashed on the helper thread rejects once and leaves nothing unhandled', async () => {
  // Buckets of 1 MiB hashed on the helper thread: cancelling drops their digest jobs, whose promises
  // reject on purpose and must all be handled (an unhandled one would end the process).
  await hashThreadReady();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    await inTempDir(async (dir) => {
      const path = join(dir, 'x.sqlite');
      for (const at of [1000, 3000, 5000]) {
        const ctl = new AbortController();
        await assert.rejects(
          writeSqliteState(nodeFs, path, makeImage(bigSpec(6000, 256)), { signal: ctl.signal, onProgress: (p) => p.current > at && ctl.abort() }),
          { code: 'ABORTED' },
        );
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(readdirSync(dir), []);
    });
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled.map(String), []);
});

test('an exception thrown by the progress callback aborts the write the same way', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'y.sqlite');
    await assert.rejects(
      writeSqliteState(nodeFs, path, makeImage(bigSpec()), {
        onProgress: (p) => {
          if (p.current > 100) throw new Error('stop');
        },
      }),
      /stop/,
    );
    assert.ok(!existsSync(path));
    assert.deepEqual(readdirSync(dir), []);
  });
});

/** The real file system, counting fsyncs of handles and failing the `failAt`-th one with EIO. */
class SyncCountingFs extends NodeFileSystem {
  syncs = 0;
  constructor(private readonly failAt = 0) {
    super();
  }

  override async open(path: string, mode: OpenMode): Promise<FileHandle> {
    const h = await super.open(path, mode);
    const sync = h.sync.bind(h);
    h.sync = async () => {
      if (++this.syncs === this.failAt) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      await sync();
    };
    return h;
  }
}

test('a big write fsyncs the file SQLite builds in the background; a failed background fsync fails the save', async () => {
  const dim = 384;
  const n = Math.ceil((2.5 * BYTES_PER_SYNC) / (dim * 4));
  const ids: Id[] = Array.from({ length: n }, (_, i) => `v${i}`);
  const spec: ImageSpec = { dimension: dim, ids, vectors: randomVectors(n, dim, 5), metadata: ids.map(() => undefined) };
  await inTempDir(async (dir) => {
    const path = join(dir, 'big.sqlite');
    const counting = new SyncCountingFs();
    await writeSqliteState(counting, path, makeImage(spec));
    assert.ok(counting.syncs >= 3, `two background fsyncs and the final one, saw ${counting.syncs}`);
    assertColumnsEqual((await readSqliteState(nodeFs, path)).columns, spec);

    const before = readFileSync(path);
    const failing = new SyncCountingFs(1);
    await assert.rejects(writeSqliteState(failing, path, makeImage({ ...spec, ids: ids.map((id) => `${id}-new`) })), (err: unknown) => {
      assert.ok(err instanceof QuiverError);
      assert.equal(err.code, 'EIO');
      assert.match(err.message, /big\.sqlite/);
      return true;
    });
    // The first fsync is a background one (the first write above had two of them before the final).
    assert.ok(readFileSync(path).equals(before), 'the previous file is untouched');
    assert.deepEqual(readdirSync(dir), ['big.sqlite']);
  });
});

test('a cancelled read throws ABORTED', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'r.sqlite');
    await writeSqliteState(nodeFs, path, makeImage(bigSpec()));
    const ctl = new AbortController();
    await assert.rejects(readSqliteState(nodeFs, path, { signal: ctl.signal, onProgress: (p) => p.current > 2000 && ctl.abort() }), { code: 'ABORTED' });
    // An abort from a timer is noticed too: the read yields to the event loop between batches.
    const timed = new AbortController();
    setTimeout(() => timed.abort(), 0);
    await assert.rejects(readSqliteState(nodeFs, path, { signal: timed.signal }), { code: 'ABORTED' });
  });
});

test('memory file system: a cancelled write publishes nothing', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  const ctl = new AbortController();
  await assert.rejects(writeSqliteState(fs, '/d/a.sqlite', makeImage(bigSpec()), { signal: ctl.signal, onProgress: (p) => p.current > 10 && ctl.abort() }), { code: 'ABORTED' });
  assert.deepEqual(await fs.readdir('/d'), []);
});

test('I/O-error loop: failing the Nth file operation of a write keeps the old file and reports the OS code', async () => {
  const spec = awkwardSpec();
  const next: ImageSpec = { dimension: spec.dimension, ids: ['new'], vectors: randomVectors(1, spec.dimension), metadata: [{ n: 1 }] };
  for (const code of ['EIO', 'ENOSPC']) {
    let completed = false;
    for (let n = 1; n < 50 && !completed; n++) {
      const mem = new MemoryFileSystem();
      await mem.mkdir('/d');
      await writeSqliteState(mem, '/d/f.sqlite', makeImage(spec));
      const fs = new FaultFileSystem(mem, { faults: [{ at: n, code }] });
      try {
        await writeSqliteState(fs, '/d/f.sqlite', makeImage(next));
        completed = true;
        assertColumnsEqual((await readSqliteState(mem, '/d/f.sqlite')).columns, next);
      } catch (err) {
        assert.ok(err instanceof QuiverError && err.code === code, `op ${n}: ${String(err)}`);
        const state = (await readSqliteState(mem, '/d/f.sqlite')).columns;
        if (state.ids[0] === 'new') assertColumnsEqual(state, next); // failed after the rename: new state
        else assertColumnsEqual(state, spec);
      }
      assert.deepEqual(await mem.readdir('/d'), ['f.sqlite'], `op ${n}: no temp file left`);
    }
    assert.ok(completed, 'the write completes once the fault comes after its last operation');
  }
});

test('I/O-error loop: failing the Nth operation of an incremental save (memory fs) keeps old or new, never a mix', async () => {
  const base = bigSpec(300, 8);
  const change = makeChangeImage({ dimension: 8, ids: ['a1', 'z'], vectors: randomVectors(2, 8, 3), metadata: [{ u: 1 }, { u: 2 }], sinceSeq: 1, deletedIds: ['a2'], total: 300 });
  let completed = false;
  for (let n = 1; n < 50 && !completed; n++) {
    const mem = new MemoryFileSystem();
    await mem.mkdir('/d');
    const w = await writeSqliteState(mem, '/d/f.sqlite', makeImage(base));
    const fs = new FaultFileSystem(mem, { faults: [{ at: n, code: 'EIO' }] });
    try {
      await applySqliteChanges(fs, '/d/f.sqlite', change, { expectedChecksum: w.checksum });
      completed = true;
    } catch (err) {
      assert.ok(err instanceof QuiverError && err.code === 'EIO', `op ${n}: ${String(err)}`);
    }
    const r = await readSqliteState(mem, '/d/f.sqlite');
    assert.equal(r.columns.ids.length, 300, `op ${n}: one deleted, one inserted`);
    assert.ok(r.checksum === w.checksum || (r.columns.ids.includes('z') && !r.columns.ids.includes('a2')), `op ${n}: old or new`);
    assert.deepEqual(await mem.readdir('/d'), ['f.sqlite']);
  }
  assert.ok(completed);
});
