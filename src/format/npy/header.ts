/**
 * The NPY header (docs/FORMAT.md): magic "\x93NUMPY", version, header length, and a Python dict
 * literal `{'descr': '<f4', 'fortran_order': False, 'shape': (n, dim), }` padded with spaces and a
 * newline so the data starts at a multiple of 64 bytes. Written as version 1.0; versions 1.0, 2.0
 * and 3.0 are read. Every length is checked against the file's size before anything is allocated.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import { MAX_DIMENSION } from '../json/entry-parser.js';
import { PyLiteralError, parsePyLiteral } from './py-literal.js';

/** The six magic bytes every .npy file starts with. */
export const NPY_MAGIC: Uint8Array = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);
/** The data starts at a multiple of this (numpy's own alignment since 1.x). */
export const NPY_ALIGNMENT = 64;
/** The one element type read and written: little-endian IEEE 754 float32. */
export const NPY_DESCR = '<f4';
/** Largest header accepted (numpy's own reader stops at 10,000 bytes by default). */
export const MAX_HEADER_BYTES = 65536;
/** Bytes a reader needs to see to parse any acceptable header. */
export const HEADER_PROBE_BYTES = 12 + MAX_HEADER_BYTES;

/** What a valid header says. */
export interface NpyHeader {
  major: number;
  /** File offset of the first vector byte. */
  dataOffset: number;
  rows: number;
  dimension: number;
}

/** The header of a version 1.0 file holding `rows` float32 vectors of `dimension`. */
export function encodeNpyHeader(rows: number, dimension: number): Uint8Array {
  const dict = `{'descr': '${NPY_DESCR}', 'fortran_order': False, 'shape': (${rows}, ${dimension}), }`;
  const unpadded = NPY_MAGIC.length + 4 + dict.length + 1;
  const text = dict + ' '.repeat((NPY_ALIGNMENT - (unpadded % NPY_ALIGNMENT)) % NPY_ALIGNMENT) + '\n';
  const out = new Uint8Array(NPY_MAGIC.length + 4 + text.length);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

/** True when `head` starts with the .npy magic. */
export function hasNpyMagic(head: Uint8Array): boolean {
  if (head.length < NPY_MAGIC.length) return false;
  for (let i = 0; i < NPY_MAGIC.length; i++) if (head[i] !== NPY_MAGIC[i]) return false;
  return true;
}

const CONVERT = 'convert it with numpy first';

function unsupported(file: string, problem: string, fix: string): QuiverError {
  return new QuiverError('UNSUPPORTED_FORMAT', `${file}: ${problem}; QuiverDB imports 2-D C-order little-endian float32 ('<f4') arrays only, so ${CONVERT}: ${fix}`, { file });
}

/** Parses the dict text into descr / fortran_order / shape, exactly those keys. */
function parseDict(text: string, file: string, at: number): { descr: unknown; fortran: unknown; shape: unknown } {
  let v;
  try {
    v = parsePyLiteral(text);
  } catch (err) {
    if (err instanceof PyLiteralError) throw new CorruptionError({ file, section: 'header', offset: at + err.at }, `the header is not a Python dict literal (${err.message})`);
    throw err;
  }
  if (!(v instanceof Map)) throw new CorruptionError({ file, section: 'header', offset: at }, 'the header is not a Python dict');
  const keys = [...v.keys()].sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') {
    throw new CorruptionError({ file, section: 'header', offset: at }, `the header dict must have exactly the keys descr, fortran_order and shape (it has ${keys.join(', ') || 'none'})`);
  }
  return { descr: v.get('descr'), fortran: v.get('fortran_order'), shape: v.get('shape') };
}

/**
 * Parses the header at the start of `head` (the first bytes of the file, up to
 * {@link HEADER_PROBE_BYTES}) of a file of `fileSize` bytes and checks the data size exactly.
 */
export function parseNpyHeader(head: Uint8Array, fileSize: number, file: string): NpyHeader {
  const truncated = (section: string, what: string) => new CorruptionError({ file, section, offset: head.length }, `the file ends inside the ${what} (it is truncated)`);
  if (!hasNpyMagic(head)) {
    const prefixOfMagic = head.length < NPY_MAGIC.length && head.every((b, i) => b === NPY_MAGIC[i]);
    if (prefixOfMagic && head.length > 0) throw truncated('magic', 'magic string');
    const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b ? ' It is gzip-compressed: decompress it first (gunzip), .npy imports are uncompressed.' : '';
    throw new QuiverError('UNSUPPORTED_FORMAT', `${file} is not a NumPy .npy file (it does not start with the bytes "\\x93NUMPY").${gzip}`, { file });
  }
  if (head.length < 8) throw truncated('version', 'version bytes');
  const major = head[6];
  const minor = head[7];
  if (major < 1 || major > 3 || minor !== 0) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${file} uses .npy format version ${major}.${minor}; QuiverDB reads versions 1.0, 2.0 and 3.0.`, { file, version: `${major}.${minor}` });
  }
  const lenBytes = major === 1 ? 2 : 4;
  if (head.length < 8 + lenBytes) throw truncated('header length', 'header length');
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (headerLen > MAX_HEADER_BYTES) throw new CorruptionError({ file, section: 'header length', offset: 8 }, `the header claims ${headerLen} bytes, more than the ${MAX_HEADER_BYTES} allowed`);
  if (start + headerLen > fileSize || start + headerLen > head.length) throw truncated('header', 'header');
  const bytes = head.subarray(start, start + headerLen);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes);
  } catch {
    throw new CorruptionError({ file, section: 'header', offset: start }, 'the header is not valid UTF-8');
  }
  const { descr, fortran, shape } = parseDict(text, file, start);
  if (descr !== NPY_DESCR) {
    const shown = typeof descr === 'string' ? `'${descr}'` : 'a structured dtype';
    throw unsupported(file, `its element type is ${shown}`, "np.save(path, np.load(path).astype('<f4'))");
  }
  if (typeof fortran !== 'boolean') throw new CorruptionError({ file, section: 'header', offset: start }, 'fortran_order must be True or False');
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && d >= 0)) {
    throw new CorruptionError({ file, section: 'header', offset: start }, 'shape must be a tuple of non-negative integers');
  }
  if (shape.length !== 2) {
    throw unsupported(file, `its shape is (${shape.join(', ')}), not (count, dimension)`, 'np.save(path, np.load(path).reshape(-1, dimension))');
  }
  const [rows, dimension] = shape as number[];
  // A one-row or one-column array has the same bytes in either order.
  if (fortran && rows > 1 && dimension > 1) throw unsupported(file, 'it is stored in Fortran (column-major) order', 'np.save(path, np.ascontiguousarray(np.load(path)))');
  if (dimension < 1 || dimension > MAX_DIMENSION) throw unsupported(file, `its vectors have ${dimension} numbers (allowed: 1..${MAX_DIMENSION})`, 'save an array of shape (count, dimension)');
  const dataOffset = start + headerLen;
  const dataBytes = rows * dimension * 4;
  const held = fileSize - dataOffset;
  if (!Number.isSafeInteger(dataBytes) || dataBytes > held) {
    throw new CorruptionError({ file, section: 'data', offset: fileSize }, `the shape (${rows}, ${dimension}) needs ${dataBytes} bytes of float32 data but the file holds ${held} (it is truncated)`);
  }
  if (dataBytes < held) throw new CorruptionError({ file, section: 'data', offset: dataOffset + dataBytes }, `${held - dataBytes} bytes follow the ${rows} x ${dimension} float32 values the header describes`);
  return { major, dataOffset, rows, dimension };
}
