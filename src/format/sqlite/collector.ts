/**
 * Turning the rows of `entries` (read in position order) into Columns: each cell checked against the
 * format's rules with the file, position and id named in the error, vectors copied straight into one
 * preallocated array, and (when verifying) every digest bucket hashed as soon as it is complete.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Id, Metadata } from '../../engine/types.js';
import { checkId } from '../../engine/validate.js';
import { BucketDigests } from './digest.js';
import type { SqliteHeader } from './meta.js';
import { idLabel } from './rows.js';
import { TABLE } from './schema.js';
import { parseJsonText } from '../../util/json-text.js';

/** One row as selected: pos, id, vector, metadata. */
export type EntryRow = [unknown, unknown, unknown, unknown];

/** The SELECT list matching {@link EntryRow}. */
export const ENTRY_SELECT = 'pos, id, vector, metadata';

/** Accumulates validated rows; `finish` checks the totals. */
export class RowCollector {
  readonly ids: Id[] = [];
  readonly metadata: (Metadata | undefined)[] = [];
  /** Little-endian vector bytes, entry i at [i*dim*4, (i+1)*dim*4). */
  readonly bytes: Uint8Array;
  count = 0;
  lastPos = -1;
  /** Position of each id so far; only when the schema does not make ids unique itself. */
  private readonly firstPos: Map<Id, number> | undefined;
  private readonly rowBytes: number;
  private readonly digests: BucketDigests | undefined;
  private bucket = -1;
  private bucketStart = 0;

  constructor(
    private readonly file: string,
    private readonly header: SqliteHeader,
    verify: boolean,
    private readonly offload: boolean,
    idsUnique: boolean,
  ) {
    this.firstPos = idsUnique ? undefined : new Map();
    this.rowBytes = header.dimension * 4;
    const total = header.count * this.rowBytes;
    try {
      this.bytes = new Uint8Array(offload ? new SharedArrayBuffer(total) : new ArrayBuffer(total));
    } catch (err) {
      throw new QuiverError('LIMIT_EXCEEDED', `${file}: cannot allocate ${total} bytes for ${header.count} vectors; free memory or load on a larger machine`, { file }, { cause: err });
    }
    this.digests = verify ? new BucketDigests() : undefined;
  }

  private bad(pos: unknown, id: unknown, problem: string): CorruptionError {
    const who = id === undefined ? '' : ` (id ${idLabel(id)})`;
    return new CorruptionError({ file: this.file, section: `${TABLE.entries} pos ${String(pos)}` }, `the entry${who} ${problem}`);
  }

  /** Validates and stores one row. */
  add(row: EntryRow): void {
    const [pos, rawId, vector, metaText] = row;
    if (typeof pos !== 'number' || !Number.isSafeInteger(pos) || pos < 0) throw this.bad(pos, undefined, 'has a position that is not a non-negative safe integer');
    if (pos <= this.lastPos) throw this.bad(pos, undefined, `comes after position ${this.lastPos}; positions must increase`);
    const id = this.checkRowId(pos, rawId);
    const i = this.count;
    if (i >= this.header.count) throw this.bad(pos, id, `is beyond the ${this.header.count} entries that ${TABLE.meta}.count announces`);
    if (!(vector instanceof Uint8Array)) throw this.bad(pos, id, `has a vector that is not a BLOB`);
    if (vector.length !== this.rowBytes) throw this.bad(pos, id, `has a ${vector.length}-byte vector; dimension ${this.header.dimension} needs exactly ${this.rowBytes} bytes`);
    let metadata: Metadata | undefined;
    if (metaText !== null) {
      if (typeof metaText !== 'string') throw this.bad(pos, id, 'has metadata that is not TEXT (JSON) or NULL');
      metadata = this.parseMetadata(pos, id, metaText);
    }
    if (this.firstPos) {
      const first = this.firstPos.get(id);
      if (first !== undefined) throw this.bad(pos, id, `repeats the id of the entry at position ${first}; a file must not hold the same id twice`);
      this.firstPos.set(id, pos);
    }
    if (this.digests) {
      const bucket = Math.floor(pos / this.header.bucketRows);
      if (bucket !== this.bucket) this.closeBucket(bucket);
      this.digests.addKey(pos, id, metaText as string | null);
    }
    this.bytes.set(vector, i * this.rowBytes);
    this.ids.push(id);
    this.metadata.push(metadata);
    this.count = i + 1;
    this.lastPos = pos;
  }

  private checkRowId(pos: number, rawId: unknown): Id {
    if (typeof rawId === 'number' && !Number.isSafeInteger(rawId)) throw this.bad(pos, rawId, 'has an INTEGER id outside the safe range ±(2^53-1)');
    try {
      return checkId(rawId);
    } catch (err) {
      throw this.bad(pos, undefined, `has an invalid id: ${(err as Error).message}`);
    }
  }

  private parseMetadata(pos: number, id: Id, text: string): Metadata | undefined {
    let value: unknown;
    try {
      value = parseJsonText(text);
    } catch {
      throw this.bad(pos, id, 'has metadata that is not valid JSON');
    }
    if (value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw this.bad(pos, id, `has metadata that is ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}; metadata must be a JSON object or NULL`);
    }
    return value as Metadata;
  }

  private closeBucket(next: number): void {
    if (this.bucket >= 0) {
      const view = this.bytes.subarray(this.bucketStart * this.rowBytes, this.count * this.rowBytes);
      this.digests!.close(this.bucket, view, this.offload);
    }
    this.bucket = next;
    this.bucketStart = this.count;
  }

  /**
   * Checks the row total and, when verifying, returns the computed bucket digests (bucket → digest);
   * undefined when not verifying.
   */
  async finish(): Promise<Map<number, Buffer> | undefined> {
    if (this.count !== this.header.count) {
      throw new CorruptionError({ file: this.file, section: TABLE.entries }, `${TABLE.meta}.count announces ${this.header.count} entries but the table holds ${this.count}`);
    }
    if (!this.digests) return undefined;
    this.closeBucket(-1);
    return new Map(await this.digests.results());
  }

  /** Stops outstanding hashing after a failure. */
  abandon(): void {
    this.digests?.abandon();
  }
}
