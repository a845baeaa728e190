/**
 * Record streams (IDS, METADATA, DELETED): a sequence of frames, each a little-endian u32 byte length
 * followed by one MessagePack array of 1..FRAME_MAX_ITEMS items. Frames keep both sides from ever
 * building one value for the whole column.
 */
import { FRAME_LENGTH_SIZE, FRAME_MAX_ITEMS, FRAME_TARGET_BYTES } from './constants.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pack, unpackOne } from './msgpack.js';
import { MAX_METADATA_KEYS, plainMapExtent, u16, u32 } from '../../util/msgpack.js';
import { QuiverError } from '../../errors.js';

/**
 * The frames of a column, one at a time, packing whole batches of items as one array (several times
 * faster than item by item). The batch size adapts to the bytes per item seen so far, aiming at
 * `targetBytes` per frame (tests set it), capped at FRAME_MAX_ITEMS items. Each frame is its length
 * prefix and its body, in two arrays.
 */
export function* encodeFrames<T>(items: readonly T[], toItem: (item: T, i: number) => unknown, targetBytes = FRAME_TARGET_BYTES): Generator<[Uint8Array, Uint8Array]> {
  let batch = 64;
  for (let start = 0; start < items.length; ) {
    const end = Math.min(items.length, start + batch);
    const slice = new Array<unknown>(end - start);
    for (let i = start; i < end; i++) slice[i - start] = toItem(items[i], i);
    let body: Uint8Array;
    try {
      body = pack(slice);
    } catch (err) {
      // Metadata adopted from a file of an earlier version, say, that `insert` would refuse today.
      throw new QuiverError('INVALID_METADATA', `items ${start}..${end - 1} cannot be stored as MessagePack (${err instanceof Error ? err.message : String(err)}); metadata objects may have at most ${MAX_METADATA_KEYS} members at any level. Nothing was saved.`, { from: start, to: end - 1 }, { cause: err });
    }
    const head = new Uint8Array(FRAME_LENGTH_SIZE);
    new DataView(head.buffer).setUint32(0, body.length, true);
    yield [head, body];
    const perItem = Math.max(1, body.length / slice.length);
    // Grow at most 8x per frame so one unexpectedly large item cannot make a huge batch.
    batch = Math.max(1, Math.min(FRAME_MAX_ITEMS, batch * 8, Math.floor(targetBytes / perItem)));
    start = end;
  }
}

/** Encodes a column as frames (see {@link encodeFrames}) through `write`. */
export async function writeFrames<T>(items: readonly T[], toItem: (item: T, i: number) => unknown, write: (bytes: Uint8Array) => Promise<void>): Promise<void> {
  for (const [head, body] of encodeFrames(items, toItem)) {
    await write(head);
    await write(body);
  }
}

/**
 * A column's frames encoded ahead of their turn, while the file is busy with an earlier section:
 * `encodeAhead` packs frames (yielding to the event loop between them) until `budget` bytes are held
 * or `stop()` is called; `write` then writes those and encodes the rest as it goes. Nothing is
 * encoded twice, and an item that cannot be encoded fails `write` (not `encodeAhead`), in its turn.
 * Each frame is encoded in one go on the thread that also keeps the file's writes going, which is
 * why frames are small (FRAME_TARGET_BYTES).
 */
export class FramesAhead<T> {
  private readonly frames: Iterator<[Uint8Array, Uint8Array]>;
  private readonly ready: Uint8Array[] = [];
  private held = 0;
  private stopped = false;
  private failure: { err: unknown } | undefined;
  private done = false;

  constructor(items: readonly T[], toItem: (item: T, i: number) => unknown, private readonly budget: number) {
    this.frames = encodeFrames(items, toItem);
  }

  /** Encodes frames until the budget is reached, everything is encoded, or `stop()`; never rejects. */
  async encodeAhead(): Promise<void> {
    while (!this.stopped && !this.done && this.failure === undefined && this.held < this.budget) {
      this.next(this.ready);
      await nextTurn();
    }
  }

  /** Ends `encodeAhead` at its next frame. */
  stop(): void {
    this.stopped = true;
  }

  /** Writes every frame: those encoded ahead, then the rest. Call after `encodeAhead` settled. */
  async write(write: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    this.stop();
    for (const b of this.ready.splice(0)) await write(b);
    const one: Uint8Array[] = [];
    while (this.next(one)) for (const b of one.splice(0)) await write(b);
    if (this.failure) throw this.failure.err;
  }

  /** Encodes one frame into `into`; false at the end. An encoding error is kept for `write`. */
  private next(into: Uint8Array[]): boolean {
    if (this.done || this.failure) return false;
    try {
      const r = this.frames.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      into.push(r.value[0], r.value[1]);
      this.held += r.value[0].length + r.value[1].length;
      return true;
    } catch (err) {
      this.failure = { err };
      return false;
    }
  }
}

/** Encodes `items` as one frame (for tests and tools that craft sections). */
export function encodeFrame(items: readonly unknown[]): Uint8Array {
  const body = pack(items);
  const out = new Uint8Array(FRAME_LENGTH_SIZE + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, FRAME_LENGTH_SIZE);
  return out;
}

/** Receives the items of each frame; `index` is the position of items[0] in the whole stream. */
export type ItemsSink = (items: unknown[], index: number) => void;
/** Reports a malformed stream at a byte offset of the decoded (raw) section; must throw. */
export type StreamFail = (problem: string, rawOffset: number, cause?: unknown) => never;

/**
 * Takes a whole frame's body without decoding it (its bytes are valid only during the call), or
 * returns undefined to have it decoded and handed to the ItemsSink instead; else the number of items
 * it held, which it must have checked against FRAME_MAX_ITEMS.
 */
export type RawFrameSink = (frame: Uint8Array, index: number) => number | undefined;

/**
 * The items of a frame body that is one MessagePack array of 1..FRAME_MAX_ITEMS items, each nil or a map
 * that decodes in place to plain JSON (see plainMapExtent in util/msgpack.ts): writes each item's end offset to `ends` and returns `{ start, count }` (item 0 starts at
 * `start`, item i > 0 where item i-1 ends); undefined for anything else (the caller decodes those frames).
 */
export function plainMapItemExtents(frame: Uint8Array, ends: number[]): { start: number; count: number } | undefined {
  const c = frame[0];
  let count: number;
  let pos: number;
  if (c >= 0x90 && c <= 0x9f) {
    count = c & 15;
    pos = 1;
  } else if (c === 0xdc && frame.length >= 3) {
    count = u16(frame, 1);
    pos = 3;
  } else if (c === 0xdd && frame.length >= 5) {
    count = u32(frame, 1);
    pos = 5;
  } else return undefined;
  if (count === 0 || count > FRAME_MAX_ITEMS) return undefined;
  const start = pos;
  for (let i = 0; i < count; i++) {
    pos = frame[pos] === 0xc0 ? pos + 1 : plainMapExtent(frame, pos, frame.length);
    if (pos < 0) return undefined;
    ends[i] = pos;
  }
  return pos === frame.length ? { start, count } : undefined;
}

/**
 * Incremental frame parser: push decoded section bytes in any chunking, then `end()`. Memory held is
 * at most one frame of bytes actually received; no length read from the data sizes an allocation.
 * A `raw` sink may take frames undecoded.
 */
export class FrameDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private frameLength = -1;
  private offset = 0;
  private items = 0;

  constructor(private readonly rawLength: number, private readonly sink: ItemsSink, private readonly fail: StreamFail, private readonly raw?: RawFrameSink) {}

  /** Items decoded so far. */
  get itemCount(): number {
    return this.items;
  }

  /** Consumes a chunk; the decoder keeps no reference to it afterwards (the caller may reuse it). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (true) {
      if (this.frameLength < 0) {
        if (this.pendingBytes < FRAME_LENGTH_SIZE) break;
        const head = this.take(FRAME_LENGTH_SIZE);
        const len = new DataView(head.buffer, head.byteOffset, FRAME_LENGTH_SIZE).getUint32(0, true);
        this.offset += FRAME_LENGTH_SIZE;
        if (len === 0) this.fail('a frame has length 0', this.offset - FRAME_LENGTH_SIZE);
        if (len > this.rawLength - this.offset) this.fail(`a frame of ${len} bytes runs past the end of the section (${this.rawLength - this.offset} bytes left)`, this.offset - FRAME_LENGTH_SIZE);
        this.frameLength = len;
      }
      if (this.pendingBytes < this.frameLength) break;
      const frame = this.take(this.frameLength);
      this.decodeFrame(frame);
      this.offset += this.frameLength;
      this.frameLength = -1;
    }
    // Detach leftovers from the caller's buffer so it can be reused (a copy: Buffer#slice would be a view).
    this.pending = this.pending.map((p) => (p.buffer === chunk.buffer ? new Uint8Array(p) : p));
  }

  /** Checks that the stream ended on a frame boundary. */
  end(): void {
    if (this.pendingBytes > 0 || this.frameLength >= 0) this.fail('the section ends inside a frame', this.offset);
  }

  private decodeFrame(frame: Uint8Array): void {
    const taken = this.raw?.(frame, this.items);
    if (taken !== undefined) {
      this.items += taken;
      return;
    }
    let v: unknown;
    try {
      v = unpackOne(frame);
    } catch (err) {
      this.fail(`a frame is not valid MessagePack (${(err as Error).message})`, this.offset, err);
    }
    if (!Array.isArray(v) || v.length === 0 || v.length > FRAME_MAX_ITEMS) {
      this.fail(`a frame is not a MessagePack array of 1..${FRAME_MAX_ITEMS} items`, this.offset);
    }
    const items = v as unknown[];
    this.sink(items, this.items);
    this.items += items.length;
  }

  private take(n: number): Uint8Array {
    const first = this.pending[0];
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const p = this.pending[0];
        const k = Math.min(p.length, n - at);
        out.set(p.subarray(0, k), at);
        at += k;
        if (k === p.length) this.pending.shift();
        else this.pending[0] = p.subarray(k);
      }
    }
    this.pendingBytes -= n;
    return out;
  }
}
