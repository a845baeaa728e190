/**
 * The streaming parser of a JSON state document. Over a ByteWindow, a resumable state machine walks
 * the top-level object, committing after every unit (a top-level member, one "vectors" element, one
 * "deleted" id). When a unit runs past the window, the window keeps the uncommitted tail, reads more
 * and the unit is parsed again.
 *
 * Checksum: SHA-256 over the document bytes from the first byte up to, not including, the comma
 * before the final "checksum" member. Committed bytes are hashed just before they leave the window;
 * a top-level commit point always sits before a member's comma, so the hash never runs ahead of the
 * point where the "checksum" name is recognised.
 */
import { CorruptionError } from '../../errors.js';
import type { Id } from '../../engine/types.js';
import { ByteWindow, type ByteWindowOptions } from './byte-window.js';
import { ColumnsBuilder } from '../columns-builder.js';
import { MAX_DIMENSION, parseEntry, parseListId, parsedId } from './entry-parser.js';
import { foreignJsonError, JSON_FORMAT_NAME, MEMBER } from './header.js';
import { SplitHelper, acquireParsePool, parseWorkerCount, releaseParsePool, type Split } from './parse-pool.js';
import type { ByteSource } from '../stream/sources.js';
import { JsonSyntaxError, NEED_MORE, expected, lastStringWasPlain, parseJsonSlice, scanString, scanValue, skipWs, stringValue } from './tokenizer.js';

const S_START = 0;
const S_FIRST_MEMBER = 1;
const S_AFTER_MEMBER = 2;
const S_VEC_FIRST = 3;
const S_VEC_NEXT = 4;
const S_DEL_FIRST = 5;
const S_DEL_NEXT = 6;
const S_TRAILER = 7;
/** After a "," in "vectors": an element must follow (no "]"). */
const S_VEC_ELEMENT = 8;

/** Options of {@link StateParser}. */
export interface StateParserOptions extends ByteWindowOptions {
  /** Largest plausible document size in bytes: bounds the capacity taken from the header's count (default: no hint). */
  sizeBound?: number;
  /** Helper threads for big documents (0 or 1; default: 1 when the document is big). */
  workers?: number;
  /** Smallest window remainder worth splitting (tests lower it). */
  splitMinBytes?: number;
}

/** What the parser produced: raw members, the entries, deleted ids and checksum facts. */
export interface ParsedState {
  members: Map<string, unknown>;
  builder: ColumnsBuilder;
  deleted: Id[];
  hasVectors: boolean;
  hasDeleted: boolean;
  /** The "checksum" member's value as found (validated by the caller); undefined when absent. */
  storedChecksum: unknown;
  /** Document offset of the checksum value (for error messages). */
  checksumOffset: number;
  /** Runs of entries parsed by the helper thread and merged (0 when single-threaded). */
  helperRuns: number;
  computedChecksum: string | undefined;
}

/** Parses one document from `source`. Throws CorruptionError for anything that is not a valid document. */
export class StateParser extends ByteWindow {
  private readonly members = new Map<string, unknown>();
  private readonly builder = new ColumnsBuilder();
  private readonly deleted: Id[] = [];
  private readonly deletedSet = new Set<Id>();
  private hasVectors = false;
  private hasDeleted = false;
  private checksumSeen = false;
  private storedChecksum: unknown;
  private checksumOffset = 0;
  private helper: SplitHelper | undefined;
  private split: Split | undefined;
  private helperRuns = 0;

  constructor(source: ByteSource, private readonly opts: StateParserOptions) {
    super(source, opts);
  }

  /** Reads and parses the whole document. */
  async run(): Promise<ParsedState> {
    const pool = parseWorkerCount(this.opts.sizeBound ?? 0, this.opts.workers) > 0 ? acquireParsePool() : undefined;
    if (pool) this.helper = new SplitHelper(pool, this.opts.splitMinBytes);
    try {
      for (;;) {
        this.checkAbort();
        await this.refill();
        await this.parseWindow();
        if (this.eof) break;
      }
    } finally {
      this.helper = undefined;
      if (pool) await releaseParsePool(pool);
    }
    if (this.state !== S_TRAILER) throw this.syntax(this.end, this.pathHere(), 'the document ends early (the file is truncated)');
    this.hashUpTo(this.end);
    this.finishProgress('loaded');
    return {
      members: this.members,
      builder: this.builder,
      deleted: this.deleted,
      hasVectors: this.hasVectors,
      hasDeleted: this.hasDeleted,
      storedChecksum: this.storedChecksum,
      checksumOffset: this.checksumOffset,
      helperRuns: this.helperRuns,
      computedChecksum: this.checksumSeen ? this.digest() : undefined,
    };
  }

  /** Parses as far as the window allows, leaving `pos = mark` at the first incomplete unit. */
  private parseAvailable(): void {
    this.parseResumable(() => this.step(), (err) => this.toCorruption(err));
  }

  private toCorruption(err: unknown): unknown {
    if (err instanceof JsonSyntaxError) return this.syntax(err.pos, err.path || this.pathHere(), err.problem);
    return err;
  }

  private syntax(rel: number, section: string, problem: string): CorruptionError {
    return new CorruptionError({ file: this.opts.file, section, offset: this.base + rel }, problem);
  }

  private pathHere(): string {
    switch (this.state) {
      case S_VEC_FIRST:
      case S_VEC_NEXT:
      case S_VEC_ELEMENT:
        return `${MEMBER.vectors}[${this.builder.count}]`;
      case S_DEL_FIRST:
      case S_DEL_NEXT:
        return `${MEMBER.deleted}[${this.deleted.length}]`;
      default:
        return '$';
    }
  }

  private step(): void {
    const buf = this.buf;
    const end = this.end;
    for (;;) {
      let pos = skipWs(buf, this.pos);
      const c = buf[pos];
      switch (this.state) {
        case S_START:
          if (this.base + pos === 0 && c === 0xef) {
            if (pos + 3 > end) throw NEED_MORE;
            if (buf[1] !== 0xbb || buf[2] !== 0xbf) expected(buf, 0, end, 'a JSON object');
            pos = skipWs(buf, 3);
          }
          if (buf[pos] !== 123 /* { */) expected(buf, pos, end, 'a JSON object');
          this.commit(pos + 1, S_FIRST_MEMBER);
          break;
        case S_FIRST_MEMBER:
          if (c === 125 /* } */) this.commit(pos + 1, S_TRAILER);
          else this.member(pos, pos);
          break;
        case S_AFTER_MEMBER:
          if (c === 125 /* } */) this.commit(pos + 1, S_TRAILER);
          else if (c === 44 /* , */) {
            if (this.checksumSeen) throw new JsonSyntaxError(pos, 'the "checksum" member must be the last member');
            this.member(skipWs(buf, pos + 1), pos);
          } else expected(buf, pos, end, '"," or "}" after a member');
          break;
        case S_VEC_FIRST:
        case S_VEC_NEXT:
        case S_VEC_ELEMENT:
          this.vectorElements(pos);
          if (this.split?.reached) return;
          break;
        case S_DEL_FIRST:
        case S_DEL_NEXT:
          this.deletedElements(pos);
          break;
        case S_TRAILER:
          if (pos < end) {
            // Another document after a first one that had members and was not ours: JSON Lines (an export,
            // or another tool's), not a damaged state file. Anything else after the end is damage (such as
            // a flipped byte that closed the first object early: `{}format": ...`).
            const another = c === 123 /* { */ || c === 91; /* [ */
            if (another && this.members.size > 0 && this.members.get(MEMBER.format) !== JSON_FORMAT_NAME) throw foreignJsonError(this.opts.file, this.members, true);
            throw new JsonSyntaxError(pos, 'unexpected data after the end of the document');
          }
          this.commit(end, S_TRAILER);
          return;
      }
      if (this.pos >= end) throw NEED_MORE;
    }
  }

  /** Parses `"name": value` at `pos`; `commaPos` is where the separating comma (or the name) starts. */
  private member(pos: number, commaPos: number): void {
    const buf = this.buf;
    const end = this.end;
    if (buf[pos] !== 34 /* " */) expected(buf, pos, end, 'a member name');
    const keyEnd = scanString(buf, pos, end);
    const name = stringValue(buf, pos, keyEnd, lastStringWasPlain);
    let p = skipWs(buf, keyEnd);
    if (buf[p] !== 58 /* : */) expected(buf, p, end, '":"');
    p = skipWs(buf, p + 1);
    const seen = this.members.has(name) || (name === MEMBER.vectors && this.hasVectors) || (name === MEMBER.deleted && this.hasDeleted) || (name === MEMBER.checksum && this.checksumSeen);
    if (seen) throw new JsonSyntaxError(pos, `member ${JSON.stringify(name)} appears twice`);
    if (name === MEMBER.vectors || name === MEMBER.deleted) {
      if (buf[p] !== 91 /* [ */) {
        if (p >= end) throw NEED_MORE;
        throw new JsonSyntaxError(p, `"${name}" must be an array`).withPath(name);
      }
      if (name === MEMBER.vectors) {
        this.hasVectors = true;
        this.applyStats();
      } else this.hasDeleted = true;
      this.commit(p + 1, name === MEMBER.vectors ? S_VEC_FIRST : S_DEL_FIRST);
      return;
    }
    const valueEnd = scanValue(buf, p, end);
    const value = parseJsonSlice(buf, p, valueEnd, name);
    if (name === MEMBER.checksum) {
      this.checksumOffset = this.base + p;
      this.hashLimit = this.base + commaPos;
      this.checksumSeen = true;
      this.storedChecksum = value;
    } else {
      this.members.set(name, value);
    }
    this.commit(valueEnd, S_AFTER_MEMBER);
  }

  /**
   * When "stats" came before "vectors", fixes the dimension from it (so the first wrong vector is the
   * one reported) and sizes the store from its count, bounded by what the document can hold.
   */
  private applyStats(): void {
    const stats = this.members.get(MEMBER.stats) as { count?: unknown; dimension?: unknown } | undefined;
    const dim = stats?.dimension;
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 1 || dim > MAX_DIMENSION) return;
    const count = stats?.count;
    if (typeof count === 'number') {
      this.progress.countItems(count);
      // An entry takes at least 2 bytes per number plus `{"id":0,"vector":[]}`.
      const fits = Math.floor((this.opts.sizeBound ?? 0) / (2 * dim + 20));
      this.builder.capacityHint(Math.min(count, fits));
    }
    this.builder.setDimension(dim);
  }

  /** Parses "vectors" elements until the window runs out, the array closes, or the split point. */
  private vectorElements(pos: number): void {
    const buf = this.buf;
    const end = this.end;
    const b = this.builder;
    for (;;) {
      const c = buf[pos];
      if (this.state === S_VEC_NEXT) {
        if (c === 93 /* ] */) {
          this.commit(pos + 1, S_AFTER_MEMBER);
          return;
        }
        if (c !== 44 /* , */) expected(buf, pos, end, '"," or "]" between entries');
        pos = skipWs(buf, pos + 1);
        const split = this.split;
        if (split && pos >= split.at) {
          // The helper's run starts here only if the guess was a real element boundary.
          if (pos === split.at) {
            split.reached = true;
            return;
          }
          this.split = undefined;
        }
      } else if (this.state === S_VEC_FIRST && c === 93 /* ] */) {
        this.commit(pos + 1, S_AFTER_MEMBER);
        return;
      }
      pos = parseEntry(buf, pos, end, b, MEMBER.vectors);
      this.commit(pos, S_VEC_NEXT);
      pos = skipWs(buf, pos);
    }
  }

  /** Parses the window, handing its second part to the helper thread when it is big enough. */
  private async parseWindow(): Promise<void> {
    const vec = this.state === S_VEC_FIRST || this.state === S_VEC_NEXT || this.state === S_VEC_ELEMENT;
    const split = vec && this.helper ? this.helper.propose(this.buf, this.pos, this.end, this.builder.dimension, MEMBER.vectors) : undefined;
    if (!split) {
      this.parseAvailable();
      return;
    }
    this.split = split;
    try {
      this.parseAvailable();
    } finally {
      this.split = undefined;
    }
    if (!split.reached) return; // a wrong guess: the main thread parsed on by itself
    this.hashUpTo(this.mark); // hash the main thread's part while the helper finishes
    let reply;
    try {
      reply = await split.reply;
    } catch {
      this.parseAvailable(); // the helper failed: continue on this thread from the split point
      return;
    }
    const next = this.helper!.merge(this.builder, reply, split.at, (rel, section, problem) => this.syntax(rel, section, problem));
    this.commit(split.at + reply.end, reply.count > 0 ? S_VEC_NEXT : S_VEC_ELEMENT);
    this.helperRuns++;
    if (next) throw next;
    this.parseAvailable();
  }

  /** Parses "deleted" ids until the window runs out or the array closes. */
  private deletedElements(pos: number): void {
    const buf = this.buf;
    const end = this.end;
    for (;;) {
      const c = buf[pos];
      if (c === 93 /* ] */) {
        this.commit(pos + 1, S_AFTER_MEMBER);
        return;
      }
      if (this.state === S_DEL_NEXT) {
        if (c !== 44 /* , */) expected(buf, pos, end, '"," or "]" between ids');
        pos = skipWs(buf, pos + 1);
      }
      const index = this.deleted.length;
      const start = pos;
      pos = parseListId(buf, pos, end, MEMBER.deleted, index);
      const id = parsedId;
      if (this.deletedSet.has(id)) throw new JsonSyntaxError(start, `duplicate id ${JSON.stringify(id)} (${typeof id})`).withPath(`${MEMBER.deleted}[${index}]`);
      this.deletedSet.add(id);
      this.deleted.push(id);
      this.commit(pos, S_DEL_NEXT);
      pos = skipWs(buf, pos);
    }
  }
}
