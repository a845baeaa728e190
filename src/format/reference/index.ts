/**
 * Import-only codecs for the reference systems' own files (docs/FORMAT.md "Reference imports"):
 * reference-000, the DatabasePersistence JSON state, and reference-004, the in-memory store's
 * persistence directory.
 */
import { QuiverError } from '../../errors.js';
import type { ExchangeCodec } from '../exchange.js';
import { readReference000 } from './ref000-reader.js';
import { readReference004 } from './ref004-reader.js';

export { readReference000, type Reference000ReadOptions } from './ref000-reader.js';
export { readReference004, REFERENCE_METADATA_FILE, REFERENCE_PAYLOADS_FILE, type Reference004ReadOptions } from './ref004-reader.js';
export { mapReferenceMetric } from './ref000-header.js';

function importOnly(format: string): never {
  throw new QuiverError('UNSUPPORTED_FORMAT', `The ${format} format is import-only (a migration path from the reference system); export to 'json', 'binary' or another format instead.`);
}

const latin1 = new TextDecoder('latin1');

/**
 * True for a JSON object that has "version" and "vectors" members and is not a QuiverDB JSON state
 * ("format": "quiverdb"). The reference writes version, options, stats, then vectors, so both names
 * are within the first few KB.
 */
export function sniffReference000(head: Uint8Array): boolean {
  const text = latin1.decode(head);
  if (!/^(\xef\xbb\xbf)?\s*\{/.test(text)) return false;
  if (/"format"\s*:\s*"quiverdb"/.test(text)) return false;
  return /"version"\s*:/.test(text) && /"vectors"\s*:/.test(text);
}

/** The reference DatabasePersistence JSON state (plain, gzip or brotli); import only. */
export const reference000Codec: ExchangeCodec = {
  format: 'reference-000',
  compressions: ['none'],
  canWrite: false,
  readsCompressed: true,
  extension: (compression) => (compression === 'gzip' ? '.json.gz' : compression === 'brotli' ? '.json.br' : '.json'),
  sniff: sniffReference000,
  write: async () => importOnly('reference-000'),
  read: (fs, path, options) => readReference000(fs, path, options),
};

/** The reference-004 store directory (`ann_metadata.json` + `payloads.json`); import only, probed by path. */
export const reference004Codec: ExchangeCodec = {
  format: 'reference-004',
  compressions: ['none'],
  canWrite: false,
  readsCompressed: false,
  extension: () => '',
  sniff: () => false,
  write: async () => importOnly('reference-004'),
  read: (fs, path, options) => readReference004(fs, path, options),
};
