/**
 * The MessagePack interchange format (docs/FORMAT.md): a plain MessagePack stream (header
 * map, one map per entry with the vector as a bin of little-endian float32, trailer map with a
 * SHA-256), readable by any MessagePack library that reads a sequence of values.
 */
import type { ExchangeCodec } from '../exchange.js';
import { EXCHANGE_COMPRESSIONS, extensionFor } from '../stream/exchange-io.js';
import { sniffMsgpack } from './header.js';
import { readMsgpack } from './reader.js';
import { writeMsgpack } from './writer.js';

export { writeMsgpack } from './writer.js';
export { readMsgpack, readMsgpackFrom, type ReadMsgpackSourceOptions } from './reader.js';
export { MSGPACK_FORMAT_NAME, MSGPACK_FORMAT_VERSION, sniffMsgpack, type MsgpackHeader } from './header.js';

/** The MessagePack codec: extension '.msgpack' (+ '.gz' / '.br'), compressions none, gzip, brotli. */
export const msgpackCodec: ExchangeCodec = {
  format: 'msgpack',
  compressions: EXCHANGE_COMPRESSIONS,
  canWrite: true,
  readsCompressed: true,
  extension: (compression) => extensionFor('.msgpack', compression),
  sniff: sniffMsgpack,
  write: writeMsgpack,
  read: readMsgpack,
};
