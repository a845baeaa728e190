/**
 * The work unit of {@link FormatPool}: formats a chunk of float32 vectors into JSON array text
 * (`[v0,v1,...]` per entry) with each entry's end offset. Runs in a worker thread or inline.
 */
import { MAX_FLOAT32_CHARS, writeVectorText } from './float-format.js';

/** A request: `vectors` holds whole entries of `dimension` floats; `spare` is a text buffer to reuse. */
export interface FormatRequest {
  seq: number;
  dimension: number;
  vectors: Float32Array;
  spare?: Uint8Array;
}

/** A reply: entry e's text is `text[ends[e]..ends[e+1])`; `bad` names the first non-finite number. */
export interface FormatReply {
  seq: number;
  text: Uint8Array;
  ends: Uint32Array;
  vectors: Float32Array;
  bad?: { entry: number; element: number };
}

/** Formats one request (also used inline when no worker is available). */
export function formatChunk(req: FormatRequest): FormatReply {
  const { dimension: dim, vectors } = req;
  const entries = Math.floor(vectors.length / dim);
  const need = entries * (dim * (MAX_FLOAT32_CHARS + 1) + 2);
  const text = req.spare && req.spare.length >= need ? req.spare : new Uint8Array(need);
  const bits = new Uint32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  const ends = new Uint32Array(entries + 1);
  let pos = 0;
  for (let e = 0; e < entries; e++) {
    const next = writeVectorText(vectors, bits, e * dim, (e + 1) * dim, text, pos);
    if (next < 0) return { seq: req.seq, text, ends, vectors, bad: { entry: e, element: -1 - next } };
    pos = next;
    ends[e + 1] = pos;
  }
  return { seq: req.seq, text, ends, vectors };
}
