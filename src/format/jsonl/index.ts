/**
 * The JSON Lines interchange format (docs/FORMAT.md): a header line, one entry object per
 * line, a trailer line with the count and SHA-256; for piping into jq or pandas and for huge exports.
 * Foreign JSONL of `{id, vector, metadata?}` lines is read too.
 */
import type { ExchangeCodec } from '../exchange.js';
import { EXCHANGE_COMPRESSIONS, extensionFor } from '../stream/exchange-io.js';
import { sniffJsonl } from './header.js';
import { readJsonl } from './reader.js';
import { writeJsonl } from './writer.js';

export { writeJsonl, type WriteJsonlOptions } from './writer.js';
export { readJsonl, readJsonlFrom, DEFAULT_MAX_LINE_BYTES, type ReadJsonlSourceOptions } from './reader.js';
export { JSONL_FORMAT_NAME, JSONL_FORMAT_VERSION, sniffJsonl, type JsonlHeader } from './header.js';

/** The JSONL codec: extension '.jsonl' (+ '.gz' / '.br'), compressions none, gzip, brotli. */
export const jsonlCodec: ExchangeCodec = {
  format: 'jsonl',
  compressions: EXCHANGE_COMPRESSIONS,
  canWrite: true,
  readsCompressed: true,
  extension: (compression) => extensionFor('.jsonl', compression),
  sniff: sniffJsonl,
  write: writeJsonl,
  read: readJsonl,
};
