/**
 * Test helpers for the MessagePack and JSONL codecs: write an image to bytes and read bytes back
 * through an in-memory file system, hand-craft MessagePack exports with a correct checksum, build
 * bombs, and check error types.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { brotliCompressSync, gzipSync, constants as Z } from 'node:zlib';
import { pack } from 'msgpackr';
import { CorruptionError, QuiverError } from '../../../src/errors.js';
import { writeFileAtomic } from '../../../src/env/atomic.js';
import { MemoryFileSystem } from '../../../src/env/memory-fs.js';
import type { CollectionImage } from '../../../src/engine/types.js';
import type { ExchangeCodec, ExchangeReadOptions, ExchangeWriteOptions, ImportedColumns } from '../../../src/format/exchange.js';
import { packFixmap } from '../../../src/format/msgpack/header.js';

export { makeImage, randomVectors, bytesOf, type ImageSpec } from '../../support/image.js';
export { assertColumnsEqual, awkwardSpec } from '../json/helpers.js';

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

/** One hand-made entry (any plain value; `vector` a Buffer becomes a bin). */
export type RawEntry = Record<string, unknown>;

/** Little-endian float32 bytes of `values`. */
export function f32(values: number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}

/** The header map of a hand-made export. */
export function rawHeader(dimension: number, count: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { format: 'quiverdb-msgpack', formatVersion: 1, dimension, metric: 'euclidean', count, user: { note: 'hand-made' }, createdAt: 1700000000000, ...extra };
}

/**
 * A MessagePack export from parts: header map, entries (msgpackr-encoded, so map16 and bin8/16 as
 * another writer would choose), and a trailer whose checksum is right unless overridden.
 */
export function craftMsgpack(header: Record<string, unknown>, entries: RawEntry[], trailer: Record<string, unknown> | false = {}): Buffer {
  const body = Buffer.concat([packFixmap(header), ...entries.map((e) => pack(e))]);
  if (trailer === false) return body;
  const checksum = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([body, packFixmap({ end: true, count: entries.length, checksum, ...trailer })]);
}

/** `body` (header + entries) followed by a trailer for `count` entries with the right checksum. */
export function withTrailer(body: Uint8Array, count: number): Buffer {
  return Buffer.concat([body, packFixmap({ end: true, count, checksum: createHash('sha256').update(body).digest('hex') })]);
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
