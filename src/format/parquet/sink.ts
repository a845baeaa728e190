/**
 * The byte sink of the Parquet writer: hyparquet-writer's ByteWriter (so its thrift serializers can
 * write page headers and the footer into it) whose buffer is written to a FileHandle in large pieces.
 * Two buffers alternate so the next pages are encoded while the previous piece is being written.
 */
import { ByteWriter } from 'hyparquet-writer';
import { ioError } from '../../errors.js';
import type { FileHandle } from '../../env/fs.js';

/** Buffered bytes that trigger a write to the file. */
const FLUSH_AT = 8 << 20;

/** A ByteWriter that streams to a file. `offset` is always the file position of the next byte. */
export class HandleSink extends ByteWriter {
  private spare: ArrayBuffer;
  private inflight: Promise<void> | undefined;
  /** File position of buffer[0]. */
  private filePos = 0;

  constructor(private readonly handle: FileHandle, private readonly file: string) {
    super(FLUSH_AT + (1 << 20));
    this.spare = new ArrayBuffer(this.buffer.byteLength);
  }

  /** Starts writing the buffer when it holds enough bytes to be worth a write. */
  async maybeFlush(): Promise<void> {
    if (this.index >= FLUSH_AT) await this.flush();
  }

  /** Starts writing everything buffered (waiting for the previous write first). */
  async flush(): Promise<void> {
    if (this.index === 0) return;
    await this.settle();
    const data = new Uint8Array(this.buffer, 0, this.index);
    const at = this.filePos;
    this.filePos += this.index;
    const write = this.handle.write(data, at).catch((err: unknown) => {
      throw ioError(err, 'write', this.file);
    });
    // Marked handled now; the rejection is re-thrown when the write is awaited.
    write.catch(() => undefined);
    this.inflight = write;
    const next = this.spare;
    this.spare = this.buffer;
    this.buffer = next;
    this.view = new DataView(next);
    this.index = 0;
  }

  /** Writes `bytes` straight to the file after what is buffered (no copy into the buffer). */
  async writeDirect(bytes: Uint8Array): Promise<void> {
    await this.flush();
    await this.settle();
    try {
      await this.handle.write(bytes, this.filePos);
    } catch (err) {
      throw ioError(err, 'write', this.file);
    }
    this.filePos += bytes.length;
    this.offset += bytes.length;
  }

  /** Writes what is buffered and waits until every write has completed. */
  override async finish(): Promise<void> {
    await this.flush();
    await this.settle();
  }

  /** Waits for the write in flight, if any. */
  private async settle(): Promise<void> {
    const w = this.inflight;
    this.inflight = undefined;
    if (w) await w;
  }
}
