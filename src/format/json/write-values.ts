/**
 * Validation and JSON text of the scalar parts of an entry (ids, metadata) for the writers, and the
 * cancellation check they share.
 */
import { QuiverError } from '../../errors.js';
import type { Id, Metadata } from '../../engine/types.js';
import { throwIfAborted } from '../../util/abort.js';

/** JSON text of an id (validated: non-empty string or safe integer). */
export function idText(id: Id): string {
  if (typeof id === 'string' && id.length > 0) return JSON.stringify(id);
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  throw new QuiverError('INVALID_ID', `Cannot save id ${String(id)} (${typeof id}): ids must be non-empty strings or safe integers.`);
}

/** JSON text of metadata, or undefined when absent (validated: a plain JSON object). */
export function metadataText(meta: Metadata | undefined, index: number): string | undefined {
  if (meta === undefined || meta === null) return undefined;
  let t: string | undefined;
  try {
    t = JSON.stringify(meta);
  } catch (err) {
    throw new QuiverError('INVALID_METADATA', `Cannot save the metadata of entry ${index}: ${(err as Error).message}.`, { index }, { cause: err });
  }
  if (t === undefined || t.charCodeAt(0) !== 123) throw new QuiverError('INVALID_METADATA', `Cannot save the metadata of entry ${index}: it must be a plain object.`, { index });
  return t;
}

/** Throws ABORTED when `signal` fired. */
export function checkAbort(signal: AbortSignal | undefined): void {
  throwIfAborted(signal, 'The save was cancelled; the previous file (if any) is unchanged.');
}
