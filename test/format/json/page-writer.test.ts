// PageWriter.adopt writes a caller's buffer as the next document bytes without copying it: the document
// and its checksum are the same as when every byte goes through pages, and the buffer is released only
// after its write (and its hash, when that runs on the helper thread) is done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PageWriter } from '../../../src/format/json/page-writer.js';
import type { TextSink } from '../../../src/format/stream/sink.js';
import { hashThreadReady } from '../../support/hash-thread.js';

/** A sink that records the bytes of each write when it completes (later than asked: a slow disk). */
class SlowSink implements TextSink {
  readonly chunks: Buffer[] = [];
  readonly events: string[] = [];

  async write(page: Uint8Array): Promise<void> {
    await new Promise((r) => setTimeout(r, 2));
    this.chunks.push(Buffer.from(page));
    this.events.push(`wrote ${page.length}`);
  }

  finish(): Promise<number> {
    return Promise.resolve(Buffer.concat(this.chunks).length);
  }

  abort(): void {}
}

function bytes(n: number, seed: number, shared: boolean): Uint8Array {
  const b = new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
  for (let i = 0; i < n; i++) b[i] = 32 + ((i * 7 + seed) % 90);
  return b;
}

for (const offloadHash of [false, true]) {
  for (const shared of [false, true]) {
    test(`adopted ${shared ? 'shared' : 'unshared'} buffers ${offloadHash ? '(hash on the helper thread)' : '(hash here)'} make the same document and checksum`, async () => {
      if (offloadHash) await hashThreadReady();
      const sink = new SlowSink();
      const out = new PageWriter(sink, { offloadHash, pageSize: 4096 });
      assert.equal(out.offloaded, offloadHash);
      const pieces: Uint8Array[] = [];
      const released: number[] = [];
      await out.text('{"head":1,');
      pieces.push(Buffer.from('{"head":1,'));
      const sizes = [10, 4096, 10_000, 1, 70_000, 333];
      for (let k = 0; k < 6; k++) {
        // Sizes below, at and far above a page; each buffer is scribbled over once released.
        const b = bytes(sizes[k], k, shared);
        pieces.push(Buffer.from(b));
        await out.adopt(b, () => {
          released.push(k);
          sink.events.push(`released ${k}`);
          b.fill(0);
        });
        await out.text(`,${k},`);
        pieces.push(Buffer.from(`,${k},`));
      }
      const checksum = await out.digest();
      await out.text('"tail"}');
      pieces.push(Buffer.from('"tail"}'));
      await out.drain();
      const doc = Buffer.concat(sink.chunks);
      const expected = Buffer.concat(pieces);
      assert.ok(doc.equals(expected), 'the document is the concatenation of everything written, in order');
      const hashed = expected.subarray(0, expected.length - '"tail"}'.length);
      assert.equal(checksum, createHash('sha256').update(hashed).digest('hex'));
      assert.deepEqual(released, [0, 1, 2, 3, 4, 5], 'every buffer is released, in order');
      if (shared || !offloadHash) {
        // Adopted as they are: released only after their own write completed.
        for (let k = 0; k < 6; k++) {
          const at = sink.events.indexOf(`released ${k}`);
          assert.equal(sink.events[at - 1], `wrote ${sizes[k]}`, `buffer ${k} was released right after its own write finished`);
        }
      }
    });
  }
}
