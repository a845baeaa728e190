/**
 * DatabasePersistence's own formats seen as interchange codecs: `.qvdb` (binary) and the JSON state
 * document. Only full states are interchange files; a delta is refused with a message naming its base.
 */
import { QuiverError } from '../errors.js';
import type { FileSystem } from '../env/fs.js';
import type { CollectionImage } from '../engine/types.js';
import { readQvdb, writeQvdb } from '../format/qvdb/index.js';
import { MAGIC, MAGIC_PREFIX_LENGTH } from '../format/qvdb/constants.js';
import { checkQvdbContent } from '../format/qvdb/content.js';
import { readJsonState, writeJsonState } from '../format/json/index.js';
import { probeHead } from '../format/detect.js';
import type { ExchangeCodec, ExchangeReadOptions, ExchangeWriteOptions, ImportedColumns } from '../format/exchange.js';

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function deltaRefused(path: string): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', `${path} is a delta file (an incremental save); import or convert its base file instead.`, { path });
}

/** `.qvdb` binary container. */
export const binaryCodec: ExchangeCodec = {
  format: 'binary',
  compressions: ['none', 'gzip', 'brotli'],
  canWrite: true,
  readsCompressed: false,
  extension: () => '.qvdb',
  sniff(head) {
    if (head.length < MAGIC_PREFIX_LENGTH) return false;
    for (let i = 0; i < MAGIC_PREFIX_LENGTH; i++) if (head[i] !== MAGIC[i]) return false;
    return true;
  },
  async write(fs: FileSystem, path: string, image: CollectionImage, o: ExchangeWriteOptions = {}) {
    const r = await writeQvdb(fs, path, image, { compression: o.compression, level: o.level, user: o.user, onProgress: o.onProgress, signal: o.signal });
    return { path, files: [path], bytes: r.bytes, count: r.count, checksum: r.checksum };
  },
  async read(fs: FileSystem, path: string, o: ExchangeReadOptions = {}): Promise<ImportedColumns> {
    const r = await readQvdb(fs, path, { verifyChecksum: o.verifyChecksum, onProgress: o.onProgress, signal: o.signal });
    if (r.kind !== 'full') throw deltaRefused(path);
    checkQvdbContent(path, r.columns);
    return { columns: r.columns, metricKnown: true, user: asRecord(r.manifest.user), checksum: r.checksum };
  },
};

// Our writer starts every document with its "format" member; a pretty-printed copy still matches.
const JSON_STATE_START = /^(?:\xef\xbb\xbf)?\s*\{\s*"format"\s*:\s*"quiverdb"\s*[,}]/;

/** The streaming JSON state document (plain, gzip or brotli). */
export const jsonCodec: ExchangeCodec = {
  format: 'json',
  compressions: ['none', 'gzip', 'brotli'],
  canWrite: true,
  readsCompressed: true,
  extension: (c) => (c === 'gzip' ? '.json.gz' : c === 'brotli' ? '.json.br' : '.json'),
  sniff(head) {
    return JSON_STATE_START.test(Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1'));
  },
  async write(fs, path, image, o = {}) {
    const r = await writeJsonState(fs, path, image, { compression: o.compression, level: o.level, user: o.user, onProgress: o.onProgress, signal: o.signal });
    return { path, files: [path], bytes: r.bytes, count: r.count, checksum: r.checksum };
  },
  async read(fs, path, o = {}) {
    const { compression, brotliHead } = await probeHead(fs, path);
    const c = compression === 'gzip' ? 'gzip' : brotliHead && jsonCodec.sniff(brotliHead) ? 'brotli' : 'none';
    // Capped only when the caller asks (maxDecompressedBytes; why there is no default: checkedCap).
    const r = await readJsonState(fs, path, { compression: c, verifyChecksum: o.verifyChecksum, maxDecompressedBytes: o.maxDecompressedBytes, onProgress: o.onProgress, signal: o.signal });
    if (r.kind !== 'full') throw deltaRefused(path);
    return { columns: r.columns, metricKnown: true, user: asRecord(r.header.options), checksum: r.checksum };
  },
};
