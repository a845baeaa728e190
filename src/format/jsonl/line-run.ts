/**
 * The work unit of the JSONL helper thread: parses a run of complete entry lines (a copy of part of
 * the main thread's window) into columns. It stops before the first line it cannot take as an entry
 * (a header- or trailer-like line, a line too long, any error): the main thread parses from there
 * itself, so every message and rule stays the single-threaded reader's.
 */
import type { Id, Metadata } from '../../engine/types.js';
import { ColumnsBuilder } from '../columns-builder.js';
import { parseEntry } from '../json/entry-parser.js';
import { skipWs } from '../json/tokenizer.js';
import { KEY_END, KEY_FORMAT, firstKeyIs } from './header.js';

/** `bytes[0..end)` holds whole lines, each ending with "\n". */
export interface LineRunRequest {
  seq: number;
  bytes: Uint8Array;
  end: number;
  dimension: number;
  maxLine: number;
}

/** The entries of the lines taken, and where the run stopped. */
export interface LineRunReply {
  seq: number;
  count: number;
  vectors: Float32Array;
  ids: Id[];
  metadata: (Metadata | undefined)[];
  /** Per entry: its line's index in the run and its byte offset in the run. */
  lineOf: Uint32Array;
  startOf: Uint32Array;
  /** Lines taken (entries and blank lines) and the offset just after the last one. */
  lines: number;
  taken: number;
}

function isBlank(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

let slab: Float32Array = new Float32Array(0);

/** Parses lines from the start of the run until its end or the first line left to the main thread. */
export function parseLineRun(req: LineRunRequest): LineRunReply {
  const { bytes: buf, end, dimension } = req;
  const b = new ColumnsBuilder();
  b.setDimension(dimension);
  // Parse into a slab kept between runs (a fresh multi-MB array per run costs page faults and GC).
  const want = (Math.floor(end / (2 * dimension + 20)) + 1) * dimension;
  if (slab.length < want) slab = new Float32Array(want);
  b.vectors = slab;
  const lineOf: number[] = [];
  const startOf: number[] = [];
  const search = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  let pos = 0;
  let lines = 0;
  while (pos < end) {
    const nl = search.indexOf(10, pos);
    if (nl < 0 || nl >= end || nl - pos > req.maxLine) break;
    if (!isBlank(buf, pos, nl)) {
      if (firstKeyIs(buf, pos, nl, KEY_FORMAT) >= 0 || firstKeyIs(buf, pos, nl, KEY_END) >= 0) break;
      buf[nl] = 0; // the entry parser's end sentinel (the request bytes are a copy made for this run)
      try {
        const p = skipWs(buf, parseEntry(buf, skipWs(buf, pos), nl, b, 'entry'));
        if (p !== nl) break;
      } catch {
        break;
      }
      lineOf.push(lines);
      startOf.push(pos);
    }
    lines++;
    pos = nl + 1;
  }
  // An entry the loop broke out of after committing it (junk after the object) is not taken.
  const count = lineOf.length;
  if (b.vectors.length > slab.length) slab = b.vectors;
  return {
    seq: req.seq,
    count,
    vectors: b.vectors.slice(0, count * dimension),
    ids: b.ids.slice(0, count),
    metadata: b.metadata.slice(0, count),
    lineOf: Uint32Array.from(lineOf),
    startOf: Uint32Array.from(startOf),
    lines,
    taken: pos,
  };
}
