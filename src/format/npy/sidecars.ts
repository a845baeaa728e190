/**
 * The two files beside an exported .npy (docs/FORMAT.md): `<name>.ids.json`, a JSON array of
 * the ids in row order (numbers stay numbers), and `<name>.metadata.jsonl`, one JSON value per row
 * (an object, or null for none). This file names them and writes them (sidecar-readers.ts reads them).
 */
import type { Id, Metadata } from '../../engine/types.js';
import { BufferedWriter } from '../../env/buffered-writer.js';
import type { FileHandle } from '../../env/fs.js';
import { checkAbort, idText, metadataText } from '../json/write-values.js';

/** The sidecar paths of the .npy file at `path` (a trailing ".npy" is replaced, else appended to). */
export function npySidecarPaths(path: string): { ids: string; metadata: string } {
  const base = path.toLowerCase().endsWith('.npy') ? path.slice(0, -4) : path;
  return { ids: `${base}.ids.json`, metadata: `${base}.metadata.jsonl` };
}

/** Text gathered before it is handed to the writer. */
const FLUSH_CHARS = 1 << 18;

/**
 * Writes `open`, then `row(i)` for every row, then `close`, gathering text before handing it over;
 * checks `signal` and reports progress through `advance` every 4096 rows; returns the bytes written.
 */
async function writeRows(handle: FileHandle, count: number, row: (i: number) => string, open: string, close: string, signal: AbortSignal | undefined, advance: (n: number) => void): Promise<number> {
  const out = new BufferedWriter(handle, 0);
  let text = open;
  for (let i = 0; i < count; i++) {
    text += row(i);
    if ((i & 4095) === 4095) {
      checkAbort(signal);
      advance(4096);
    }
    if (text.length >= FLUSH_CHARS) {
      await out.writeString(text);
      text = '';
    }
  }
  await out.writeString(`${text}${close}`);
  await out.flush();
  advance(count & 4095);
  return out.position;
}

/** Writes `[id,id,...]\n`; `advance(rows)` reports rows done since the last call; returns the bytes written. */
export function writeIdsFile(handle: FileHandle, ids: readonly Id[], signal: AbortSignal | undefined, advance: (n: number) => void): Promise<number> {
  return writeRows(handle, ids.length, (i) => (i === 0 ? idText(ids[i]) : `,${idText(ids[i])}`), '[', ']\n', signal, advance);
}

/** Writes one line per entry: its metadata as JSON, or `null`; `advance` as for ids; returns the bytes written. */
export function writeMetadataFile(handle: FileHandle, metadata: readonly (Metadata | undefined)[], signal: AbortSignal | undefined, advance: (n: number) => void): Promise<number> {
  return writeRows(handle, metadata.length, (i) => `${metadataText(metadata[i], i) ?? 'null'}\n`, '', '', signal, advance);
}
