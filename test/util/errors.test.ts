import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CorruptionError, QuiverError } from '../../src/errors.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Stands for a reader: a method of an object holding a large read window throws. */
class Reader {
  readonly window = new Uint8Array(4 << 20);
  fail(wrapped: boolean): never {
    if (!wrapped) throw new CorruptionError({ file: '/x', section: 'entry 3' }, 'bad bytes');
    try {
      throw new SyntaxError('unexpected byte');
    } catch (cause) {
      throw new QuiverError('CORRUPT', 'wrapped', {}, { cause });
    }
  }
}

test('a kept QuiverError does not keep the objects on its stack (a reader and its read window) alive, nor does its cause', async () => {
  for (const wrapped of [false, true]) {
    // The reader lives only in this closure's frame, gone once it returns.
    const { ref, kept } = ((): { ref: WeakRef<Reader>; kept: unknown } => {
      const reader = new Reader();
      let kept: unknown;
      try {
        reader.fail(wrapped);
      } catch (err) {
        kept = err;
      }
      return { ref: new WeakRef(reader), kept };
    })();
    // A WeakRef's target stays alive until the current job ends.
    await new Promise((r) => setTimeout(r, 10));
    gc();
    // Before, V8's unformatted stack held every frame's receiver until `stack` was first read.
    assert.equal(ref.deref(), undefined, `the reader was collected (${wrapped ? 'wrapped cause' : 'direct'})`);
    assert.ok(kept instanceof QuiverError);
    // The stack, formatted after the constructors ran, has the subclass's name and the message.
    assert.match(String((kept as Error).stack), wrapped ? /^QuiverError: wrapped/ : /^CorruptionError: \/x: section "entry 3" is damaged: bad bytes/);
  }
});
