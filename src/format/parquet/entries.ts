/**
 * Turns the decoded `id`, `id_num` and `metadata` values of one row group into entry ids and metadata,
 * with the file and row in every error: ids must be valid (non-empty well-formed strings or safe
 * integers) and unique, metadata must be a JSON object (JSON null or a null cell means none).
 */
import type { DecodedArray } from 'hyparquet';
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Id, Metadata } from '../../engine/types.js';
import { checkId } from '../../engine/validate.js';
import { jsonProblem } from '../../util/msgpack.js';
import type { ColumnsBuilder } from '../columns-builder.js';
import { parseJsonText } from '../../util/json-text.js';

/** The decoded columns of one row group (undefined: the file has no such column). */
export interface GroupValues {
  firstRow: number;
  rows: number;
  ids: DecodedArray;
  idNums?: DecodedArray;
  metadata?: DecodedArray;
}

const ESCAPED_SURROGATE = /\\u[dD][89a-fA-F]/;

function describeId(id: Id): string {
  return typeof id === 'string' ? JSON.stringify(id) : String(id);
}

function toId(raw: unknown, num: unknown, row: number, file: string): Id {
  const bad = (problem: string): never => {
    throw new CorruptionError({ file, section: `row ${row} id` }, problem);
  };
  let id: unknown = raw;
  if (typeof raw === 'bigint') {
    id = Number(raw);
    if (!Number.isSafeInteger(id)) bad(`the id ${raw} is not a safe integer (±(2^53-1))`);
  }
  if (num !== undefined && num !== null) {
    const n = typeof num === 'bigint' ? Number(num) : num;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) bad(`id_num ${String(num)} is not a safe integer`);
    if (raw !== String(n)) bad(`id_num ${String(n)} does not match the id text ${JSON.stringify(raw)}`);
    id = n;
  }
  if (id === null || id === undefined) bad('the id is null; every row needs an id');
  try {
    return checkId(id, 'the id');
  } catch (err) {
    if (err instanceof QuiverError) return bad(err.message);
    throw err;
  }
}

function toMetadata(raw: unknown, row: number, file: string): Metadata | undefined {
  if (raw === null || raw === undefined) return undefined;
  const bad = (problem: string): never => {
    throw new CorruptionError({ file, section: `row ${row} metadata` }, problem);
  };
  if (typeof raw !== 'string') return bad('the metadata is not JSON text');
  let value: unknown;
  try {
    value = parseJsonText(raw);
  } catch (err) {
    return bad(`the metadata is not valid JSON (${(err as Error).message})`);
  }
  if (value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    return bad(`the metadata must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  // Text decoded from UTF-8 is well formed; only a \uD8xx escape can smuggle in a lone surrogate.
  if (raw.includes('\\u') && ESCAPED_SURROGATE.test(raw)) {
    const problem = jsonProblem(value, 'metadata');
    if (problem) bad(problem);
  }
  return value as Metadata;
}

/** Validates one row group's ids and metadata and commits them (after its vectors) to `builder`. */
export function commitGroup(builder: ColumnsBuilder, g: GroupValues, file: string): void {
  const { ids, idNums, metadata } = g;
  const check = (what: string, arr: DecodedArray | undefined) => {
    if (arr && arr.length !== g.rows) throw new CorruptionError({ file, section: `column ${what}` }, `a row group of ${g.rows} rows holds ${arr.length} values`);
  };
  check('id', ids);
  check('id_num', idNums);
  check('metadata', metadata);
  for (let i = 0; i < g.rows; i++) {
    const row = g.firstRow + i;
    const id = toId(ids[i], idNums?.[i], row, file);
    const meta = metadata ? toMetadata(metadata[i], row, file) : undefined;
    if (!builder.commit(id, meta)) {
      const first = builder.ids.indexOf(id);
      throw new CorruptionError({ file, section: `row ${row} id` }, `the id ${describeId(id)} appears twice (rows ${first} and ${row}); ids must be unique`);
    }
  }
}
