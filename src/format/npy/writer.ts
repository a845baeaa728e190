/**
 * Writes a CollectionImage as `<name>.npy` (a (count, dimension) little-endian float32 array, the
 * engine's chunks written straight to the file) plus `<name>.ids.json` and `<name>.metadata.jsonl`.
 *
 * All three temp files are written and fsynced before any is renamed (the vector bytes on the I/O
 * threads while the sidecar text is made on this one); the renames then run metadata, ids, .npy
 * (each publish renames and fsyncs the directory). So a failure while writing leaves every old file
 * in place, and the .npy is the last file to change. Exports to one path in this process run one at a
 * time.
 */
import { endianness } from 'node:os';
import { QuiverError } from '../../errors.js';
import type { CollectionImage } from '../../engine/types.js';
import { publishAtomically } from '../../env/atomic.js';
import type { FileHandle, FileSystem } from '../../env/fs.js';
import { ProgressReporter } from '../../util/progress.js';
import { KeyedSerialQueue } from '../../util/serial.js';
import type { ExchangeWriteOptions, ExchangeWriteResult } from '../exchange.js';
import { MAX_DIMENSION } from '../json/entry-parser.js';
import { checkAbort } from '../json/write-values.js';
import { encodeNpyHeader } from './header.js';
import { npySidecarPaths, writeIdsFile, writeMetadataFile } from './sidecars.js';

/** Vector bytes handed to one write (whole rows). */
const CHUNK_BYTES = 8 << 20;
const LITTLE_ENDIAN = endianness() === 'LE';

/** Little-endian bytes of `chunk` (a view on little-endian hosts, a swapped copy elsewhere). */
function leBytes(chunk: Float32Array): Uint8Array {
  const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < chunk.length; i++) view.setFloat32(i * 4, chunk[i], true);
  return out;
}

/** Streams the header and every vector chunk to `handle`; returns the bytes written. */
async function writeVectors(
  handle: FileHandle,
  image: CollectionImage,
  signal: AbortSignal | undefined,
  stopped: () => boolean,
  advance: (rows: number, what: string) => void,
): Promise<number> {
  const header = encodeNpyHeader(image.count, image.dimension);
  await handle.write(header, 0);
  let pos = header.length;
  let rows = 0;
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / (image.dimension * 4)));
  for (const chunk of image.vectorChunks(perChunk)) {
    if (stopped()) return pos;
    checkAbort(signal);
    // The chunk may alias engine memory: the write completes before the next chunk is asked for.
    await handle.write(leBytes(chunk), pos);
    pos += chunk.byteLength;
    const r = chunk.length / image.dimension;
    rows += r;
    advance(r, 'writing vectors');
  }
  if (rows !== image.count) throw new QuiverError('INVALID_ARGUMENT', `The image yielded ${rows} vectors but says it holds ${image.count}.`);
  return pos;
}

function checkWrite(image: CollectionImage, options: ExchangeWriteOptions): void {
  const compression = options.compression ?? 'none';
  if (compression !== 'none') {
    throw new QuiverError('UNSUPPORTED_FORMAT', `The npy format cannot be compressed (got compression '${String(compression)}'); export to npy uncompressed, or use json, jsonl or msgpack for a compressed file.`);
  }
  if (!Number.isSafeInteger(image.dimension) || image.dimension < 1 || image.dimension > MAX_DIMENSION) {
    throw new QuiverError('INVALID_ARGUMENT', `The image dimension ${String(image.dimension)} is not an integer in 1..${MAX_DIMENSION}.`);
  }
  if (image.ids.length !== image.count || image.metadata.length !== image.count) {
    throw new QuiverError('INVALID_ARGUMENT', `The image has ${image.count} entries but ${image.ids.length} ids and ${image.metadata.length} metadata values.`);
  }
}

/** Exports in progress per file system and .npy path (see {@link oneAtATime}). */
const running = new WeakMap<FileSystem, KeyedSerialQueue<string>>();

/**
 * Runs `write` after every earlier export to the same `path` in this process has settled: the three
 * files are published one after another, so two exports at once would otherwise interleave their
 * renames and leave ids of one beside vectors of the other, which reads back without any error.
 */
function oneAtATime<T>(fs: FileSystem, path: string, write: () => Promise<T>): Promise<T> {
  let byPath = running.get(fs);
  if (!byPath) running.set(fs, (byPath = new KeyedSerialQueue()));
  return byPath.run(path, write);
}

/**
 * Writes `image` to `path` (the .npy) and its two sidecars, all published atomically. `user` is
 * not stored (the format has no room for it); compression other than 'none' is UNSUPPORTED_FORMAT.
 */
export async function writeNpy(fs: FileSystem, path: string, image: CollectionImage, options: ExchangeWriteOptions = {}): Promise<ExchangeWriteResult> {
  checkWrite(image, options);
  const { signal } = options;
  checkAbort(signal);
  const paths = npySidecarPaths(path);
  const n = image.count;
  // Work units: each row once for its vector, once for its id, once for its metadata.
  const progress = new ProgressReporter('export', 3 * n, options.onProgress);
  const advance = (rows: number, what: string) => progress.advance(rows, what);
  const sizes = { npy: 0, ids: 0, metadata: 0 };
  await oneAtATime(fs, path, () => publishAtomically(fs, path, (npyHandle) =>
    publishAtomically(fs, paths.ids, (idsHandle) =>
      publishAtomically(fs, paths.metadata, async (metaHandle) => {
        // The vectors go out on the I/O threads while the sidecar text is made here; every file is
        // complete and fsynced before this returns and the three renames run (metadata, ids, .npy).
        let failed = false;
        const vectors = writeVectors(npyHandle, image, signal, () => failed, advance).then(async (bytes) => {
          await npyHandle.sync();
          return bytes;
        });
        vectors.catch(() => undefined);
        try {
          sizes.ids = await writeIdsFile(idsHandle, image.ids, signal, (rows) => advance(rows, 'writing ids'));
          await idsHandle.sync();
          sizes.metadata = await writeMetadataFile(metaHandle, image.metadata, signal, (rows) => advance(rows, 'writing metadata'));
        } catch (err) {
          // No write may still be running when the handles are closed.
          failed = true;
          await vectors.catch(() => undefined);
          throw err;
        }
        sizes.npy = await vectors;
        // Last chance to cancel: after this the three renames run.
        checkAbort(signal);
      }, { signal }),
    ),
  ));
  progress.finishDone('exported');
  return { path, files: [path, paths.ids, paths.metadata], bytes: sizes.npy + sizes.ids + sizes.metadata, count: n };
}
