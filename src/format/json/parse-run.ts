/**
 * The work unit of {@link ParsePool}'s helper thread: parses a run of "vectors" elements from a slice
 * of the document that (speculatively) starts at an element boundary and returns the decoded entries.
 * The main thread only uses the result after confirming the boundary with its own parse.
 */
import type { Id, Metadata } from '../../engine/types.js';
import { ColumnsBuilder } from '../columns-builder.js';
import { parseEntry } from './entry-parser.js';
import { JsonSyntaxError, NEED_MORE, expected, skipWs } from './tokenizer.js';

/** A slice to parse: `bytes[0..end)` with a 0 sentinel at `end`; `bytes[0]` should be "{". */
export interface ParseRequest {
  seq: number;
  bytes: Uint8Array;
  end: number;
  dimension: number;
  section: string;
}

/** The entries of a run, where it stopped, and the syntax error that stopped it (if any). */
export interface ParseReply {
  seq: number;
  count: number;
  vectors: Float32Array;
  ids: Id[];
  metadata: (Metadata | undefined)[];
  /** Offset of each entry's "{" in the slice. */
  starts: Uint32Array;
  /** Offset just after the last complete entry. */
  end: number;
  /** The request's bytes, handed back so the next request can reuse the memory. */
  bytes: Uint8Array;
  /** 'more': the slice ended inside the next entry; 'close': "]" follows; 'error': see `error`. */
  stop: 'more' | 'close' | 'error';
  error?: { pos: number; problem: string; path: string };
}

/** Parses entries from the start of the slice until it runs out, the array closes, or an error. */
export function parseRun(req: ParseRequest): ParseReply {
  const { bytes: buf, end, dimension, section } = req;
  const b = new ColumnsBuilder();
  // Shortest float32 text is usually 9-12 bytes with its comma; guess 8 (the builder grows if the
  // floats are shorter) instead of reserving for the 2-byte minimum, six times what is used.
  b.capacityHint(Math.floor(end / (8 * dimension + 20)) + 1);
  b.setDimension(dimension);
  const starts: number[] = [];
  let last = 0;
  let stop: ParseReply['stop'];
  let error: ParseReply['error'];
  let pos = 0;
  try {
    for (;;) {
      starts.push(pos);
      pos = parseEntry(buf, pos, end, b, section);
      last = pos;
      pos = skipWs(buf, pos);
      const c = buf[pos];
      if (c === 93 /* ] */) {
        stop = 'close';
        break;
      }
      if (c !== 44 /* , */) expected(buf, pos, end, '"," or "]" between entries');
      pos = skipWs(buf, pos + 1);
    }
  } catch (err) {
    if (err === NEED_MORE) stop = 'more';
    else if (err instanceof JsonSyntaxError) {
      stop = 'error';
      error = { pos: err.pos, problem: err.problem, path: err.path };
    } else throw err;
  }
  const count = b.count;
  return {
    seq: req.seq,
    count,
    vectors: b.vectors.subarray(0, count * dimension),
    ids: b.ids,
    metadata: b.metadata,
    starts: Uint32Array.from(starts.slice(0, count)),
    end: last,
    bytes: buf,
    stop,
    error,
  };
}
