/**
 * Lays out a .qvdb file on an open handle: header, sections (each hashed and optionally compressed as
 * it streams), directory, footer. Holds at most one write buffer plus one compressor's output.
 */
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { QuiverError } from '../../errors.js';
import { BufferedWriter } from '../../env/buffered-writer.js';
import type { FileHandle } from '../../env/fs.js';
import type { ProgressReporter } from '../../util/progress.js';
import { Codec, SectionType, VECTORS_ALIGNMENT, type CodecCode, type FileKindCode, type SectionTypeCode } from './constants.js';
import { CompressStream } from './codec.js';
import { encodeDirectory, encodeFooter, encodeHeader, sectionName, type DirectoryEntry } from './layout.js';

const WRITE_BUFFER = 1 << 20;
/**
 * Start a background fsync after this many bytes (as RocksDB's bytes_per_sync): the kernel writes
 * the bulk of the file back while later chunks are still hashed, so the final fsync is short.
 */
const BYTES_PER_SYNC = 32 << 20;

/** Writes raw (decoded) section bytes; resolves once they are handed to the file or compressor. */
export type RawWrite = (chunk: Uint8Array) => Promise<void>;

/** Controls shared by every section of one save. */
export interface AssemblerControl {
  signal?: AbortSignal;
  progress: ProgressReporter;
}

/** Builds one file; call `header`, then `section` per section, then `finish`. */
export class QvdbAssembler {
  private readonly out: BufferedWriter;
  private readonly entries: DirectoryEntry[] = [];
  private unsynced = 0;
  private background: Promise<void> | undefined;
  private backgroundError: unknown;

  constructor(private readonly handle: FileHandle, private readonly ctl: AssemblerControl) {
    this.out = new BufferedWriter(handle, 0, WRITE_BUFFER);
  }

  /** Writes the header of a file of `kind`. */
  header(kind: FileKindCode): Promise<void> {
    return this.out.write(encodeHeader(kind));
  }

  /**
   * Writes one section: `body` produces its raw bytes through the given writer. VECTORS stored with
   * codec NONE are first aligned to VECTORS_ALIGNMENT with zero padding.
   */
  async section(type: SectionTypeCode, codec: CodecCode, level: number, body: (write: RawWrite) => Promise<void>): Promise<void> {
    if (type === SectionType.VECTORS && codec === Codec.NONE) {
      const pad = (VECTORS_ALIGNMENT - (this.out.position % VECTORS_ALIGNMENT)) % VECTORS_ALIGNMENT;
      if (pad > 0) await this.out.write(new Uint8Array(pad));
    }
    const offset = this.out.position;
    const hash = createHash('sha256');
    let stored = 0;
    let raw = 0;
    const storedWrite = async (b: Uint8Array): Promise<void> => {
      stored += b.length;
      if (b.length < WRITE_BUFFER) {
        hash.update(b);
        await this.out.write(b);
        return;
      }
      // Large chunks: start the write (it runs on a libuv thread), let it get dispatched, hash the
      // same bytes meanwhile, then wait. Hashing and writing overlap instead of adding up.
      await this.out.flush();
      const pending = this.out.write(b);
      pending.catch(() => undefined); // observed below; keeps a failure during nextTurn from being "unhandled"
      await nextTurn();
      hash.update(b);
      await pending;
      this.maybeSyncInBackground(b.length);
    };
    const compress = codec === Codec.NONE ? undefined : new CompressStream(codec, level, storedWrite);
    const rawWrite: RawWrite = async (chunk) => {
      this.checkAbort();
      raw += chunk.length;
      if (compress) await compress.write(chunk);
      else await storedWrite(chunk);
      this.ctl.progress.advance(chunk.length, `writing ${sectionName(type)}`);
    };
    try {
      await body(rawWrite);
      if (compress) await compress.end();
    } catch (err) {
      compress?.destroy();
      throw err;
    }
    this.entries.push({ type, codec, level, offset, storedLength: stored, rawLength: raw, sha256: hash.digest() });
  }

  /** Writes directory and footer, flushes, and returns the file size and the file checksum. */
  async finish(): Promise<{ bytes: number; checksum: string }> {
    this.checkAbort();
    await this.background;
    if (this.backgroundError !== undefined) throw this.backgroundError;
    const directoryOffset = this.out.position;
    const dir = encodeDirectory(this.entries);
    const sha = createHash('sha256').update(dir).digest();
    await this.out.write(dir);
    await this.out.write(encodeFooter(directoryOffset, dir.length, sha));
    await this.out.flush();
    return { bytes: this.out.position, checksum: sha.toString('hex') };
  }

  private maybeSyncInBackground(bytes: number): void {
    this.unsynced += bytes;
    if (this.unsynced < BYTES_PER_SYNC || this.background) return;
    this.unsynced = 0;
    this.background = this.handle.sync().then(
      () => {
        this.background = undefined;
      },
      (err: unknown) => {
        this.backgroundError ??= err;
        this.background = undefined;
      },
    );
  }

  private checkAbort(): void {
    if (this.ctl.signal?.aborted) throw new QuiverError('ABORTED', 'the save was aborted; nothing was published and the previous file is intact');
  }
}
