/**
 * One-time import of a reference-004 persistence directory: `ann_metadata.json` (`vectors`:
 * `[[id, number[]], ...]`) and `payloads.json` (`[[id, payload], ...]`) found in `annIndexPath`.
 * The reference kept every collection in those two files; the first collection to connect without a
 * store of its own imports them (built in a staging directory, then renamed into place), and a marker
 * file `ann_metadata.json.quiver-imported` records that so no other collection imports them again.
 * The reference files themselves are never modified.
 */
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CorruptionError, ioError } from '../../errors.js';
import type { Id, Metadata, VectorEntry } from '../../engine/types.js';
import { writeFileAtomic } from '../../env/atomic.js';
import type { FileSystem } from '../../env/fs.js';
import { openVectorDB } from '../durable-db.js';
import { listNames } from '../layout.js';
import type { ResolvedConfig } from './config.js';
import { VectorDimensionError } from './errors.js';
import type { ReferenceImport } from './types.js';

/** Reference-004 file names. */
export const REFERENCE_METADATA_FILE = 'ann_metadata.json';
export const REFERENCE_PAYLOADS_FILE = 'payloads.json';
/** Written next to them once they were imported. */
export const IMPORTED_MARKER = 'ann_metadata.json.quiver-imported';

async function exists(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false;
    throw ioError(err, 'stat', path);
  }
}

/** Renames `path` to `<path>.corrupt-<time>` and returns the new path. */
export async function moveAside(fs: FileSystem, path: string): Promise<string> {
  const to = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    await fs.rename(path, to);
  } catch (err) {
    throw ioError(err, 'move aside', path);
  }
  return to;
}

async function readJson(fs: FileSystem, path: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    throw ioError(err, 'read', path);
  }
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch (err) {
    throw new CorruptionError({ file: path, section: 'json' }, `it is not valid JSON (${(err as Error).message})`);
  }
}

const isId = (v: unknown): v is Id => typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v));

function parseVectors(v: unknown, file: string, dimension: number): [Id, number[]][] {
  const fail = (problem: string): never => {
    throw new CorruptionError({ file, section: 'vectors' }, problem);
  };
  const vectors = (v as { vectors?: unknown } | null)?.vectors;
  if (!Array.isArray(vectors)) fail('it has no "vectors" array');
  const declared = (v as { dimension?: unknown }).dimension;
  if (declared !== undefined && declared !== dimension) throw new VectorDimensionError(dimension, Number(declared));
  const out = vectors as unknown[];
  out.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !isId(pair[0]) || !Array.isArray(pair[1])) fail(`vectors[${i}] is not an [id, number[]] pair`);
    if ((pair as unknown[][])[1].length !== dimension) throw new VectorDimensionError(dimension, (pair as unknown[][])[1].length);
  });
  return out as [Id, number[]][];
}

function parsePayloads(v: unknown, file: string): Map<Id, Metadata> {
  if (!Array.isArray(v)) throw new CorruptionError({ file, section: 'payloads' }, 'it is not an array of [id, payload] pairs');
  const map = new Map<Id, Metadata>();
  v.forEach((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !isId(pair[0]) || pair[1] === null || typeof pair[1] !== 'object' || Array.isArray(pair[1])) {
      throw new CorruptionError({ file, section: 'payloads' }, `item ${i} is not an [id, object] pair`);
    }
    map.set(pair[0] as Id, pair[1] as Metadata);
  });
  return map;
}

/**
 * Imports the reference files into `c`'s collection when they exist, were not imported before and
 * the collection has no directory of its own yet (see the module comment). Damaged files are a
 * CorruptionError naming the file; nothing is written then.
 */
export async function importReferenceOnce(c: ResolvedConfig): Promise<ReferenceImport | undefined> {
  const { fs } = c;
  const metaFile = join(c.annIndexPath, REFERENCE_METADATA_FILE);
  if (!(await exists(fs, metaFile)) || (await exists(fs, join(c.annIndexPath, IMPORTED_MARKER)))) return undefined;
  if ((await listNames(fs, c.dir)).length > 0) return undefined;
  const vectors = parseVectors(await readJson(fs, metaFile), metaFile, c.dimension);
  const payFile = join(c.annIndexPath, REFERENCE_PAYLOADS_FILE);
  const payloads = (await exists(fs, payFile)) ? parsePayloads(await readJson(fs, payFile), payFile) : new Map<Id, Metadata>();

  // Leftovers of an interrupted import of this collection (only our own staging names).
  const prefix = `${basename(c.dir)}.importing-`;
  for (const name of await listNames(fs, dirname(c.dir))) if (name.startsWith(prefix)) await fs.rm(join(dirname(c.dir), name), { recursive: true });
  const staging = join(dirname(c.dir), `${prefix}${randomBytes(4).toString('hex')}`);
  const db = await openVectorDB(staging, { fs, dimension: c.dimension, metric: c.metric, durability: 'none' });
  try {
    for (let i = 0; i < vectors.length; i += 1000) {
      const chunk: VectorEntry[] = vectors.slice(i, i + 1000).map(([id, vector]) => ({ id, vector, metadata: payloads.get(id) ?? {} }));
      await db.insertBatch(chunk);
    }
  } finally {
    await db.close();
  }
  try {
    await fs.rm(c.dir, { recursive: true }); // empty (checked above)
    await fs.rename(staging, c.dir);
    await fs.syncDir(dirname(c.dir));
  } catch (err) {
    throw ioError(err, 'move imported collection into place', c.dir);
  }
  const at = new Date().toISOString();
  await writeFileAtomic(fs, join(c.annIndexPath, IMPORTED_MARKER), Buffer.from(`${JSON.stringify({ collection: c.collectionName, count: vectors.length, at })}\n`));
  return { from: c.annIndexPath, count: vectors.length, at };
}
