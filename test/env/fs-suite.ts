/**
 * The FileSystem conformance suite: every implementation (node, memory, fault-wrapped) must pass it,
 * so tests run against the memory file system mean the same thing on a real disk.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FileSystem } from '../../src/env/fs.js';

/** A fresh, empty directory `root` on `fs`; `cleanup` removes it. */
export interface FsFixture {
  fs: FileSystem;
  root: string;
  cleanup?: () => Promise<void>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Asserts that `p` rejects with an error whose `code` is `code` (or matches it). */
export async function rejectsWithCode(p: Promise<unknown>, code: string | RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    const got = (err as { code?: unknown }).code;
    const ok = typeof code === 'string' ? got === code : typeof got === 'string' && code.test(got);
    assert.ok(ok, `expected code ${String(code)}, got ${String(got)} (${String(err)})`);
    return true;
  });
}

/** Runs the conformance suite against the file systems `makeFs` creates (one per test). */
export function runFileSystemSuite(name: string, makeFs: () => Promise<FsFixture>): void {
  const withFs = (fn: (fs: FileSystem, p: (...parts: string[]) => string) => Promise<void>) => async () => {
    const fx = await makeFs();
    try {
      await fn(fx.fs, (...parts) => join(fx.root, ...parts));
    } finally {
      await fx.cleanup?.();
    }
  };
  const put = async (fs: FileSystem, path: string, text: string): Promise<void> => {
    const h = await fs.open(path, 'w');
    await h.write(enc(text), 0);
    await h.close();
  };
  const text = async (fs: FileSystem, path: string): Promise<string> => dec(await fs.readFile(path));

  describe(`FileSystem conformance: ${name}`, () => {
    test('w creates and truncates; wx refuses an existing file; r and r+ need one', withFs(async (fs, p) => {
      await put(fs, p('a'), 'hello world');
      assert.equal(await text(fs, p('a')), 'hello world');
      await put(fs, p('a'), 'hi');
      assert.equal(await text(fs, p('a')), 'hi');
      await rejectsWithCode(fs.open(p('a'), 'wx'), 'EEXIST');
      const h = await fs.open(p('b'), 'wx');
      await h.close();
      assert.equal((await fs.stat(p('b'))).size, 0);
      await rejectsWithCode(fs.open(p('missing'), 'r'), 'ENOENT');
      await rejectsWithCode(fs.open(p('missing'), 'r+'), 'ENOENT');
      await rejectsWithCode(fs.open(p('no', 'x'), 'w'), 'ENOENT');
      await rejectsWithCode(fs.open(p('a', 'x'), 'w'), 'ENOTDIR');
    }));

    test('dsync opens behave like their plain modes; dsync needs a writable mode', withFs(async (fs, p) => {
      const h = await fs.open(p('d'), 'wx', { dsync: true });
      await h.write(enc('header'), 0);
      await h.write(enc('+rec'), 6);
      assert.equal(await h.size(), 10);
      await h.close();
      await rejectsWithCode(fs.open(p('d'), 'wx', { dsync: true }), 'EEXIST');
      const r = await fs.open(p('d'), 'r+', { dsync: true });
      await r.write(enc('HE'), 0);
      const buf = new Uint8Array(10);
      assert.equal(await r.read(buf, 0), 10);
      assert.equal(dec(buf), 'HEader+rec');
      await r.truncate(6);
      await r.close();
      const a = await fs.open(p('d'), 'a', { dsync: true });
      await a.write(enc('!'), 0);
      await a.close();
      assert.equal(await text(fs, p('d')), 'HEader!');
      const w = await fs.open(p('d'), 'w', { dsync: true });
      await w.write(enc('new'));
      await w.close();
      assert.equal(await text(fs, p('d')), 'new');
      await assert.rejects(fs.open(p('d'), 'r', { dsync: true }), TypeError);
      await rejectsWithCode(fs.open(p('missing'), 'r+', { dsync: true }), 'ENOENT');
    }));

    test('r+ writes in place and reads back', withFs(async (fs, p) => {
      await put(fs, p('f'), 'abcdef');
      const h = await fs.open(p('f'), 'r+');
      await h.write(enc('XY'), 2);
      const buf = new Uint8Array(6);
      assert.equal(await h.read(buf, 0), 6);
      assert.equal(dec(buf), 'abXYef');
      await h.close();
    }));

    test('positional writes leave zero-filled holes; reads stop at EOF', withFs(async (fs, p) => {
      const h = await fs.open(p('f'), 'w');
      await h.write(enc('end'), 10);
      await h.write(enc('st'), 0);
      assert.equal(await h.size(), 13);
      await h.close();
      const bytes = await fs.readFile(p('f'));
      assert.deepEqual([...bytes], [115, 116, 0, 0, 0, 0, 0, 0, 0, 0, 101, 110, 100]);
      const r = await fs.open(p('f'), 'r');
      const buf = new Uint8Array(8).fill(7);
      assert.equal(await r.read(buf, 11, 2, 5), 2);
      assert.deepEqual([...buf], [7, 7, 110, 100, 7, 7, 7, 7]);
      assert.equal(await r.read(buf, 13), 0);
      assert.equal(await r.read(buf, 100), 0);
      await r.close();
    }));

    test('writes without a position continue where the last one ended', withFs(async (fs, p) => {
      const h = await fs.open(p('f'), 'w');
      await h.write(enc('one,'));
      await h.write(enc('two,'));
      await h.write(enc('THREE'), 100); // positional writes do not move the sequential offset
      await h.write(enc('three'));
      await h.truncate(13);
      await h.close();
      assert.equal(await text(fs, p('f')), 'one,two,three');
    }));

    test('a creates, appends at the end whatever the position, and keeps content', withFs(async (fs, p) => {
      const h = await fs.open(p('log'), 'a');
      await h.write(enc('a1'));
      await h.close();
      const h2 = await fs.open(p('log'), 'a');
      await h2.write(enc('b2'), 0);
      await h2.write(enc('c3'));
      await h2.close();
      assert.equal(await text(fs, p('log')), 'a1b2c3');
    }));

    test('truncate shrinks and extends with zeros', withFs(async (fs, p) => {
      await put(fs, p('f'), 'abcdef');
      const h = await fs.open(p('f'), 'r+');
      await h.truncate(2);
      assert.equal(await h.size(), 2);
      await h.truncate(5);
      await h.close();
      assert.deepEqual([...(await fs.readFile(p('f')))], [97, 98, 0, 0, 0]);
    }));

    test('handles enforce their mode and die on close', withFs(async (fs, p) => {
      await put(fs, p('f'), 'abc');
      const r = await fs.open(p('f'), 'r');
      await rejectsWithCode(r.write(enc('x'), 0), 'EBADF');
      await rejectsWithCode(r.truncate(1), 'EINVAL');
      await r.close();
      await r.close(); // twice is fine
      await rejectsWithCode(r.read(new Uint8Array(1), 0), 'EBADF');
      await rejectsWithCode(r.sync(), 'EBADF');
      const w = await fs.open(p('f'), 'a');
      await rejectsWithCode(w.read(new Uint8Array(1), 0), 'EBADF');
      await w.close();
      await rejectsWithCode(w.write(enc('x')), 'EBADF');
      assert.equal(await text(fs, p('f')), 'abc');
    }));

    test('rename moves, replaces an existing target, and keeps open handles working', withFs(async (fs, p) => {
      await put(fs, p('old'), 'new content');
      await put(fs, p('target'), 'old content');
      const h = await fs.open(p('old'), 'r');
      await fs.rename(p('old'), p('target'));
      assert.equal(await text(fs, p('target')), 'new content');
      await rejectsWithCode(fs.stat(p('old')), 'ENOENT');
      const buf = new Uint8Array(3);
      assert.equal(await h.read(buf, 0), 3);
      assert.equal(dec(buf), 'new');
      await h.close();
      await fs.rename(p('target'), p('target'));
      assert.equal(await text(fs, p('target')), 'new content');
      await rejectsWithCode(fs.rename(p('gone'), p('x')), 'ENOENT');
      await rejectsWithCode(fs.rename(p('target'), p('nodir', 'x')), 'ENOENT');
    }));

    test('link gives a file a second name: same bytes, and it outlives the first name', withFs(async (fs, p) => {
      await put(fs, p('a'), 'shared');
      await fs.link(p('a'), p('b'));
      assert.equal(await text(fs, p('b')), 'shared');
      const h = await fs.open(p('a'), 'r+');
      await h.write(enc('SH'), 0);
      await h.close();
      assert.equal(await text(fs, p('b')), 'SHared', 'both names are one file');
      await put(fs, p('c'), 'replacement');
      await fs.rename(p('c'), p('a'));
      assert.equal(await text(fs, p('a')), 'replacement');
      assert.equal(await text(fs, p('b')), 'SHared', 'replacing one name leaves the other');
      await fs.unlink(p('b'));
      await rejectsWithCode(fs.stat(p('b')), 'ENOENT');
      await rejectsWithCode(fs.link(p('a'), p('a')), 'EEXIST');
      await rejectsWithCode(fs.link(p('missing'), p('x')), 'ENOENT');
      await rejectsWithCode(fs.link(p('a'), p('nodir', 'x')), 'ENOENT');
      await fs.mkdir(p('d'));
      await rejectsWithCode(fs.link(p('d'), p('d2')), 'EPERM');
    }));

    test('rename of directories: moves trees, refuses bad targets', withFs(async (fs, p) => {
      await fs.mkdir(p('d', 'sub'), { recursive: true });
      await put(fs, p('d', 'sub', 'f'), 'deep');
      await fs.mkdir(p('empty'));
      await fs.rename(p('d'), p('empty'));
      assert.equal(await text(fs, p('empty', 'sub', 'f')), 'deep');
      await put(fs, p('file'), 'x');
      await fs.mkdir(p('full'));
      await put(fs, p('full', 'x'), 'x');
      await rejectsWithCode(fs.rename(p('empty'), p('file')), 'ENOTDIR');
      await rejectsWithCode(fs.rename(p('file'), p('empty')), 'EISDIR');
      await rejectsWithCode(fs.rename(p('empty'), p('full')), 'ENOTEMPTY');
      await rejectsWithCode(fs.rename(p('empty'), p('empty', 'sub', 'inside')), 'EINVAL');
    }));

    test('readdir lists names of a directory', withFs(async (fs, p) => {
      await fs.mkdir(p('d'));
      for (const n of ['b', 'a', 'c.txt']) await put(fs, p('d', n), n);
      await fs.mkdir(p('d', 'sub'));
      assert.deepEqual((await fs.readdir(p('d'))).sort(), ['a', 'b', 'c.txt', 'sub']);
      assert.deepEqual(await fs.readdir(p('d', 'sub')), []);
      await rejectsWithCode(fs.readdir(p('nope')), 'ENOENT');
      await rejectsWithCode(fs.readdir(p('d', 'a')), 'ENOTDIR');
    }));

    test('stat reports size and kind', withFs(async (fs, p) => {
      await put(fs, p('f'), '12345');
      await fs.mkdir(p('d'));
      const f = await fs.stat(p('f'));
      assert.equal(f.size, 5);
      assert.equal(f.isFile, true);
      assert.equal(f.isDirectory, false);
      assert.equal(typeof f.mtimeMs, 'number');
      const d = await fs.stat(p('d'));
      assert.equal(d.isDirectory, true);
      assert.equal(d.isFile, false);
      await rejectsWithCode(fs.stat(p('nope')), 'ENOENT');
      await rejectsWithCode(fs.stat(p('f', 'x')), 'ENOTDIR');
    }));

    test('mkdir: plain, recursive, existing', withFs(async (fs, p) => {
      await fs.mkdir(p('a'));
      await rejectsWithCode(fs.mkdir(p('a')), 'EEXIST');
      await fs.mkdir(p('a'), { recursive: true });
      await rejectsWithCode(fs.mkdir(p('x', 'y')), 'ENOENT');
      await fs.mkdir(p('x', 'y', 'z'), { recursive: true });
      assert.equal((await fs.stat(p('x', 'y', 'z'))).isDirectory, true);
      await put(fs, p('f'), '');
      await rejectsWithCode(fs.mkdir(p('f'), { recursive: true }), 'EEXIST');
      await rejectsWithCode(fs.mkdir(p('f', 'g'), { recursive: true }), 'ENOTDIR');
    }));

    test('rm: files, trees, missing paths; unlink: files only', withFs(async (fs, p) => {
      await fs.mkdir(p('t', 'a', 'b'), { recursive: true });
      await put(fs, p('t', 'a', 'b', 'f'), 'x');
      await put(fs, p('t', 'g'), 'y');
      await rejectsWithCode(fs.rm(p('t')), /EISDIR/);
      await fs.rm(p('t'), { recursive: true });
      await rejectsWithCode(fs.stat(p('t')), 'ENOENT');
      await fs.rm(p('t'));
      await fs.rm(p('nope', 'deeper'), { recursive: true });
      await put(fs, p('f'), 'x');
      await fs.rm(p('f'));
      await rejectsWithCode(fs.stat(p('f')), 'ENOENT');
      await put(fs, p('u'), 'x');
      await fs.unlink(p('u'));
      await rejectsWithCode(fs.unlink(p('u')), 'ENOENT');
      await fs.mkdir(p('d'));
      await rejectsWithCode(fs.unlink(p('d')), 'EISDIR');
    }));

    test('an unlinked file stays readable through an open handle', withFs(async (fs, p) => {
      await put(fs, p('f'), 'still here');
      const h = await fs.open(p('f'), 'r');
      await fs.unlink(p('f'));
      const buf = new Uint8Array(10);
      assert.equal(await h.read(buf, 0), 10);
      assert.equal(dec(buf), 'still here');
      await h.close();
      assert.deepEqual(await fs.readdir(p()), []);
    }));

    test('readFile: content, ENOENT, EISDIR; directories cannot be opened for writing', withFs(async (fs, p) => {
      await put(fs, p('f'), 'data');
      assert.equal(await text(fs, p('f')), 'data');
      await rejectsWithCode(fs.readFile(p('nope')), 'ENOENT');
      await fs.mkdir(p('d'));
      await rejectsWithCode(fs.readFile(p('d')), 'EISDIR');
      await rejectsWithCode(fs.open(p('d'), 'w'), 'EISDIR');
      await rejectsWithCode(fs.open(p('d'), 'wx'), 'EEXIST');
    }));

    test('sync and syncDir succeed; syncDir of a missing directory is ENOENT', withFs(async (fs, p) => {
      const h = await fs.open(p('f'), 'w');
      await h.write(enc('x'), 0);
      await h.sync();
      await h.close();
      await fs.syncDir(p());
      await rejectsWithCode(fs.syncDir(p('nope')), 'ENOENT');
    }));
  });
}
