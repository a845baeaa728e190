/**
 * Opening a .qvdb file for reading: size, header, footer, directory, in that order of trust. Nothing
 * after this step reads a byte the verified directory does not account for.
 */
import { createHash } from 'node:crypto';
import { CorruptionError, QuiverError, ioError } from '../../errors.js';
import type { FileHandle, FileSystem } from '../../env/fs.js';
import { openFile } from '../stream/open-file.js';
import { FileKind, FOOTER_MAGIC_OFFSET, FOOTER_SIZE, HEADER_SIZE, MAGIC, MAGIC_PREFIX_LENGTH } from './constants.js';
import { decodeDirectory, decodeFooter, decodeHeader, hasMagic, type DirectoryEntry, type PaddingGap, type QvdbHeader } from './layout.js';

/** An open, structurally validated .qvdb file. Close `handle` when done. */
export interface OpenedQvdb {
  file: string;
  handle: FileHandle;
  size: number;
  header: QvdbHeader;
  kind: 'full' | 'delta';
  directoryOffset: number;
  entries: DirectoryEntry[];
  gaps: PaddingGap[];
  /** The file checksum: hex SHA-256 of the directory bytes. */
  checksum: string;
}

/**
 * Reads exactly `length` bytes at `position` into `into` at `offset`. Running out of file is
 * corruption of `section` (the file shrank or was truncated); OS errors become QuiverErrors.
 */
export async function readExact(handle: FileHandle, file: string, section: string, into: Uint8Array, position: number, offset = 0, length = into.length - offset): Promise<void> {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = await handle.read(into, position + done, offset + done, length - done);
    } catch (err) {
      throw ioError(err, 'read', file);
    }
    if (n <= 0) throw new CorruptionError({ file, section, offset: position + done }, `the file ends ${length - done} bytes early`);
    done += n;
  }
}

function startsLikeMagic(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, MAGIC.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

function notQvdb(file: string): QuiverError {
  return new QuiverError('UNSUPPORTED_FORMAT', `${file} is not a .qvdb file (its first bytes are not the .qvdb magic); check the path, or load it with the format it was written in`, { file });
}

async function locate(handle: FileHandle, file: string, size: number): Promise<Omit<OpenedQvdb, 'handle'>> {
  const head = new Uint8Array(Math.min(size, HEADER_SIZE));
  await readExact(handle, file, 'header', head, 0);
  if (size < MAGIC.length) {
    // A short prefix of the magic (or nothing) is a truncated .qvdb file; anything else is another format.
    if (startsLikeMagic(head)) throw new CorruptionError({ file, section: 'header', offset: 0 }, `the file is ${size} bytes long, shorter than the header (truncated)`);
    throw notQvdb(file);
  }
  const tail = new Uint8Array(Math.min(size, FOOTER_SIZE));
  await readExact(handle, file, 'footer', tail, size - tail.length);
  const headOk = hasMagic(head);
  const tailOk = tail.length === FOOTER_SIZE && hasMagic(tail, FOOTER_MAGIC_OFFSET);
  if (!headOk) {
    const mangled = head.subarray(0, MAGIC_PREFIX_LENGTH).every((b, i) => b === MAGIC[i]);
    if (!tailOk && !mangled) throw notQvdb(file);
    const why = mangled && !tailOk ? ' (line endings look converted: was it transferred in text mode?)' : '';
    throw new CorruptionError({ file, section: 'header', offset: 0 }, `the magic bytes are damaged${why}`);
  }
  if (size < HEADER_SIZE) throw new CorruptionError({ file, section: 'header', offset: size }, `the file is ${size} bytes long, shorter than the ${HEADER_SIZE}-byte header (truncated)`);
  const header = decodeHeader(head, file);
  if (size < HEADER_SIZE + FOOTER_SIZE) throw new CorruptionError({ file, section: 'footer', offset: size }, `the file is ${size} bytes long, too short to hold a footer (truncated)`);
  const footer = decodeFooter(tail, file, size);
  const dir = new Uint8Array(footer.directoryLength);
  await readExact(handle, file, 'directory', dir, footer.directoryOffset);
  const sha = createHash('sha256').update(dir).digest();
  if (!sha.equals(footer.directorySha256)) {
    throw new CorruptionError({ file, section: 'directory', offset: footer.directoryOffset }, `directory checksum mismatch (SHA-256 in the footer ${Buffer.from(footer.directorySha256).toString('hex')}, computed ${sha.toString('hex')})`, 'CHECKSUM_MISMATCH');
  }
  const { entries, gaps } = decodeDirectory(dir, file, footer.directoryOffset);
  return {
    file, size, header, kind: header.kind === FileKind.DELTA ? 'delta' : 'full',
    directoryOffset: footer.directoryOffset, entries, gaps, checksum: sha.toString('hex'),
  };
}

/** Opens `path` and validates header, footer and directory; the caller closes the returned handle. */
export async function openQvdb(fs: FileSystem, path: string): Promise<OpenedQvdb> {
  const { handle, size } = await openFile(fs, path);
  try {
    return { handle, ...(await locate(handle, path, size)) };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}
