/**
 * One element of a reference-000 state's "vectors": `{ "id": ..., "vector": [...], "metadata": ... }`
 * in any key order, nothing else. The vector goes straight into the builder's next slot; the caller
 * checks the id for duplicates and commits.
 */
import type { Id, Metadata } from '../../engine/types.js';
import type { ColumnsBuilder } from '../columns-builder.js';
import type { CanonicalHash } from './canonical.js';
import { KEY_ID, KEY_OTHER, KEY_VECTOR, keyEnd, keyText, readEntryKey } from '../json/entry-parser.js';
import { JsonSyntaxError, expected, skipWs } from '../json/tokenizer.js';
import { failedNumber, lastId, lastMetadata, readId, readMetadata, readVector } from './values.js';

/** The id of the entry read by the last {@link readEntry}. */
export let entryId: Id = '';
/** Its metadata (undefined for null or absent). */
export let entryMetadata: Metadata | undefined;

/**
 * Parses the entry at `buf[pos]` (a "{" expected) for `path` (e.g. `vectors[3]`), writing its vector
 * into `b`'s slot for entry `b.count`, and returns the position after it. Syntax errors carry the
 * JSON path of the member (and number) that failed. With `echo`, the entry's text minus whitespace
 * is added to it as it is read (the caller reserves room and rewinds it when this throws).
 */
export function readEntry(buf: Uint8Array, pos: number, end: number, b: ColumnsBuilder, path: string, echo?: CanonicalHash): number {
  let field = '';
  try {
    if (buf[pos] !== 123 /* { */) expected(buf, pos, end, 'an entry object');
    const start = pos;
    echo?.byte(123);
    pos = skipWs(buf, pos + 1);
    let seen = 0;
    entryMetadata = undefined;
    if (buf[pos] !== 125 /* } */) {
      for (;;) {
        if (buf[pos] !== 34 /* " */) expected(buf, pos, end, 'a member name');
        const key = readEntryKey(buf, pos, end);
        if (key === KEY_OTHER) throw new JsonSyntaxError(pos, `unknown member ${JSON.stringify(keyText)} in an entry (allowed: id, vector, metadata)`);
        field = key === KEY_ID ? '.id' : key === KEY_VECTOR ? '.vector' : '.metadata';
        if (seen & (1 << key)) throw new JsonSyntaxError(pos, `member "${field.slice(1)}" appears twice`);
        seen |= 1 << key;
        echo?.copy(buf, pos, keyEnd);
        pos = skipWs(buf, keyEnd);
        if (buf[pos] !== 58 /* : */) expected(buf, pos, end, '":"');
        echo?.byte(58);
        pos = skipWs(buf, pos + 1);
        const valueAt = pos;
        if (key === KEY_VECTOR) pos = readVector(buf, pos, end, b, echo);
        else if (key === KEY_ID) {
          pos = readId(buf, pos, end);
          entryId = lastId;
          echo?.copy(buf, valueAt, pos);
        } else {
          pos = readMetadata(buf, pos, end, 'metadata');
          entryMetadata = lastMetadata;
          echo?.stripped(buf, valueAt, pos);
        }
        field = '';
        pos = skipWs(buf, pos);
        const c = buf[pos];
        if (c === 44 /* , */) {
          echo?.byte(44);
          pos = skipWs(buf, pos + 1);
        } else if (c === 125 /* } */) break;
        else expected(buf, pos, end, '"," or "}" after an entry member');
      }
    }
    if (!(seen & (1 << KEY_ID))) throw new JsonSyntaxError(start, 'the entry has no "id"');
    if (!(seen & (1 << KEY_VECTOR))) throw new JsonSyntaxError(start, 'the entry has no "vector"');
    echo?.byte(125);
    return pos + 1;
  } catch (err) {
    if (err instanceof JsonSyntaxError && err.path === '') err.path = `${path}${field}${field === '.vector' && failedNumber >= 0 ? `[${failedNumber}]` : ''}`;
    throw err;
  }
}
