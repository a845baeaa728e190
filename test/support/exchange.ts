/**
 * Test helpers for the streamed interchange codecs (MessagePack, JSONL): write an image to bytes and
 * read bytes back through an in-memory file system, typed failures, decompression bombs, and the
 * checks every such codec must pass (round trips, byte flips, truncation, progress and abort).
 */
import assert from 'node:assert/strict';
import { brotliCompressSync, gzipSync, constants as Z } from 'node:zlib';
import fc from 'fast-check';
import { CorruptionError, QuiverError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/env/atomic.js';
import { MemoryFileSystem } from '../../src/env/memory-fs.js';
import type { CollectionImage } from '../../src/engine/types.js';
import type { ExchangeCodec, ExchangeCompression, ExchangeReadOptions, ExchangeWriteOptions, ImportedColumns } from '../../src/format/exchange.js';
import { chunkByteSource, type ByteSource } from '../../src/format/stream/sources.js';
import type { ExchangeSourceOptions } from '../../src/format/stream/exchange-io.js';
import type { Progress } from '../../src/util/progress.js';
import { assertColumnsEqual } from './columns.js';
import { bytesOf, makeImage, randomVectors, type ImageSpec } from './image.js';

/** A codec's source-level reader (`readMsgpackFrom`, `readJsonlFrom`). */
export type SourceReader = (source: ByteSource, opts: ExchangeSourceOptions) => Promise<ImportedColumns>;

/** Writes `image` with `codec` into a fresh in-memory file system; returns the file's bytes. */
export async function writeBytes(codec: ExchangeCodec, image: CollectionImage, opts?: ExchangeWriteOptions): Promise<Uint8Array> {
  const fs = new MemoryFileSystem();
  const path = `/out${codec.extension(opts?.compression ?? 'none')}`;
  const res = await codec.write(fs, path, image, opts);
  const bytes = await fs.readFile(path);
  assert.equal(res.bytes, bytes.length, 'reported size');
  assert.deepEqual(await fs.readdir('/'), [path.slice(1)], 'only the published file is left');
  return bytes;
}

/** Reads `bytes` as the file `/in` with `codec`. */
export async function readBytes(codec: ExchangeCodec, bytes: Uint8Array, opts?: ExchangeReadOptions): Promise<ImportedColumns> {
  const fs = new MemoryFileSystem();
  await writeFileAtomic(fs, '/in', bytes);
  return codec.read(fs, '/in', opts);
}

/** Reads `bytes` and returns the error it raises (failing when it is accepted or not a QuiverError). */
export async function failure(codec: ExchangeCodec, bytes: Uint8Array, opts?: ExchangeReadOptions): Promise<QuiverError> {
  try {
    await readBytes(codec, bytes, opts);
  } catch (err) {
    assert.ok(err instanceof QuiverError, `not a QuiverError: ${String(err)}`);
    assert.match(err.message, /\/in/, 'the message names the file');
    return err;
  }
  assert.fail('the bytes were accepted');
}

/** Like {@link failure} but insists on a CorruptionError (code CORRUPT unless given). */
export async function corruption(codec: ExchangeCodec, bytes: Uint8Array, opts?: ExchangeReadOptions, code = 'CORRUPT'): Promise<CorruptionError> {
  const err = await failure(codec, bytes, opts);
  assert.ok(err instanceof CorruptionError, `not a CorruptionError: ${err.code} ${err.message}`);
  assert.equal(err.code, code, err.message);
  return err;
}

/** The error `read` raises for `bytes` fed as one chunk (named '/in'). */
export async function sourceFailure(read: SourceReader, bytes: Uint8Array): Promise<QuiverError> {
  try {
    await read(chunkByteSource([bytes]), { file: '/in', windowSize: 256 });
  } catch (err) {
    assert.ok(err instanceof QuiverError, String(err));
    return err;
  }
  assert.fail('the prefix was accepted');
}

/** `bytes` cut into chunks of `size` bytes (the last may be shorter). */
export function chunksOf(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

/** Sizes of the decompression bomb used by the tests (decompressed bytes). */
export const BOMB_BYTES = 96 << 20;

/** gzip and brotli of `prefix` followed by `fill` repeated to `total` bytes (compressed small). */
export function bombs(prefix: Uint8Array, fill: Uint8Array, total = BOMB_BYTES): { gzip: Buffer; brotli: Buffer } {
  const body = Buffer.alloc(total);
  body.set(prefix, 0);
  for (let i = prefix.length; i < total; i += fill.length) body.set(fill.subarray(0, Math.min(fill.length, total - i)), i);
  return {
    gzip: gzipSync(body, { level: 9 }),
    brotli: brotliCompressSync(body, { params: { [Z.BROTLI_PARAM_QUALITY]: 5 } }),
  };
}

/**
 * Asserts both bombs stop at an explicit 1 MiB cap, and without one (there is no default) end in a
 * CorruptionError about their content once their bytes run out (the reader's window bounds memory).
 */
export async function assertBombsCapped(codec: ExchangeCodec, b: { gzip: Buffer; brotli: Buffer }): Promise<void> {
  for (const kind of ['gzip', 'brotli'] as const) {
    const small = await corruption(codec, b[kind], { maxDecompressedBytes: 1 << 20 });
    assert.equal(small.section, `${kind} stream`);
    assert.match(small.message, /more than the allowed 1048576 bytes/);
    const dflt = await corruption(codec, b[kind]);
    assert.doesNotMatch(dflt.message, /allowed/, 'no default cap');
  }
}

/** True when two imports hold the same ids, vector bits, metadata, user data and metric. */
export function sameImport(a: ImportedColumns, b: ImportedColumns): boolean {
  return (
    JSON.stringify(a.columns.ids) === JSON.stringify(b.columns.ids) &&
    bytesOf(a.columns.vectors).equals(bytesOf(b.columns.vectors)) &&
    JSON.stringify(a.columns.metadata) === JSON.stringify(b.columns.metadata) &&
    JSON.stringify(a.user) === JSON.stringify(b.user) &&
    a.columns.metric === b.columns.metric
  );
}

/**
 * Asserts every prefix of `bytes` shorter than `last` (default: all of it) fails with a CorruptionError:
 * plain prefixes straight through `read` (fast), compressed ones through detection and inflation.
 */
export async function assertPrefixesCorrupt(codec: ExchangeCodec, read: SourceReader, bytes: Uint8Array, compression: ExchangeCompression, last = bytes.length): Promise<void> {
  const step = compression === 'none' ? 1 : 3;
  for (let len = 0; len < last; len += step) {
    const err = compression === 'none' ? await sourceFailure(read, bytes.subarray(0, len)) : await failure(codec, bytes.subarray(0, len));
    // Brotli has no magic, and its first ~70 bytes (code tables) decompress to nothing to recognise.
    if (compression === 'brotli' && len < 128 && err.code === 'UNSUPPORTED_FORMAT') continue;
    assert.ok(err instanceof CorruptionError, `prefix of ${len} bytes: ${err.message}`);
  }
}

/** Asserts random single-byte flips of `bytes` never read as different data: a typed error or the same columns. */
export async function assertFlipsSafe(codec: ExchangeCodec, bytes: Uint8Array): Promise<void> {
  const good = await readBytes(codec, bytes);
  await fc.assert(
    fc.asyncProperty(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
      const bad = Uint8Array.from(bytes);
      bad[at] ^= mask;
      try {
        assert.ok(sameImport(await readBytes(codec, bad), good), `flip at ${at} (^${mask}) returned different data`);
      } catch (err) {
        assert.ok(err instanceof QuiverError, `flip at ${at} (^${mask}) threw ${String(err)}`);
      }
    }),
    { numRuns: 300 },
  );
}

/** The user data {@link roundTrip} writes and expects back. */
const USER = { by: 'test', n: [1, 2] };

/** Writes `spec` with `codec` and reads it back, asserting it is unchanged; returns the file's bytes. */
export async function roundTrip(codec: ExchangeCodec, spec: ImageSpec, compression: ExchangeCompression = 'none'): Promise<Uint8Array> {
  const bytes = await writeBytes(codec, makeImage(spec), { compression, user: USER });
  const back = await readBytes(codec, bytes);
  assertColumnsEqual(back.columns, spec);
  assert.equal(back.metricKnown, true);
  assert.deepEqual(back.user, USER);
  assert.match(back.checksum ?? '', /^[0-9a-f]{64}$/);
  return bytes;
}

const isAborted = (err: unknown) => err instanceof QuiverError && err.code === 'ABORTED';

/**
 * Asserts progress is monotonic and ends at 100 when writing and reading in every compression, and
 * that writing and reading honour an abort (before and during), leaving no file or temp file.
 */
export async function assertProgressAndAbort(codec: ExchangeCodec, read: SourceReader): Promise<void> {
  const spec: ImageSpec = { dimension: 64, ids: Array.from({ length: 3000 }, (_, i) => `id-${i}`), vectors: randomVectors(3000, 64, 5) };
  const fs = new MemoryFileSystem();
  for (const compression of ['none', 'gzip', 'brotli'] as const) {
    const wrote: Progress[] = [];
    await codec.write(fs, `/p${compression}`, makeImage(spec), { compression, onProgress: (p) => wrote.push(p) });
    const readProgress: Progress[] = [];
    await codec.read(fs, `/p${compression}`, { onProgress: (p) => readProgress.push(p) });
    for (const list of [wrote, readProgress]) {
      assert.ok(list.length >= 2, `${compression}: some progress`);
      for (let i = 1; i < list.length; i++) assert.ok(list[i].percentage >= list[i - 1].percentage, `${compression}: monotonic`);
      assert.equal(list.at(-1)!.percentage, 100);
    }
  }
  const ac = new AbortController();
  await assert.rejects(codec.write(fs, '/aborted', makeImage(spec), { onProgress: (p) => p.percentage > 10 && ac.abort(), signal: ac.signal }), isAborted);
  assert.deepEqual((await fs.readdir('/')).filter((n) => !n.startsWith('p')), [], 'no file or temp file left by the aborted export');
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(codec.read(fs, '/pnone', { signal: pre.signal }), isAborted);
  const bytes = await fs.readFile('/pnone');
  const mid = new AbortController();
  await assert.rejects(read(chunkByteSource(chunksOf(bytes, 4096)), { file: 'x', windowSize: 4096, signal: mid.signal, onProgress: () => mid.abort(), progressTotal: bytes.length }), isAborted);
}
