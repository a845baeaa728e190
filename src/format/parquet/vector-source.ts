/**
 * Where each row group's vector column chunk is read to. An uncompressed chunk is read straight into the
 * output Float32Array at its row group's place: the kernel copies the file bytes into their final memory
 * and the page walk then only moves each page's floats down over the headers and levels in front of
 * them (the chunk runs past its region by those few bytes, into the next row group's region, which is
 * read after; the output gets that much slack at its end). Compressed chunks go through a window of
 * two alternating buffers.
 */
import type { FileMetaData } from 'hyparquet';
import { ChunkWindow, type ParquetFile } from './file-source.js';
import { chunkOf, type ChunkRef, type Layout } from './layout.js';

/** Most bytes a chunk may run past its region to be read in place. */
const MAX_OVERRUN = 16 << 20;

/** The vector chunk of one row group, being read. */
export interface OpenChunk {
  ref: ChunkRef;
  win: ChunkWindow;
  /** True when the chunk is being read into the output itself. */
  inPlace: boolean;
}

/** Plans and starts the reads of the vector column chunks of a file. */
export class VectorChunks {
  private readonly refs: ChunkRef[];
  private readonly inPlace: boolean[];
  private readonly firstRows: number[];
  private readonly spare: (Uint8Array | undefined)[] = [undefined, undefined];
  /** Output bytes needed so that every in-place chunk fits: at least rows x dimension x 4. */
  readonly outputBytes: number;

  constructor(private readonly pf: ParquetFile, metadata: FileMetaData, layout: Layout, dataEnd: number, rows: number[], private readonly dimension: number) {
    this.refs = metadata.row_groups.map((rg, g) => chunkOf(rg, g, layout.vector, layout, dataEnd, pf.file));
    const rowBytes = dimension * 4;
    let first = 0;
    this.firstRows = rows.map((n) => {
      const f = first;
      first += n;
      return f;
    });
    const valueBytes = first * rowBytes;
    let need = valueBytes;
    this.inPlace = this.refs.map((ref, g) => {
      const end = this.firstRows[g] * rowBytes + (ref.end - ref.start);
      const ok = layout.vector.float && ref.meta.codec === 'UNCOMPRESSED' && end - valueBytes <= MAX_OVERRUN;
      if (ok) need = Math.max(need, end);
      return ok;
    });
    this.outputBytes = need;
  }

  /** Starts reading group `g`'s chunk (into `out` when it can be read in place). */
  open(g: number, out: Float32Array): OpenChunk {
    const ref = this.refs[g];
    if (this.inPlace[g]) {
      const at = out.byteOffset + this.firstRows[g] * this.dimension * 4;
      const into = new Uint8Array(out.buffer, at, ref.end - ref.start);
      return { ref, win: ChunkWindow.whole(this.pf, ref.start, ref.end, into), inPlace: true };
    }
    return { ref, win: ChunkWindow.open(this.pf, ref.start, ref.end, this.spare[g % 2]), inPlace: false };
  }

  /** Group `g` is decoded: its window buffer may be reused. */
  done(g: number, chunk: OpenChunk): void {
    if (!chunk.inPlace) this.spare[g % 2] = chunk.win.memory();
  }
}
