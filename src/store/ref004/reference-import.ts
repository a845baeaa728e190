/**
 * One-time import of a reference-004 persistence directory: `ann_metadata.json` (`vectors`:
 * `[[id, number[]], ...]`) and `payloads.json` (`[[id, payload], ...]`) found in `annIndexPath`.
 * The reference kept every collection in those two files; the first collection to connect without a
 * store of its own imports them (built in a staging directory, then renamed into place), and a marker
 * file `ann_metadata.json.quiver-imported`, written before the rename, names that collection so that no
 * other collection imports them again.
 * The reference files themselves are never modified.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { QuiverError, ioError } from '../../errors.js';
import { parseJsonText } from '../../util/json-text.js';
import { KeyedSerialQueue } from '../../util/serial.js';
import { writeFileAtomic } from '../../env/atomic.js';
import { acquireLock, type DirLock } from '../../env/lock.js';
import type { FileSystem } from '../../env/fs.js';
import type { Columns } from '../../engine/types.js';
import { readReference004, REFERENCE_METADATA_FILE, REFERENCE_PAYLOADS_FILE } from '../../format/reference/index.js';
import { fileExists } from '../../format/reference/files.js';
import { openVectorDB } from '../durable-db.js';
import { listNames } from '../layout.js';
import type { ResolvedConfig } from './config.js';
import { VectorDimensionError } from './errors.js';
import type { ReferenceImport } from './types.js';

export { REFERENCE_METADATA_FILE, REFERENCE_PAYLOADS_FILE } from '../../format/reference/index.js';
import { moveAside } from '../../env/move-aside.js';
/** Written next to them once they were imported. */
export const IMPORTED_MARKER = 'ann_metadata.json.quiver-imported';

/**
 * Moves the reference files (`ann_metadata.json` and `payloads.json`, those present) aside together when
 * one of them is damaged: they are one dataset, and leaving the intact one would let another collection
 * import the vectors without their payloads. Returns the new name of `damaged`.
 */
export async function moveReferenceAside(c: ResolvedConfig, damaged: string): Promise<string> {
  let movedTo = '';
  for (const name of [REFERENCE_METADATA_FILE, REFERENCE_PAYLOADS_FILE]) {
    const path = join(c.annIndexPath, name);
    if (path !== damaged && !(await fileExists(c.fs, path))) continue;
    const to = await moveAside(c.fs, path);
    if (path === damaged) movedTo = to;
  }
  return movedTo;
}

/** What a marker says: the collection that took the files, and whether its import finished. */
interface Marker {
  collection: string;
  done: boolean;
}

/**
 * The marker's content; undefined without a marker. One that cannot be read as a marker (or one of an
 * earlier version, which has no `state`) counts as a finished import by nobody we know.
 */
async function readMarker(fs: FileSystem, marker: string): Promise<Marker | undefined> {
  if (!(await fileExists(fs, marker))) return undefined;
  try {
    const parsed = parseJsonText(Buffer.from(await fs.readFile(marker)).toString('utf8')) as { collection?: unknown; state?: unknown } | null;
    return { collection: typeof parsed?.collection === 'string' ? parsed.collection : '', done: parsed?.state !== 'importing' };
  } catch {
    return { collection: '', done: true };
  }
}

async function writeMarker(c: ResolvedConfig, count: number, at: string, state: 'importing' | 'done'): Promise<void> {
  await writeFileAtomic(c.fs, join(c.annIndexPath, IMPORTED_MARKER), Buffer.from(`${JSON.stringify({ collection: c.collectionName, count, at, state })}\n`));
}

/** Imports in this process, by reference directory (resolved: two spellings of one directory are one key). */
const imports = new KeyedSerialQueue<string>();

/** Hidden directory in `annIndexPath` whose lock serializes imports across processes (no collection may start with '.'). */
export const IMPORT_LOCK_DIR = '.quiver-import';
/** How long a connect waits for another process's import of the same reference files. */
const IMPORT_LOCK_WAIT_MS = 10 * 60_000;

/**
 * Imports the reference files into `c`'s collection when they exist, were not imported before and
 * the collection has no directory of its own yet (see the module comment). Damaged files are a
 * CorruptionError naming the file; nothing is written then.
 */
export function importReferenceOnce(c: ResolvedConfig): Promise<ReferenceImport | undefined> {
  return imports.run(resolve(c.annIndexPath), () => importOnce(c));
}

/** Staging directories of this collection's interrupted imports. */
async function stagingLeftovers(c: ResolvedConfig): Promise<string[]> {
  // Staging names start with '.', which no collection name may, so no collection (`<name>.importing-x`,
  // say) is ever taken for one.
  const prefix = `.${basename(c.dir)}.importing-`;
  return (await listNames(c.fs, dirname(c.dir))).filter((name) => name.startsWith(prefix)).map((name) => join(dirname(c.dir), name));
}

/** The import lock of `c.annIndexPath`, waiting while another process holds it. */
async function lockImports(c: ResolvedConfig): Promise<DirLock> {
  const dir = join(c.annIndexPath, IMPORT_LOCK_DIR);
  const giveUp = Date.now() + IMPORT_LOCK_WAIT_MS;
  for (;;) {
    try {
      return await acquireLock(c.fs, dir);
    } catch (err) {
      if (!(err instanceof QuiverError && err.code === 'LOCKED') || Date.now() > giveUp) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function importOnce(c: ResolvedConfig): Promise<ReferenceImport | undefined> {
  const { fs } = c;
  const metaFile = join(c.annIndexPath, REFERENCE_METADATA_FILE);
  if (!(await fileExists(fs, metaFile))) return undefined;
  // A finished import is never repeated (not even into its own collection, deleted since). One that a
  // crash interrupted after the marker was written is finished by the collection it names, and only
  // while that collection's directory is still empty; other collections leave the files alone.
  const settled = (m: Marker | undefined): boolean => m !== undefined && (m.done || m.collection !== c.collectionName);
  // Whether this connect imports: the files are there, unclaimed, and the collection is still empty.
  const importsNow = async (): Promise<boolean> =>
    !settled(await readMarker(fs, join(c.annIndexPath, IMPORTED_MARKER))) && (await fileExists(fs, metaFile)) && (await listNames(fs, c.dir)).length === 0;
  // The files are read and checked first, before anything is created beside them (the import lock's
  // directory): damaged files fail the connect with the disk as it was. Nobody writes these files. They
  // are read only when this connect would import them: a collection that holds data never does.
  const read = async (): Promise<Columns> => {
    const { columns } = await readReference004(fs, c.annIndexPath, { fallbackDimension: c.dimension });
    if (columns.dimension !== c.dimension) {
      throw new VectorDimensionError(
        `${metaFile} holds ${columns.dimension}-dimensional vectors of the reference store, which the new collection "${c.collectionName}" (dimension ${c.dimension}) would import; connect with dimension ${columns.dimension} to import them, or pass importReferenceFiles: false (or use another path) to start this collection empty and leave the files alone`,
        c.dimension,
        columns.dimension,
      );
    }
    if (columns.ids.length > c.maxVectors) {
      throw new QuiverError('LIMIT_EXCEEDED', `${metaFile} holds ${columns.ids.length} vectors of the reference store, more than maxVectors ${c.maxVectors} of collection "${c.collectionName}"; nothing was imported. Raise maxVectors (createVectorStore({ type: 'in-memory', collectionName, dimension, maxVectors, annIndexPath }); the convenience factories keep the default of 10,000), or pass importReferenceFiles: false to start this collection empty and leave the files alone.`, { file: metaFile, count: columns.ids.length, maxVectors: c.maxVectors });
    }
    return columns;
  };
  let columns = (await importsNow()) ? await read() : undefined;
  if (columns === undefined && (await stagingLeftovers(c)).length === 0) return undefined;
  // Everything from here runs under the import lock: two processes (two collections, or one collection
  // connected twice) never both import, and a staging directory of this collection is a leftover.
  const lock = await lockImports(c);
  try {
    for (const leftover of await stagingLeftovers(c)) await fs.rm(leftover, { recursive: true });
    if (!(await importsNow())) return undefined;
    columns ??= await read();
    return await importInto(c, columns);
  } finally {
    await lock.release();
  }
}

/**
 * Writes the reference files' `columns` (parsed and validated by the format layer, docs/FORMAT.md: damage
 * is a CorruptionError naming the file, which connect() may move aside) as collection `c`.
 */
async function importInto(c: ResolvedConfig, columns: Columns): Promise<ReferenceImport> {
  const { fs } = c;
  const count = columns.ids.length;
  const staging = join(dirname(c.dir), `.${basename(c.dir)}.importing-${randomBytes(4).toString('hex')}`);
  const db = await openVectorDB(staging, { fs, dimension: c.dimension, metric: c.metric, durability: 'none' });
  try {
    // One wholesale replacement (made durable by a checkpoint), which takes what files may hold: the
    // reference store took payloads of any depth, and `insert` refuses more than 256 levels.
    db.replaceAll({ ...columns, metadata: columns.metadata.map((m) => m ?? {}) });
    await db.flush();
  } finally {
    await db.close();
  }
  // The marker goes first: once the data is in place, no other collection may find the files unclaimed.
  const at = new Date().toISOString();
  await writeMarker(c, count, at, 'importing');
  try {
    // An empty directory (checked above; connect refuses a collection name that is a file).
    if (await fileExists(fs, c.dir)) await fs.rm(c.dir, { recursive: true });
    await fs.rename(staging, c.dir);
    await fs.syncDir(dirname(c.dir));
  } catch (err) {
    throw ioError(err, 'move imported collection into place', c.dir);
  }
  await writeMarker(c, count, at, 'done');
  return { from: c.annIndexPath, count, at };
}
