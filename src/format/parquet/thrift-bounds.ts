/**
 * A walk over one Thrift compact-protocol struct that checks every declared length against the bytes
 * present, run before hyparquet parses Parquet's footer and page headers. Its reader sizes a list from
 * the declared count (`new Array(count)`) before it reads an element: a crafted 2 KB file declaring tens
 * of millions of elements made an import allocate ~230 MB before failing. Every element takes at least
 * one byte, so a count beyond the bytes left is damage.
 */

/** The struct's bytes end before the struct does, or a length claims more than is there. */
export class ThriftBoundsError extends Error {}

const STOP = 0;
const TRUE = 1;
const FALSE = 2;
const BYTE = 3;
const I16 = 4;
const I32 = 5;
const I64 = 6;
const DOUBLE = 7;
const BINARY = 8;
const LIST = 9;
const SET = 10;
const STRUCT = 12;
/** Deeper nesting than Parquet's metadata ever has. */
const MAX_DEPTH = 64;

class Walker {
  pos = 0;

  constructor(private readonly b: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.b.length) throw new ThriftBoundsError('the bytes end inside the struct');
    return this.b[this.pos++];
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const c = this.byte();
      result += (c & 0x7f) * mul;
      if ((c & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new ThriftBoundsError('a varint runs past 10 bytes');
  }

  skip(n: number): void {
    if (n > this.b.length - this.pos) throw new ThriftBoundsError(`a length of ${n} bytes runs past the ${this.b.length - this.pos} bytes left`);
    this.pos += n;
  }

  value(type: number, depth: number): void {
    switch (type) {
      case TRUE:
      case FALSE:
        return;
      case BYTE:
        this.skip(1);
        return;
      case I16:
      case I32:
      case I64:
        this.varint();
        return;
      case DOUBLE:
        this.skip(8);
        return;
      case BINARY:
        this.skip(this.varint());
        return;
      case LIST:
      case SET: {
        const h = this.byte();
        const elem = h & 0x0f;
        const size = h >> 4 === 15 ? this.varint() : h >> 4;
        if (size > this.b.length - this.pos) throw new ThriftBoundsError(`a list of ${size} elements is declared with ${this.b.length - this.pos} bytes left`);
        for (let i = 0; i < size; i++) this.value(elem === TRUE || elem === FALSE ? BYTE : elem, depth + 1);
        return;
      }
      case STRUCT:
        this.struct(depth + 1);
        return;
      default:
        throw new ThriftBoundsError(`field type ${type} is not one Parquet metadata uses`);
    }
  }

  struct(depth: number): void {
    if (depth > MAX_DEPTH) throw new ThriftBoundsError(`structs nest deeper than ${MAX_DEPTH}`);
    for (;;) {
      const h = this.byte();
      const type = h & 0x0f;
      if (type === STOP) return;
      // A field id given in full (delta 0) follows as a zigzag varint.
      if (h >> 4 === 0) this.varint();
      this.value(type, depth);
    }
  }
}

/**
 * Walks the struct at the start of `bytes` and returns its length; throws ThriftBoundsError when the
 * bytes end inside it or a declared length or count exceeds what is left.
 */
export function checkThriftStruct(bytes: Uint8Array): number {
  const w = new Walker(bytes);
  w.struct(0);
  return w.pos;
}
