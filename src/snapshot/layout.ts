/**
 * Where a snapshot's objects live in a store, following reference 002:
 *
 *   snapshot-{id}/metadata.json       the commit record, written last (see manifest.ts)
 *   snapshot-{id}/vectors.bin.gz      little-endian float32 vectors of the stored entries
 *   snapshot-{id}/metadata.bin.gz     MessagePack record stream: ids, metadata, deletions, content hashes
 *   snapshot-{id}/index.bin.gz        reserved for an ANN index (never written by format version 1)
 *   snapshot-{id}/checksum.sha256     `sha256sum` lines for every data file
 *
 * With compression 'none' the data files drop `.gz`. A snapshot folded into a full one after its base
 * was deleted gets new files carrying a generation, e.g. `vectors.g2.bin.gz` and `checksum.g2.sha256`;
 * `metadata.json` always names the files that belong to the snapshot. Exact byte layouts: docs/SNAPSHOTS.
 */
import { checkSnapshotId, isSnapshotId } from './ids.js';

/** `format` of metadata.json. */
export const SNAPSHOT_FORMAT = 'quiver-snapshot';
/** The snapshot format version this code writes and the only one it reads. */
export const SNAPSHOT_FORMAT_VERSION = 1;
/** `format` of the header record of metadata.bin. */
export const RECORDS_FORMAT = 'quiver-snapshot-records';
/** Prefix of every snapshot folder. */
export const SNAPSHOT_PREFIX = 'snapshot-';
/** Name of the commit record. */
export const MANIFEST_NAME = 'metadata.json';

/** Roles of data files. */
export type FileRole = 'vectors' | 'metadata' | 'index';
/** Compression of data files. */
export type SnapshotCompression = 'none' | 'gzip';

const DATA_NAME_RE = /^(vectors|metadata|index)(?:\.g([2-9]|[1-9]\d{1,5}))?\.bin(\.gz)?$/;
const CHECKSUM_NAME_RE = /^checksum(?:\.g([2-9]|[1-9]\d{1,5}))?\.sha256$/;

/** The folder prefix of snapshot `id` (validated). */
export function snapshotPrefix(id: string): string {
  return `${SNAPSHOT_PREFIX}${checkSnapshotId(id)}/`;
}

/** The key of `name` inside snapshot `id`. */
export function snapshotKey(id: string, name: string): string {
  return `${snapshotPrefix(id)}${name}`;
}

/** The id of a snapshot folder key such as `snapshot-X/metadata.json`, or undefined. */
export function idOfKey(key: string): { id: string; name: string } | undefined {
  if (!key.startsWith(SNAPSHOT_PREFIX)) return undefined;
  const slash = key.indexOf('/');
  if (slash < 0) return undefined;
  const name = key.slice(slash + 1);
  if (name === '' || name.includes('/')) return undefined;
  const id = key.slice(SNAPSHOT_PREFIX.length, slash);
  // A folder whose name holds no valid id (a copy such as `snapshot-<id>.bak/`) is not a snapshot:
  // neither listed nor collected.
  return isSnapshotId(id) ? { id, name } : undefined;
}

/** File name of a data file of `role` for `generation` (1 = the reference names) and compression. */
export function dataFileName(role: FileRole, generation: number, compression: SnapshotCompression): string {
  return `${role}${generation > 1 ? `.g${generation}` : ''}.bin${compression === 'gzip' ? '.gz' : ''}`;
}

/** File name of the checksum file for `generation`. */
export function checksumFileName(generation: number): string {
  return `checksum${generation > 1 ? `.g${generation}` : ''}.sha256`;
}

/** Role, generation and compression a data file name encodes, or undefined when it is not one. */
export function parseDataFileName(name: string): { role: FileRole; generation: number; compression: SnapshotCompression } | undefined {
  const m = DATA_NAME_RE.exec(name);
  if (!m) return undefined;
  return { role: m[1] as FileRole, generation: m[2] ? Number(m[2]) : 1, compression: m[3] ? 'gzip' : 'none' };
}

/** Generation of a checksum file name, or undefined when it is not one. */
export function parseChecksumFileName(name: string): number | undefined {
  const m = CHECKSUM_NAME_RE.exec(name);
  if (!m) return undefined;
  return m[1] ? Number(m[1]) : 1;
}
