import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import { removeIfStill } from '../../src/env/links.js';
import { markOf } from '../../src/env/stat-if-exists.js';

async function dir(): Promise<MemoryFileSystem> {
  const fs = new MemoryFileSystem();
  await fs.mkdir('/d', { recursive: true });
  return fs;
}

test('removeIfStill removes the file only while it is the one marked, and leaves no temp name', async () => {
  const fs = await dir();
  fs.writeFileSync('/d/f', new Uint8Array([1, 2, 3]));
  const mark = markOf(await fs.stat('/d/f'));
  assert.equal(await removeIfStill(fs, '/d/f', mark), true);
  assert.deepEqual(await fs.readdir('/d'), []);
  assert.equal(await removeIfStill(fs, '/d/f', mark), false, 'nothing there');

  // Another file under the name (same size): kept, the same file, and nothing else left in the directory.
  fs.writeFileSync('/d/f', new Uint8Array([1, 2, 3]));
  const first = markOf(await fs.stat('/d/f'));
  await fs.rm('/d/f');
  fs.writeFileSync('/d/f', new Uint8Array([4, 5, 6]));
  const other = await fs.stat('/d/f');
  assert.notEqual(markOf(other), first);
  assert.equal(await removeIfStill(fs, '/d/f', first), false);
  assert.deepEqual(await fs.readdir('/d'), ['f']);
  assert.equal((await fs.stat('/d/f')).ino, other.ino);
  assert.deepEqual([...fs.readFileSync('/d/f')], [4, 5, 6]);
});
