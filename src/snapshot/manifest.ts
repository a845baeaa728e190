/**
 * metadata.json, the commit record of a snapshot, and checksum.sha256.
 *
 * metadata.json is `JSON.stringify(manifest, null, 2)` (the caller's `metadata` compact on its line)
 * with one last member appended,
 * `"selfSha256": "<hex>"`, the SHA-256 of the bytes before it (the document up to and excluding the
 * final `\n}`, followed by `\n}`), and a final newline. A reader rebuilds those bytes exactly and
 * compares, so any change to the file (a flipped digit in a count, a truncated tail) is detected
 * before a field is trusted. `checksum` is the SHA-256 of the checksum file, which in turn lists the
 * SHA-256 of every data file: one verified chain from this record to every byte of the snapshot.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CorruptionError, QuiverError } from '../errors.js';
import { isPlainObject } from '../format/qvdb/msgpack.js';
import { isSnapshotId, MAX_NAME_LENGTH } from './ids.js';
import { MAX_TIME } from './retention-buckets.js';
import { parseChecksumFileName, parseDataFileName, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION, type FileRole, type SnapshotCompression } from './layout.js';
import type { SnapshotInfo } from './types.js';

/** One data file as metadata.json records it. */
export interface ManifestFile {
  name: string;
  role: FileRole;
  /** Stored bytes. */
  bytes: number;
  /** Bytes after decompression. */
  rawBytes: number;
}

/**
 * The contents of metadata.json (without selfSha256): what the snapshot reports, and what reading it
 * back needs. The key order on disk is the writer's (docs/FORMAT.md), not this declaration's.
 */
export interface SnapshotManifest extends SnapshotInfo {
  format: typeof SNAPSHOT_FORMAT;
  cleared: boolean;
  compressionLevel: number;
  generation: number;
  files: ManifestFile[];
  checksumFile: string;
  library: string;
}

const SELF_RE = /,\n {2}"selfSha256": "([0-9a-f]{64})"\n\}\n$/;
const METRICS: readonly string[] = ['cosine', 'euclidean', 'dot', 'manhattan'];
const HEX64 = /^[0-9a-f]{64}$/;

function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Largest metadata.json a reader accepts (a bound on what a damaged or foreign record makes it read). */
export const MAX_MANIFEST_BYTES = 4 << 20;

/**
 * Encodes a manifest as metadata.json bytes: indented two spaces a level, except the caller's
 * `metadata`, written compact on its member's line. Indenting it would multiply its size with its
 * depth (6 KB of arrays nested 990 deep came to over 4 MiB), and a record over MAX_MANIFEST_BYTES is
 * unreadable; a manifest that would still be larger is refused (LIMIT_EXCEEDED) before it is written.
 */
export function encodeManifest(m: SnapshotManifest): Uint8Array {
  // A stand-in no other member can contain (random per call), replaced by the compact text.
  const marker = `quiver-metadata-${randomBytes(16).toString('hex')}`;
  const body = JSON.stringify({ ...m, metadata: marker }, null, 2).replace(JSON.stringify(marker), () => JSON.stringify(m.metadata));
  const text = `${body.slice(0, -2)},\n  "selfSha256": "${sha256Hex(body)}"\n}\n`;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new QuiverError('LIMIT_EXCEEDED', `the record of snapshot ${m.id} would be ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES} readers accept; store less metadata or fewer tags`, { bytes: bytes.length });
  }
  return bytes;
}

/** Decodes and checks metadata.json bytes; `file` names it in errors. Throws CorruptionError. */
export function decodeManifest(bytes: Uint8Array, file: string, expectId?: string): SnapshotManifest {
  const fail = (section: string, problem: string, code: 'CORRUPT' | 'CHECKSUM_MISMATCH' = 'CORRUPT'): never => {
    throw new CorruptionError({ file, section }, problem, code);
  };
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const m = SELF_RE.exec(text);
  if (!m) fail('selfSha256', `the file does not end with its "selfSha256" member (${bytes.length} bytes; truncated or not written by QuiverDB)`);
  const body = `${text.slice(0, (m as RegExpExecArray).index)}\n}`;
  const actual = sha256Hex(body);
  if (actual !== (m as RegExpExecArray)[1]) fail('selfSha256', `checksum mismatch: the record says ${(m as RegExpExecArray)[1]}, its bytes hash to ${actual}`, 'CHECKSUM_MISMATCH');
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (err) {
    fail('json', `not valid JSON (${(err as Error).message})`);
  }
  return checkManifest(v, fail, expectId);
}

type Fail = (section: string, problem: string) => never;

function checkManifest(v: unknown, fail: Fail, expectId: string | undefined): SnapshotManifest {
  if (!isPlainObject(v)) fail('json', 'the document is not a JSON object');
  const o = v as Record<string, unknown>;
  const int = (k: string, min = 0): number => {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) fail(k, `"${k}" must be an integer >= ${min}, got ${JSON.stringify(x)}`);
    return x as number;
  };
  const str = (k: string): string => {
    const x = o[k];
    if (typeof x !== 'string') fail(k, `"${k}" must be a string`);
    return x as string;
  };
  if (o.format !== SNAPSHOT_FORMAT) fail('format', `"format" is ${JSON.stringify(o.format)}, not "${SNAPSHOT_FORMAT}"`);
  const formatVersion = int('formatVersion', 1);
  if (formatVersion !== SNAPSHOT_FORMAT_VERSION) {
    fail('formatVersion', `snapshot format version ${formatVersion} is newer than this QuiverDB reads (${SNAPSHOT_FORMAT_VERSION}); upgrade QuiverDB`);
  }
  const id = str('id');
  if (!isSnapshotId(id)) fail('id', `"id" ${JSON.stringify(id)} is not a valid snapshot id`);
  if (expectId !== undefined && id !== expectId) fail('id', `the record is for snapshot ${id}, but it sits in the folder of ${expectId}`);
  const name = str('name');
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || name.includes('\0')) fail('name', 'invalid snapshot name');
  // Within the times retention works with (the Date range less a week): a crafted 1e20 made every prune fail.
  if (typeof o.createdAt !== 'number' || !Number.isFinite(o.createdAt) || Math.abs(o.createdAt) > MAX_TIME) fail('createdAt', '"createdAt" must be a number of ms within the Date range');
  const type = o.type;
  if (type !== 'full' && type !== 'incremental') fail('type', `"type" must be "full" or "incremental"`);
  let baseId: string | undefined;
  if (type === 'incremental') {
    baseId = str('baseId');
    if (!isSnapshotId(baseId) || baseId === id) fail('baseId', `"baseId" ${JSON.stringify(baseId)} is not a valid base id`);
  } else if (o.baseId !== undefined) {
    fail('baseId', 'a full snapshot has no "baseId"');
  }
  const chainDepth = int('chainDepth');
  if ((type === 'full') !== (chainDepth === 0)) fail('chainDepth', 'full snapshots have depth 0, incrementals more');
  const vectorCount = int('vectorCount');
  const changedCount = int('changedCount');
  const deletedCount = int('deletedCount');
  if (type === 'full' && (changedCount !== vectorCount || deletedCount !== 0)) fail('changedCount', 'a full snapshot stores every entry and deletes none');
  if (typeof o.cleared !== 'boolean' || (type === 'full' && o.cleared)) fail('cleared', '"cleared" must be a boolean (false for full snapshots)');
  const dimension = int('dimension', 1);
  const metric = str('metric');
  if (!METRICS.includes(metric)) fail('metric', `unknown metric ${JSON.stringify(metric)}`);
  const compression = o.compression;
  if (compression !== 'none' && compression !== 'gzip') fail('compression', `unknown compression ${JSON.stringify(compression)}`);
  int('compressionLevel');
  const generation = int('generation', 1);
  checkFiles(o.files, fail, generation, compression as SnapshotCompression, dimension, changedCount);
  const checksumFile = str('checksumFile');
  if (parseChecksumFileName(checksumFile) !== generation) fail('checksumFile', `"checksumFile" ${JSON.stringify(checksumFile)} does not match generation ${generation}`);
  int('sizeBytes');
  const checksum = str('checksum');
  if (!HEX64.test(checksum)) fail('checksum', '"checksum" must be 64 lowercase hex digits');
  if (!isPlainObject(o.metadata)) fail('metadata', '"metadata" must be a JSON object');
  if (typeof o.pinned !== 'boolean') fail('pinned', '"pinned" must be a boolean');
  if (!Array.isArray(o.tags) || !o.tags.every((t) => typeof t === 'string')) fail('tags', '"tags" must be an array of strings');
  str('library');
  if (o.note !== undefined) str('note');
  if (o.foldedFrom !== undefined && !isSnapshotId(o.foldedFrom)) fail('foldedFrom', '"foldedFrom" must be a snapshot id');
  return o as unknown as SnapshotManifest;
}

function checkFiles(v: unknown, fail: Fail, generation: number, compression: SnapshotCompression, dimension: number, changedCount: number): void {
  if (!Array.isArray(v) || v.length < 2 || v.length > 3) fail('files', '"files" must list 2 or 3 data files');
  const seen = new Set<string>();
  for (const f of v as unknown[]) {
    if (!isPlainObject(f)) fail('files', 'each file entry must be an object');
    const e = f as Record<string, unknown>;
    const parsed = typeof e.name === 'string' ? parseDataFileName(e.name) : undefined;
    if (!parsed || parsed.role !== e.role || parsed.generation !== generation || parsed.compression !== compression) {
      fail('files', `file entry ${JSON.stringify(e.name)} is not a ${compression} data file of generation ${generation}`);
    }
    if (seen.has(parsed!.role)) fail('files', `two "${parsed!.role}" files`);
    seen.add(parsed!.role);
    for (const k of ['bytes', 'rawBytes']) {
      const x = e[k];
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail('files', `${String(e.name)}: "${k}" must be an integer >= 0`);
    }
    if (compression === 'none' && e.bytes !== e.rawBytes) fail('files', `${String(e.name)}: an uncompressed file has bytes = rawBytes`);
    if (parsed!.role === 'vectors' && e.rawBytes !== changedCount * dimension * 4) {
      fail('files', `${String(e.name)}: ${String(e.rawBytes)} raw bytes do not hold ${changedCount} vectors of dimension ${dimension}`);
    }
  }
  if (!seen.has('vectors') || !seen.has('metadata')) fail('files', '"files" must include the vectors and metadata files');
}

/** The public view of a manifest. */
export function infoOf(m: SnapshotManifest): SnapshotInfo {
  const info: SnapshotInfo = {
    id: m.id, name: m.name, createdAt: m.createdAt, type: m.type, chainDepth: m.chainDepth, vectorCount: m.vectorCount,
    changedCount: m.changedCount, deletedCount: m.deletedCount, dimension: m.dimension, metric: m.metric, sizeBytes: m.sizeBytes,
    checksum: m.checksum, compression: m.compression, metadata: structuredClone(m.metadata), pinned: m.pinned, tags: [...m.tags],
    formatVersion: m.formatVersion,
  };
  if (m.baseId !== undefined) info.baseId = m.baseId;
  if (m.note !== undefined) info.note = m.note;
  if (m.foldedFrom !== undefined) info.foldedFrom = m.foldedFrom;
  return info;
}

/** checksum.sha256 bytes: one `<hex>  <name>` line per file, in the order given (sha256sum format). */
export function encodeChecksumFile(entries: readonly { name: string; sha256: string }[]): Uint8Array {
  return Buffer.from(entries.map((e) => `${e.sha256}  ${e.name}\n`).join(''), 'utf8');
}

/** Parses checksum.sha256 and checks it lists exactly `names`; returns name → hex SHA-256. */
export function parseChecksumFile(bytes: Uint8Array, file: string, names: readonly string[]): Map<string, string> {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const out = new Map<string, string>();
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new CorruptionError({ file, section: 'lines' }, 'the file does not end with a newline');
  let offset = 0;
  for (const line of lines) {
    const m = /^([0-9a-f]{64}) {2}([A-Za-z0-9._-]+)$/.exec(line);
    if (!m) throw new CorruptionError({ file, section: 'lines', offset }, `line ${JSON.stringify(line.slice(0, 100))} is not "<sha256>  <name>"`);
    if (out.has(m[2])) throw new CorruptionError({ file, section: 'lines', offset }, `${m[2]} is listed twice`);
    out.set(m[2], m[1]);
    offset += Buffer.byteLength(line) + 1;
  }
  for (const n of names) if (!out.has(n)) throw new CorruptionError({ file, section: 'lines' }, `${n} is not listed`);
  if (out.size !== names.length) throw new CorruptionError({ file, section: 'lines' }, `lists ${out.size} files, metadata.json names ${names.length}`);
  return out;
}
