/**
 * The work unit of {@link FormatPool}: writes a chunk of entries as finished document text. The
 * caller supplies each entry's text before and after its vector (`{"id":…,"vector":` and
 * `,"metadata":…}` with the layout's separators) already encoded; this formats the float32 numbers
 * between them, so the text goes to the file as it is, with no copy into a page on the main thread.
 * Runs in a worker thread or inline.
 */
import { MAX_FLOAT32_CHARS, writeVectorText } from './float-format.js';

/**
 * A request: `vectors` holds whole entries of `dimension` floats; entry e's text before its vector is
 * `parts[cuts[2e]..cuts[2e+1])` and after it `parts[cuts[2e+1]..cuts[2e+2])`. `spare` is a text
 * buffer to reuse; `shared` asks for text in shared memory (the SHA-256 helper thread reads it).
 */
export interface FormatRequest {
  seq: number;
  dimension: number;
  vectors: Float32Array;
  parts: Uint8Array;
  cuts: Uint32Array;
  shared: boolean;
  spare?: Uint8Array;
}

/**
 * A reply: the chunk's text is `text[0..length)`; `bad` names the first non-finite number (then the
 * text is incomplete). `vectors`, `parts` and `cuts` come back for reuse.
 */
export interface FormatReply {
  seq: number;
  text: Uint8Array;
  length: number;
  entries: number;
  vectors: Float32Array;
  parts: Uint8Array;
  cuts: Uint32Array;
  bad?: { entry: number; element: number };
}

/** Bytes the text of `entries` entries of `dim` numbers with `partBytes` of surrounding text may take. */
function textBound(entries: number, dim: number, partBytes: number): number {
  return entries * (dim * (MAX_FLOAT32_CHARS + 1) + 2) + partBytes;
}

/** The buffers of `views` that can be transferred (shared memory is passed by reference instead). */
export function ownBuffers(views: readonly (ArrayBufferView | undefined)[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const v of views) if (v !== undefined && !(v.buffer instanceof SharedArrayBuffer) && !out.includes(v.buffer as ArrayBuffer)) out.push(v.buffer as ArrayBuffer);
  return out;
}

/** Copies `src[from..to)` to `out[pos]`: a byte loop for the short parts, one memcpy for long ones. */
function put(src: Uint8Array, from: number, to: number, out: Uint8Array, pos: number): number {
  if (to - from > 64) {
    out.set(src.subarray(from, to), pos);
    return pos + to - from;
  }
  for (let i = from; i < to; i++) out[pos++] = src[i];
  return pos;
}

/** Formats one request (also used inline when no worker is available). */
export function formatChunk(req: FormatRequest): FormatReply {
  const { dimension: dim, vectors, parts, cuts } = req;
  const entries = Math.floor(vectors.length / dim);
  const need = textBound(entries, dim, cuts[2 * entries]);
  const fits = req.spare !== undefined && req.spare.length >= need && req.spare.buffer instanceof SharedArrayBuffer === req.shared;
  // New buffers get headroom: the surrounding texts vary from chunk to chunk, and a recycled buffer
  // that is a little too small would mean fresh memory for every chunk.
  const size = need + (need >> 3);
  const text = fits ? req.spare! : new Uint8Array(req.shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
  const bits = new Uint32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  const reply = { seq: req.seq, text, length: 0, entries, vectors, parts, cuts };
  let pos = 0;
  for (let e = 0; e < entries; e++) {
    pos = put(parts, cuts[2 * e], cuts[2 * e + 1], text, pos);
    const next = writeVectorText(vectors, bits, e * dim, (e + 1) * dim, text, pos);
    if (next < 0) return { ...reply, length: pos, bad: { entry: e, element: -1 - next } };
    pos = put(parts, cuts[2 * e + 1], cuts[2 * e + 2], text, next);
  }
  reply.length = pos;
  return reply;
}
