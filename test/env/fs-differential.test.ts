// Random operation sequences run on a real directory and on MemoryFileSystem must give the same
// results, error codes and final tree: the memory model is only worth its crash tests if it behaves
// like the disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { NodeFileSystem } from '../../src/env/node-fs.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import type { FileSystem, OpenMode } from '../../src/env/fs.js';

type Op =
  | { op: 'write'; path: string; mode: OpenMode; text: string; pos: number | undefined }
  | { op: 'truncate'; path: string; length: number }
  | { op: 'mkdir' | 'rm'; path: string; recursive: boolean }
  | { op: 'unlink' | 'stat' | 'readdir' | 'readFile'; path: string }
  | { op: 'rename'; path: string; to: string };

const PATHS = ['a', 'b', 'd', 'd/a', 'd/e', 'd/e/f', 'e', 'e/a'];
const path = fc.constantFrom(...PATHS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), path, mode: fc.constantFrom<OpenMode>('w', 'wx', 'a', 'r+'), text: fc.string({ maxLength: 6 }), pos: fc.option(fc.nat(12), { nil: undefined }) }),
  fc.record({ op: fc.constant('truncate' as const), path, length: fc.nat(10) }),
  fc.record({ op: fc.constantFrom('mkdir' as const, 'rm' as const), path, recursive: fc.boolean() }),
  fc.record({ op: fc.constantFrom('unlink' as const, 'stat' as const, 'readdir' as const, 'readFile' as const), path }),
  fc.record({ op: fc.constant('rename' as const), path, to: path }),
);

const dec = (b: Uint8Array): string => Buffer.from(b).toString('hex');

async function run(fs: FileSystem, root: string, op: Op): Promise<unknown> {
  const p = join(root, op.path);
  try {
    switch (op.op) {
      case 'write': {
        const h = await fs.open(p, op.mode);
        try {
          await h.write(new TextEncoder().encode(op.text), op.pos);
        } finally {
          await h.close();
        }
        return 'ok';
      }
      case 'truncate': {
        const h = await fs.open(p, 'r+');
        try {
          await h.truncate(op.length);
        } finally {
          await h.close();
        }
        return 'ok';
      }
      case 'mkdir':
        await fs.mkdir(p, { recursive: op.recursive });
        return 'ok';
      case 'rm':
        await fs.rm(p, { recursive: op.recursive });
        return 'ok';
      case 'unlink':
        await fs.unlink(p);
        return 'ok';
      case 'rename':
        await fs.rename(p, join(root, op.to));
        return 'ok';
      case 'stat': {
        const s = await fs.stat(p);
        return { size: s.isFile ? s.size : -1, isFile: s.isFile, isDirectory: s.isDirectory };
      }
      case 'readdir':
        return (await fs.readdir(p)).sort();
      case 'readFile':
        return dec(await fs.readFile(p));
    }
  } catch (err) {
    const code = String((err as { code?: unknown }).code);
    // Node's rm reports a directory without `recursive` with its own code; the OS meaning is EISDIR.
    return `error ${code === 'ERR_FS_EISDIR' ? 'EISDIR' : code}`;
  }
}

async function tree(fs: FileSystem, dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await fs.readdir(dir)).sort()) {
    const p = join(dir, name);
    const s = await fs.stat(p);
    if (s.isDirectory) out.push(`${prefix}${name}/`, ...(await tree(fs, p, `${prefix}${name}/`)));
    else out.push(`${prefix}${name}=${dec(await fs.readFile(p))}`);
  }
  return out;
}

test('MemoryFileSystem matches the real file system on random operation sequences', async () => {
  const base = await mkdtemp(join(tmpdir(), 'quiver-diff-'));
  const node = new NodeFileSystem();
  let i = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        const root = join(base, String(i++));
        await node.mkdir(root);
        const mem = new MemoryFileSystem();
        for (const [k, op] of ops.entries()) {
          const want = await run(node, root, op);
          const got = await run(mem, '/', op);
          assert.deepEqual(got, want, `op #${k} ${JSON.stringify(op)}`);
        }
        assert.deepEqual(await tree(mem, '/'), await tree(node, root));
        await rm(root, { recursive: true, force: true });
      }),
      { numRuns: 150, seed: 20240611 },
    );
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
