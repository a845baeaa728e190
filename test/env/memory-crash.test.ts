import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { rejectsWithCode } from './fs-suite.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

async function writeFile(fs: MemoryFileSystem, path: string, text: string, sync: boolean): Promise<void> {
  const h = await fs.open(path, 'w');
  await h.write(enc(text), 0);
  if (sync) await h.sync();
  await h.close();
}

test('crash: unsynced bytes are lost, synced bytes are kept', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d');
  await fs.syncDir('/');
  const h = await fs.open('/d/f', 'w');
  await h.write(enc('AAAA'), 0);
  await h.sync();
  await fs.syncDir('/d');
  await h.write(enc('BBBB'), 4);
  await h.write(enc('aa'), 0);
  assert.equal(dec(fs.readFileSync('/d/f')), 'aaAABBBB');
  const report = fs.crash();
  assert.equal(dec(fs.readFileSync('/d/f')), 'AAAA');
  assert.equal(report.revertedFiles, 1);
  await rejectsWithCode(h.write(enc('x'), 0), 'EBADF');
  await h.close();
});

test('crash: a created file whose directory was not synced disappears, even with synced data', async () => {
  const fs = new MemoryFileSystem();
  await writeFile(fs, '/kept', 'k', true);
  await fs.syncDir('/');
  await writeFile(fs, '/lost', 'l', true);
  fs.crash();
  assert.deepEqual(fs.listAll(), ['/kept']);
  assert.equal(dec(fs.readFileSync('/kept')), 'k');
});

test('crash: mkdir is lost until its parent is synced', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/a/b', { recursive: true });
  await fs.syncDir('/');
  fs.crash();
  assert.deepEqual(fs.listAll(), ['/a/'], 'b was made in /a, which was never synced');
});

test('crash: rename without syncDir is lost; after syncDir it is kept', async () => {
  const setup = (): MemoryFileSystem => {
    const fs = new MemoryFileSystem();
    fs.writeFileSync('/db/target', enc('old'));
    fs.writeFileSync('/db/tmp', enc('new'));
    return fs;
  };
  const a = setup();
  await a.rename('/db/tmp', '/db/target');
  assert.equal(dec(a.readFileSync('/db/target')), 'new');
  a.crash();
  assert.deepEqual(a.listAll(), ['/db/', '/db/target', '/db/tmp']);
  assert.equal(dec(a.readFileSync('/db/target')), 'old');

  const b = setup();
  await b.rename('/db/tmp', '/db/target');
  await b.syncDir('/db');
  b.crash();
  assert.deepEqual(b.listAll(), ['/db/', '/db/target']);
  assert.equal(dec(b.readFileSync('/db/target')), 'new');
});

test('crash: a link is lost until its directory is synced, and keeps the file alive after the first name goes', async () => {
  const a = new MemoryFileSystem();
  a.writeFileSync('/db/f', enc('data'));
  await a.link('/db/f', '/db/g');
  a.crash();
  assert.deepEqual(await a.readdir('/db'), ['f']);
  await a.link('/db/f', '/db/g');
  await a.syncDir('/db');
  await a.unlink('/db/f');
  await a.syncDir('/db');
  a.crash();
  assert.deepEqual(await a.readdir('/db'), ['g']);
  assert.equal(dec(a.readFileSync('/db/g')), 'data');
});

test('random crash: an unsynced rename survives or not, but always whole', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/db/target', enc('old'));
  fs.writeFileSync('/db/tmp', enc('new'));
  await fs.rename('/db/tmp', '/db/target');
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 64; seed++) {
    const img = fs.snapshotDurable({ seed });
    const state = img.listAll().join(',') + ' ' + dec(img.readFileSync('/db/target'));
    assert.ok(state === '/db/,/db/target,/db/tmp old' || state === '/db/,/db/target new', `seed ${seed}: ${state}`);
    outcomes.add(state);
  }
  assert.equal(outcomes.size, 2, 'both outcomes occur across seeds');
  assert.equal(fs.snapshotDurable({ seed: 1, dirOpKeepProbability: 1 }).listAll().length, 2);
  assert.equal(fs.snapshotDurable({ seed: 1, dirOpKeepProbability: 0 }).listAll().length, 3);
});

test('crash: renaming a file whose bytes were never synced leaves an empty file (the missing-fsync bug)', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/db/manifest', enc('v1'));
  await writeFile(fs, '/db/manifest.tmp', 'v2', false);
  await fs.rename('/db/manifest.tmp', '/db/manifest');
  await fs.syncDir('/db');
  fs.crash();
  assert.equal(fs.readFileSync('/db/manifest').length, 0);
});

test('crash: unlink and truncating open are undone without sync', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/a', enc('alpha'));
  fs.writeFileSync('/b', enc('bravo'));
  await fs.unlink('/a');
  await writeFile(fs, '/b', 'B', false);
  await fs.rm('/b2', { recursive: true });
  fs.crash();
  assert.equal(dec(fs.readFileSync('/a')), 'alpha');
  assert.equal(dec(fs.readFileSync('/b')), 'bravo');
});

test('syncDir carries the operations a rename builds on', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/in');
  await fs.mkdir('/out');
  await fs.syncDir('/');
  await writeFile(fs, '/in/x', 'payload', true);
  await writeFile(fs, '/in/other', 'o', true);
  await fs.rename('/in/x', '/out/y');
  await fs.syncDir('/out');
  assert.equal(fs.pendingDirOps, 1, 'only the unrelated create stays pending');
  fs.crash();
  assert.deepEqual(fs.listAll(), ['/in/', '/out/', '/out/y']);
  assert.equal(dec(fs.readFileSync('/out/y')), 'payload');
});

test('seeded torn writes keep a prefix of the unsynced writes, the same for the same seed', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/log', enc('HEAD'));
  const h = await fs.open('/log', 'a');
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const c = new Uint8Array(16).map((_, j) => 65 + ((i * 16 + j) % 26));
    chunks.push(c);
    await h.write(c);
  }
  const full = fs.readFileSync('/log');
  let torn = 0;
  let none = 0;
  let all = 0;
  for (let seed = 0; seed < 200; seed++) {
    const got = fs.snapshotDurable({ seed }).readFileSync('/log');
    assert.ok(got.length >= 4, `seed ${seed}: the durable part is always there`);
    assert.deepEqual(got, full.subarray(0, got.length), `seed ${seed}: not a prefix`);
    assert.deepEqual(fs.snapshotDurable({ seed }).readFileSync('/log'), got, `seed ${seed}: not deterministic`);
    if (got.length === 4) none++;
    else if (got.length === full.length) all++;
    else if ((got.length - 4) % 16 !== 0) torn++;
  }
  assert.ok(torn > 0 && none > 0 && all > 0, `torn ${torn}, none ${none}, all ${all}`);
  await h.close();
});

test('seeded torn positional writes replay the first k writes and part of the next', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/f', new Uint8Array(12));
  const h = await fs.open('/f', 'r+');
  const writes: Array<[number, Uint8Array]> = [[8, enc('cccc')], [0, enc('aaaaaa')], [4, enc('bbbbbbbbbbbb')]];
  for (const [pos, data] of writes) await h.write(data, pos);
  await h.truncate(14);
  const candidates = new Set<string>();
  const img = new Uint8Array(20);
  let size = 12;
  for (let k = 0; k <= writes.length; k++) {
    const [pos, data] = writes[k] ?? [0, new Uint8Array(0)];
    for (let cut = 0; cut <= data.length; cut++) {
      const t = img.slice();
      t.set(data.subarray(0, cut), pos);
      candidates.add(dec(t.subarray(0, Math.max(size, cut > 0 ? pos + cut : 0))));
    }
    img.set(data, pos);
    size = Math.max(size, pos + data.length);
  }
  candidates.add(dec(img.subarray(0, 14)));
  for (let seed = 0; seed < 100; seed++) {
    const got = dec(fs.snapshotDurable({ seed }).readFileSync('/f'));
    assert.ok(candidates.has(got), `seed ${seed}: ${JSON.stringify(got)} is not a torn prefix`);
  }
  await h.close();
});

test('dsync writes are durable when they resolve; a power cut while one is in flight keeps a prefix of it', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/log', enc('HEAD'));
  const h = await fs.open('/log', 'r+', { dsync: true });
  await h.write(enc('first'), 4);
  assert.equal(dec(fs.snapshotDurable({ seed: 1 }).readFileSync('/log')), 'HEADfirst', 'no fsync needed');
  // Images taken while the next write is in flight (before it resolves).
  const inFlight = h.write(enc('SECOND'), 9);
  const seen = new Set<string>();
  for (let seed = 0; seed < 100; seed++) seen.add(dec(fs.snapshotDurable({ seed }).readFileSync('/log')));
  for (const got of seen) assert.ok('HEADfirstSECOND'.startsWith(got) && got.length >= 9, `${JSON.stringify(got)} is not a torn prefix`);
  assert.ok(seen.has('HEADfirst') && seen.size > 2, `the write in flight is sometimes dropped, sometimes torn: ${[...seen].join(', ')}`);
  await inFlight;
  fs.crash();
  assert.equal(dec(fs.readFileSync('/log')), 'HEADfirstSECOND');
});

test('a dsync write makes only its own bytes durable, not earlier unsynced writes of the file', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/log', enc('HEAD'));
  const plain = await fs.open('/log', 'r+');
  await plain.write(enc('loose'), 4);
  const d = await fs.open('/log', 'r+', { dsync: true });
  await d.write(enc('ACK'), 9);
  assert.equal(dec(fs.readFileSync('/log')), 'HEADlooseACK');
  // Only durable state: the unsynced write is lost, leaving a hole (zeros) in front of the forced one.
  assert.deepEqual([...fs.snapshotDurable().readFileSync('/log')], [...enc('HEAD'), 0, 0, 0, 0, 0, ...enc('ACK')]);
  for (let seed = 0; seed < 50; seed++) {
    const got = fs.snapshotDurable({ seed }).readFileSync('/log');
    assert.equal(dec(got.subarray(9)), 'ACK', `seed ${seed}: the forced write survives`);
  }
  await plain.sync();
  assert.equal(dec(fs.snapshotDurable().readFileSync('/log')), 'HEADlooseACK');
  await plain.close();
  await d.close();
});

test('snapshotDurable leaves the live file system running; crash kills old handles', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/a/b/c', enc('durable'));
  const h = await fs.open('/a/b/c', 'r+');
  await h.write(enc('LIVE'), 0);
  const img = fs.snapshotDurable();
  assert.equal(dec(img.readFileSync('/a/b/c')), 'durable');
  assert.equal(dec(fs.readFileSync('/a/b/c')), 'LIVEble');
  await h.write(enc('!'), 7);
  assert.equal(dec(fs.readFileSync('/a/b/c')), 'LIVEble!');
  await img.unlink('/a/b/c');
  assert.deepEqual(fs.listAll(), ['/a/', '/a/b/', '/a/b/c']);
  fs.crash();
  await rejectsWithCode(h.read(new Uint8Array(1), 0), 'EBADF');
  const h2 = await fs.open('/a/b/c', 'r');
  const buf = new Uint8Array(7);
  await h2.read(buf, 0);
  assert.equal(dec(buf), 'durable');
  await h2.close();
});

test('a crash image is itself durable: crashing it again changes nothing', async () => {
  const fs = new MemoryFileSystem();
  fs.writeFileSync('/x/y', enc('1'));
  await writeFile(fs, '/x/z', 'zz', true);
  await fs.rename('/x/y', '/x/w');
  const img = fs.snapshotDurable({ seed: 7 });
  const before = img.listAll().map((p) => (p.endsWith('/') ? p : `${p}=${dec(img.readFileSync(p))}`));
  assert.equal(img.pendingDirOps, 0);
  img.crash({ seed: 99 });
  assert.deepEqual(img.listAll().map((p) => (p.endsWith('/') ? p : `${p}=${dec(img.readFileSync(p))}`)), before);
});

test('a write keeps its own copy of the bytes: a Buffer the writer reuses afterwards changes neither the file nor what a crash keeps', async () => {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  await fs.syncDir('/');
  const h = await fs.open('/d/f', 'w');
  const buf = Buffer.from([1, 2, 3, 4]);
  await h.write(buf, 0);
  buf.fill(7); // a writer's buffer, reused once its write resolved
  await h.sync();
  await h.close();
  await fs.syncDir('/d');
  assert.deepEqual([...fs.readFileSync('/d/f')], [1, 2, 3, 4]);
  fs.crash();
  assert.deepEqual([...fs.readFileSync('/d/f')], [1, 2, 3, 4]);
});
