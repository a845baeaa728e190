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

/** Writes `[id,id,...]\n`; `advance(rows)` reports rows done since the last call; returns the bytes written. */
export async function writeIdsFile(handle: FileHandle, ids: readonly Id[], signal: AbortSignal | undefined, advance: (n: number) => void): Promise<number> {
  const out = new BufferedWriter(handle, 0);
  let text = '[';
  for (let i = 0; i < ids.length; i++) {
    text += i === 0 ? idText(ids[i]) : `,${idText(ids[i])}`;
    if ((i & 4095) === 4095) {
      checkAbort(signal);
      advance(4096);
    }
    if (text.length >= FLUSH_CHARS) {
      await out.writeString(text);
      text = '';
    }
  }
  await out.writeString(`${text}]\n`);
  await out.flush();
  advance(ids.length & 4095);
  return out.position;
}

/** Writes one line per entry: its metadata as JSON, or `null`; `advance` as for ids; returns the bytes written. */
export async function writeMetadataFile(handle: FileHandle, metadata: readonly (Metadata | undefined)[], signal: AbortSignal | undefined, advance: (n: number) => void): Promise<number> {
  const out = new BufferedWriter(handle, 0);
  let text = '';
  for (let i = 0; i < metadata.length; i++) {
    text += `${metadataText(metadata[i], i) ?? 'null'}\n`;
    if ((i & 4095) === 4095) {
      checkAbort(signal);
      advance(4096);
    }
    if (text.length >= FLUSH_CHARS) {
      await out.writeString(text);
      text = '';
    }
  }
  await out.writeString(text);
  await out.flush();
  advance(metadata.length & 4095);
  return out.position;
}
