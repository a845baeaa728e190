/**
 * Test helpers for the MessagePack codec: hand-craft MessagePack exports with a correct checksum
 * (the bytes-in, bytes-out helpers shared with JSONL live in test/support/exchange.ts).
 */
import { createHash } from 'node:crypto';
import { pack } from 'msgpackr';
import { packFixmap } from '../../../src/format/msgpack/header.js';

export { makeImage, randomVectors, bytesOf, type ImageSpec } from '../../support/image.js';
export { assertColumnsEqual, awkwardSpec } from '../json/helpers.js';
export { BOMB_BYTES, bombs, corruption, failure, readBytes, writeBytes } from '../../support/exchange.js';

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
