/**
 * `writeMsgpack`: streams a CollectionImage as a MessagePack stream (header map, one map per entry,
 * trailer map) into a temp file published atomically. Entry maps are hand-encoded into the page
 * (the vector's float bytes are copied straight from the image's chunk after a bin32 header); only
 * metadata goes through the shared MessagePack packer.
 */
import { QuiverError } from '../../errors.js';
import type { CollectionImage, Id } from '../../engine/types.js';
import { findNonFinite } from '../../engine/load.js';
import { checkId } from '../../engine/validate.js';
import type { FileSystem } from '../../env/fs.js';
import { isJsonValue, isPlainObject, jsonProblem, pack } from '../../util/msgpack.js';
import type { ProgressReporter } from '../../util/progress.js';
import type { ExchangeWriteOptions, ExchangeWriteResult } from '../exchange.js';
import type { PageWriter } from '../json/page-writer.js';
import { littleEndianBytes } from '../qvdb/endian.js';
import { checkExportAbort } from '../stream/exchange-io.js';
import { writeExchange } from '../stream/exchange-write.js';
import { headerValue, packFixmap } from './header.js';
import { putInt, putStrHeader, putU32 } from './encode.js';

/** Vector bytes per chunk taken from the image. */
const CHUNK_BYTES = 1 << 20;

const KEY_ID = Uint8Array.of(0xa2, 0x69, 0x64);
const KEY_VECTOR = Uint8Array.of(0xa6, ...Buffer.from('vector', 'latin1'));
const KEY_METADATA = Uint8Array.of(0xa8, ...Buffer.from('metadata', 'latin1'));

function metadataBytes(meta: unknown, index: number): Uint8Array | undefined {
  if (meta === undefined || meta === null) return undefined;
  if (!isPlainObject(meta) || !isJsonValue(meta)) {
    const problem = isPlainObject(meta) ? jsonProblem(meta, 'metadata') : 'it is not a plain object';
    throw new QuiverError('INVALID_METADATA', `Cannot export the metadata of entry ${index}: ${problem}.`, { index });
  }
  return pack(meta);
}

/** Encodes entries [index, index + n) whose vectors are `bytes` (little-endian float32). */
async function writeChunk(out: PageWriter, image: CollectionImage, index: number, bytes: Uint8Array, vecBytes: number): Promise<void> {
  const n = bytes.length / vecBytes;
  for (let e = 0; e < n; e++, index++) {
    const id: Id = checkId(image.ids[index], 'entries[].id', index);
    const meta = metadataBytes(image.metadata[index], index);
    const idBytes = typeof id === 'string' ? Buffer.byteLength(id, 'utf8') : 0;
    const need = 1 + KEY_ID.length + 9 + idBytes + KEY_VECTOR.length + 5 + vecBytes + (meta ? KEY_METADATA.length + meta.length : 0);
    if (out.pos + need > out.page.length) await out.room(need);
    const page = out.page;
    let pos = out.pos;
    page[pos++] = meta ? 0x83 : 0x82;
    page.set(KEY_ID, pos);
    pos += KEY_ID.length;
    if (typeof id === 'string') {
      pos = putStrHeader(page, pos, idBytes);
      pos += page.write(id, pos, 'utf8');
    } else {
      pos = putInt(page, pos, id);
    }
    page.set(KEY_VECTOR, pos);
    pos += KEY_VECTOR.length;
    page[pos] = 0xc6;
    putU32(page, pos + 1, vecBytes);
    pos += 5;
    page.set(bytes.subarray(e * vecBytes, (e + 1) * vecBytes), pos);
    pos += vecBytes;
    if (meta) {
      page.set(KEY_METADATA, pos);
      pos += KEY_METADATA.length;
      page.set(meta, pos);
      pos += meta.length;
    }
    out.pos = pos;
  }
}

async function writeEntries(out: PageWriter, image: CollectionImage, progress: ProgressReporter, signal: AbortSignal | undefined): Promise<void> {
  const dim = image.dimension;
  const vecBytes = dim * 4;
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / vecBytes));
  let index = 0;
  for (const chunk of image.vectorChunks(perChunk)) {
    checkExportAbort(signal);
    const n = chunk.length / dim;
    if (!Number.isInteger(n) || index + n > image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded a chunk of ${chunk.length} floats, not whole entries within its count ${image.count}.`);
    const bad = findNonFinite(chunk, 0, chunk.length);
    if (bad >= 0) {
      const at = index + Math.floor(bad / dim);
      throw new QuiverError('INVALID_VECTOR', `Cannot export entry ${at}: element ${bad % dim} of its vector is ${chunk[bad]}, not a finite float32.`, { index: at });
    }
    await writeChunk(out, image, index, littleEndianBytes(chunk), vecBytes);
    index += n;
    progress.update(index, 'writing entries');
  }
  if (index !== image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded ${index} vectors but says it has ${image.count}.`);
}

/**
 * Writes `image` to `path` atomically as a QuiverDB MessagePack export (docs/FORMAT.md),
 * optionally gzip- or brotli-compressed. Never holds more than a page of output in memory.
 */
export function writeMsgpack(fs: FileSystem, path: string, image: CollectionImage, options?: ExchangeWriteOptions): Promise<ExchangeWriteResult> {
  return writeExchange(fs, path, image, options, {
    header: (user, createdAt) => packFixmap(headerValue(image.dimension, image.metric, image.count, user, createdAt)),
    entries: (out, progress, signal) => writeEntries(out, image, progress, signal),
    trailer: (count, checksum) => packFixmap({ end: true, count, checksum }),
  });
}
