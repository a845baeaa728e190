/**
 * One helper thread for loading big JSON state files: while the main thread parses the first part of
 * a window of "vectors" elements (and hashes and reads), the helper parses the rest from a split
 * point found by the line layout the writer uses (`\n{` starts an entry). The split is a guess that
 * the main thread confirms by reaching exactly that point between two elements; a wrong guess only
 * costs the helper's work.
 */
import { availableParallelism } from 'node:os';
import { RequestThread } from '../../util/request-thread.js';
import type { ColumnsBuilder } from '../columns-builder.js';
import { Keeper, type Keepable } from './keeper.js';
import type { ParseReply, ParseRequest } from './parse-run.js';

/** Documents smaller than this are parsed on the main thread only. */
export const PARALLEL_MIN_BYTES = 32 << 20;

/** Helper threads for a load of `bytes`: `requested` if given, else 1 for big files on multi-core machines. */
export function parseWorkerCount(bytes: number, requested?: number): number {
  if (requested !== undefined) return Math.max(0, Math.min(1, Math.floor(requested)));
  return bytes >= PARALLEL_MIN_BYTES && availableParallelism() >= 2 ? 1 : 0;
}

const kept = new Keeper(() => new ParsePool());

/** The shared parse helper (kept warm between loads); give it back with {@link releaseParsePool}. */
export function acquireParsePool(): ParsePool {
  return kept.acquire();
}

/** Gives back the pool from {@link acquireParsePool}. */
export function releaseParsePool(pool: ParsePool): Promise<void> {
  return kept.release(pool);
}

/** A single parse helper thread (absent when threads cannot start). */
export class ParsePool extends RequestThread<ParseRequest, ParseReply> implements Keepable {
  constructor() {
    super(new URL('./parse-worker.js', import.meta.url), 'JSON parse worker');
  }

  /** Parses `bytes[0..end)` (a copy owned by the pool) on the helper thread. */
  parse(bytes: Uint8Array, end: number, dimension: number, section: string): Promise<ParseReply> {
    return this.request({ bytes, end, dimension, section }, [bytes.buffer as ArrayBuffer]);
  }
}

/** Share of a window's unparsed bytes left to the main thread (it also hashes and reads). */
const MAIN_SHARE = 0.45;
/** Windows with fewer unparsed bytes than this are not split. */
export const DEFAULT_SPLIT_MIN_BYTES = 256 << 10;

/** A proposed split: the helper parses from `at`; the main thread sets `reached` when it gets there. */
export interface Split {
  at: number;
  reached: boolean;
  reply: Promise<ParseReply>;
}

/** Builds the error for damaged bytes at window offset `rel` (the parser adds file and base offset). */
export type CorruptAt = (rel: number, section: string, problem: string) => Error;

/** Proposes split points in a window and merges the helper's runs into the columns. */
export class SplitHelper {
  /** A slice buffer the helper handed back, reused by the next split (no fresh memory per window). */
  private spare: Uint8Array | undefined;

  constructor(private readonly pool: ParsePool, private readonly minBytes = DEFAULT_SPLIT_MIN_BYTES) {}

  /** Starts the helper on `buf[at..end)` for a guessed element start `at` past the main share, if worthwhile. */
  propose(buf: Uint8Array, from: number, end: number, dimension: number, section: string): Split | undefined {
    if (!this.pool.healthy || dimension === 0 || end - from < this.minBytes) return undefined;
    let i = from + Math.floor((end - from) * MAIN_SHARE);
    for (;;) {
      i = buf.indexOf(10 /* \n */, i);
      if (i < 0 || i + 1 >= end) return undefined;
      if (buf[i + 1] === 123 /* { */) break;
      i++;
    }
    const at = i + 1;
    const need = end - at + 1;
    const bytes = this.spare !== undefined && this.spare.length >= need ? this.spare.subarray(0, need) : new Uint8Array(need);
    this.spare = undefined;
    bytes.set(buf.subarray(at, end));
    bytes[need - 1] = 0; // the sentinel after the slice
    return { at, reached: false, reply: this.pool.parse(bytes, end - at, dimension, section) };
  }

  /**
   * Appends a confirmed run's entries to `b` (ids checked against the entries before it) and
   * returns the error that stopped the run, if any, with its path and offset made global. After an
   * error the builder is partly updated; the caller throws it and discards the builder.
   */
  merge(b: ColumnsBuilder, reply: ParseReply, at: number, corrupt: CorruptAt): Error | undefined {
    this.spare = new Uint8Array(reply.bytes.buffer);
    const first = b.count;
    if (reply.count > 0) b.reserve(reply.count).set(reply.vectors, first * b.dimension);
    for (let i = 0; i < reply.count; i++) {
      const id = reply.ids[i];
      if (!b.commit(id, reply.metadata[i])) return corrupt(at + reply.starts[i], `vectors[${first + i}]`, `duplicate id ${JSON.stringify(id)} (${typeof id})`);
    }
    if (reply.stop !== 'error' || !reply.error) return undefined;
    const { pos, problem, path } = reply.error;
    const global = path.replace(/^(\w+)\[(\d+)\]/, (_, name: string, k: string) => `${name}[${first + Number(k)}]`);
    return corrupt(at + pos, global, problem);
  }
}
