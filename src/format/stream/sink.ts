/**
 * Where a document's bytes go on their way into the temp file: straight through a BufferedWriter,
 * through gzip, or through one brotli stream. Pages handed to a sink may be reused once `write`
 * resolves; zlib runs on the libuv thread pool, so compression overlaps with formatting.
 *
 * gzip output is a sequence of gzip members, one per page or adopted chunk of text, compressed in
 * parallel (deflate only looks back 32 KB, so splitting costs almost nothing in size). Every gzip reader
 * (zcat, Node's gunzip, Python) reads concatenated members as one stream. Brotli has no such
 * framing, so it stays one stream.
 */
import { promisify } from 'node:util';
import { constants as zc, createBrotliCompress, gzip } from 'node:zlib';
import type { Transform } from 'node:stream';
import { BufferedWriter } from '../../env/buffered-writer.js';
import type { FileHandle } from '../../env/fs.js';
import type { JsonCompression } from './sources.js';

/** A destination for document pages. */
export interface TextSink {
  /** Takes `page`; resolves when the page may be overwritten. Calls never overlap. */
  write(page: Uint8Array): Promise<void>;
  /** Writes out everything buffered; resolves to the number of bytes in the file. */
  finish(): Promise<number>;
  /** Releases resources after a failure (the temp file is discarded by the caller). */
  abort(): void;
}

/** Default zlib levels: gzip 6 (zlib's default), brotli 4 (11 is far too slow for vectors). */
export const DEFAULT_LEVEL: Record<'gzip' | 'brotli', number> = { gzip: 6, brotli: 4 };
/** Highest level each compression accepts. */
export const MAX_LEVEL: Record<'gzip' | 'brotli', number> = { gzip: 9, brotli: 11 };

class PlainSink implements TextSink {
  private readonly out: BufferedWriter;

  constructor(handle: FileHandle) {
    // Small buffer: full pages pass straight through, only small tails get coalesced.
    this.out = new BufferedWriter(handle, 0, 1 << 16);
  }

  write(page: Uint8Array): Promise<void> {
    return this.out.write(page);
  }

  async finish(): Promise<number> {
    await this.out.flush();
    return this.out.position;
  }

  abort(): void {}
}

const gzipAsync = promisify(gzip);
/** gzip members being compressed at once (the libuv pool has 4 threads). */
const GZIP_IN_FLIGHT = 3;

class GzipMembersSink implements TextSink {
  private readonly out: BufferedWriter;
  private readonly members: Promise<Buffer>[] = [];

  constructor(handle: FileHandle, private readonly level: number) {
    this.out = new BufferedWriter(handle, 0, 1 << 20);
  }

  async write(page: Uint8Array): Promise<void> {
    // A copy, so the page is free at once while its member is compressed in the background.
    const member = gzipAsync(Buffer.from(page), { level: this.level });
    member.catch(() => undefined); // a failure surfaces when the member is written
    this.members.push(member);
    while (this.members.length > GZIP_IN_FLIGHT) await this.writeOldest();
  }

  private async writeOldest(): Promise<void> {
    await this.out.write(await this.members.shift()!);
  }

  async finish(): Promise<number> {
    while (this.members.length > 0) await this.writeOldest();
    await this.out.flush();
    return this.out.position;
  }

  abort(): void {
    this.members.length = 0;
  }
}

class BrotliSink implements TextSink {
  private readonly z: Transform;
  private readonly out: BufferedWriter;
  private readonly drained: Promise<void>;
  private failure: Promise<never>;
  private fail!: (err: unknown) => void;

  constructor(handle: FileHandle, level: number) {
    this.z = createBrotliCompress({ chunkSize: 1 << 18, params: { [zc.BROTLI_PARAM_QUALITY]: level, [zc.BROTLI_PARAM_MODE]: zc.BROTLI_MODE_TEXT } });
    this.out = new BufferedWriter(handle, 0, 1 << 20);
    this.failure = new Promise<never>((_, reject) => {
      this.fail = reject;
    });
    this.failure.catch(() => undefined);
    this.drained = this.drain();
    this.drained.catch((err: unknown) => {
      this.fail(err);
      this.z.destroy();
    });
  }

  private async drain(): Promise<void> {
    for await (const chunk of this.z as AsyncIterable<Buffer>) await this.out.write(chunk);
  }

  write(page: Uint8Array): Promise<void> {
    const accepted = new Promise<void>((resolve, reject) => {
      this.z.write(page, (err) => (err ? reject(err) : resolve()));
    });
    return Promise.race([accepted, this.failure]);
  }

  async finish(): Promise<number> {
    this.z.end();
    await Promise.race([this.drained, this.failure]);
    await this.out.flush();
    return this.out.position;
  }

  abort(): void {
    this.z.destroy();
  }
}

/** Opens the sink for `compression` over a fresh temp file handle. */
export function openSink(handle: FileHandle, compression: JsonCompression, level: number): TextSink {
  if (compression === 'none') return new PlainSink(handle);
  return compression === 'gzip' ? new GzipMembersSink(handle, level) : new BrotliSink(handle, level);
}
