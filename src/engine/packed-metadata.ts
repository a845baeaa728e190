/**
 * Metadata kept in the MessagePack encoding it was logged in, decoded the first time it is read. Log
 * replay adopts metadata this way: decoding ~100,000 small objects and keeping them alive through the
 * young generation was a fifth of a replay, and many entries are never read before the next checkpoint.
 */
import { unpackMetadataAt } from '../util/msgpack.js';
import type { Metadata } from './types.js';

const FIRST_ARENA = 64 * 1024;

/** Encoded metadata of some slots: the bytes in one growing arena, each slot's place in it. */
export class PackedMetadata {
  private arena: Buffer = Buffer.allocUnsafeSlow(FIRST_ARENA);
  private used = 0;
  private start: Float64Array;
  private length: Uint32Array;
  /** Slots whose metadata is still encoded here. */
  live = 0;

  constructor(capacity: number) {
    this.start = new Float64Array(capacity);
    this.length = new Uint32Array(capacity);
  }

  /** Bytes held (the arena, including the bytes of metadata already decoded or replaced). */
  get byteLength(): number {
    return this.arena.byteLength + this.start.byteLength + this.length.byteLength;
  }

  /** Makes room for slots below `capacity`. */
  grow(capacity: number): void {
    if (capacity <= this.start.length) return;
    const start = new Float64Array(capacity);
    start.set(this.start);
    const length = new Uint32Array(capacity);
    length.set(this.length);
    this.start = start;
    this.length = length;
  }

  /** Copies buf[from, to) as the encoded metadata of `slot` (whose previous encoding, if any, was taken or dropped). */
  put(slot: number, buf: Buffer, from: number, to: number): void {
    const n = to - from;
    if (this.used + n > this.arena.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.used + n, 2 * this.arena.length));
      this.arena.copy(bigger, 0, 0, this.used);
      this.arena = bigger;
    }
    const arena = this.arena;
    // Most metadata is a few dozen bytes: a loop is cheaper than the view Buffer#copy makes.
    if (n <= 256) for (let i = 0, o = this.used; i < n; i++) arena[o + i] = buf[from + i];
    else buf.copy(arena, this.used, from, to);
    this.start[slot] = this.used;
    this.length[slot] = n;
    this.used += n;
    this.live++;
  }

  /** Decodes the metadata of `slot` (no longer counted as live here). */
  take(slot: number): Metadata {
    const at = this.start[slot];
    this.live--;
    return unpackMetadataAt(this.arena, at, at + this.length[slot]);
  }
}
