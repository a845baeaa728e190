/**
 * Metadata payloads of WAL records: the shared plain MessagePack codec, with the plain-JSON check
 * before encoding so that what a reader returns is exactly what was appended.
 */
import { QuiverError } from '../errors.js';
import { isPlainObject, jsonProblem, pack } from '../util/msgpack.js';

export { isWellFormedString, unpackMetadata, unpackMetadataAt } from '../util/msgpack.js';

/** Encodes metadata (a plain JSON object); throws QuiverError INVALID_METADATA otherwise. */
export function packMetadata(metadata: unknown): Uint8Array {
  if (!isPlainObject(metadata)) throw new QuiverError('INVALID_METADATA', 'metadata must be a plain JSON object (or omitted)');
  const p = jsonProblem(metadata, 'metadata');
  if (p) throw new QuiverError('INVALID_METADATA', `${p}; pass plain JSON metadata`);
  return pack(metadata);
}
