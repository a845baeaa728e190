/**
 * Lays out a .qvdb file on an open handle: header, sections (each hashed and optionally compressed as
 * it streams), directory, footer. Holds at most one write buffer plus one compressor's output.
 */
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BufferedWriter } from '../../env/buffered-writer.js';
import type { FileHandle } from '../../env/fs.js';
import type { ProgressReporter } from '../../util/progress.js';
import { startSha256, writeWhileHashing, type Sha256Job } from '../../util/hash-worker.js';
import { Codec, SectionType, VECTORS_ALIGNMENT, type CodecCode, type FileKindCode, type SectionTypeCode } from './constants.js';
import { CompressStream } from './codec.js';
import { encodeDirectory, encodeFooter, encodeHeader, sectionName, type DirectoryEntry } from './layout.js';
import { throwIfAborted } from '../../util/abort.js';

const WRITE_BUFFER = 1 << 20;

/**
 * Writes raw (decoded) section bytes; resolves once they are handed to the file or compressor. The
 * caller may change the bytes once it resolves, unless the writer called `keep` and it answered true:
 * the caller then leaves them unchanged until the section's `onHashed` (a chunk kept through a
 * ChunkHold), so their hash may still be running when the write resolves.
 */
export type RawWrite = (chunk: Uint8Array, keep?: () => boolean) => Promise<void>;

/** Controls shared by every section of one save. */
export interface AssemblerControl {
  signal?: AbortSignal;
  progress: ProgressReporter;
}

/** How one section is written. */
export interface SectionOptions {
  /**
   * Uncompressed sections whose first chunk is shared memory only: compute the SHA-256 on the helper
   * thread, so that the calling thread is free while the bytes are written (later chunks that are not
   * shared memory are copied into shared memory first). If the thread stops mid-section the write
   * fails with HashThreadLostError: the file must then be written again (see writeWithHashRetry).
   */
  offloadHash?: boolean;
  /** Called once the section's digest has settled (either way); `finish` resolves only after it ran. */
  onHashed?: () => void;
}

/** Writes a section's stored chunks and computes their SHA-256. */
interface SectionHasher {
  write(b: Uint8Array, keep: (() => boolean) | undefined): Promise<void>;
  digest(): Promise<Buffer>;
  abandon(): void;
}

/** Builds one file; call `header`, then `section` per section, then `finish`. */
export class QvdbAssembler {
  private readonly out: BufferedWriter;
  /** The sections so far, each with its digest to come: a hash on the helper thread may still run while later sections are written. */
  private readonly entries: { entry: Omit<DirectoryEntry, 'sha256'>; digest: Promise<Buffer>; hasher: SectionHasher }[] = [];

  constructor(handle: FileHandle, private readonly ctl: AssemblerControl) {
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
  async section(type: SectionTypeCode, codec: CodecCode, level: number, body: (write: RawWrite) => Promise<void>, opts: SectionOptions = {}): Promise<void> {
    if (type === SectionType.VECTORS && codec === Codec.NONE) {
      const pad = (VECTORS_ALIGNMENT - (this.out.position % VECTORS_ALIGNMENT)) % VECTORS_ALIGNMENT;
      if (pad > 0) await this.out.write(new Uint8Array(pad));
    }
    const offset = this.out.position;
    // Chosen at the first stored chunk (an empty section is hashed here).
    let hasher: SectionHasher | undefined;
    let stored = 0;
    let raw = 0;
    const storedWrite = async (b: Uint8Array, keep?: () => boolean): Promise<void> => {
      stored += b.length;
      hasher ??= (opts.offloadHash && codec === Codec.NONE && b.buffer instanceof SharedArrayBuffer ? this.offloadedHasher() : undefined) ?? this.localHasher();
      await hasher.write(b, keep);
    };
    const compress = codec === Codec.NONE ? undefined : new CompressStream(codec, level, storedWrite);
    const rawWrite: RawWrite = async (chunk, keep) => {
      this.checkAbort();
      raw += chunk.length;
      if (compress) await compress.write(chunk);
      else await storedWrite(chunk, keep);
      this.ctl.progress.advance(chunk.length, `writing ${sectionName(type)}`);
    };
    try {
      await body(rawWrite);
      if (compress) await compress.end();
    } catch (err) {
      compress?.destroy();
      hasher?.abandon();
      throw err;
    }
    const done = hasher ?? this.localHasher();
    // onHashed runs before the digest reaches finish; awaited there, a failure before then is not "unhandled".
    const digest = done.digest().finally(() => opts.onHashed?.());
    digest.catch(() => undefined);
    this.entries.push({ entry: { type, codec, level, offset, storedLength: stored, rawLength: raw }, digest, hasher: done });
  }

  /** Ends the hashes still running after a failure, so the helper thread skips their bytes. Idempotent. */
  abandon(): void {
    for (const e of this.entries) e.hasher.abandon();
  }

  /** A section hash computed here; large chunks are hashed while they are being written. */
  private localHasher(): SectionHasher {
    const hash = createHash('sha256');
    return {
      write: async (b) => {
        if (b.length < WRITE_BUFFER) {
          hash.update(b);
          await this.out.write(b);
          return;
        }
        // Start the write (it runs on a libuv thread), let it get dispatched, hash the same bytes
        // meanwhile, then wait. Hashing and writing overlap instead of adding up.
        const pending = this.out.write(b);
        pending.catch(() => undefined); // observed below; keeps a failure during nextTurn from being "unhandled"
        await nextTurn();
        hash.update(b);
        await pending;
      },
      digest: () => Promise.resolve(hash.digest()),
      abandon: () => undefined,
    };
  }

  /**
   * A section hash on the helper thread, or undefined when the thread is not available. Each chunk is
   * written while the thread hashes it. A chunk the caller keeps (its `keep` answered true) has only its
   * write awaited: the thread may hash it after the write resolved, and the writes run ahead of the hash,
   * so the disk gets the section early and its writeback overlaps the hashing. Any other chunk's write
   * and hash are both awaited before the next (the caller may reuse or change it once its write
   * resolved). Chunks not in shared memory are copied into a shared staging buffer for the thread.
   */
  private offloadedHasher(): SectionHasher | undefined {
    // A save never waits for the thread to start: until it is up, sections are hashed here.
    const job: Sha256Job = startSha256({ offload: true, onlyIfReady: true, retainViews: false });
    if (!job.offloaded) {
      job.abandon();
      return undefined;
    }
    let staging: Uint8Array | undefined;
    return {
      write: async (b, keep) => {
        if (keep !== undefined && b.buffer instanceof SharedArrayBuffer && keep()) {
          job.update(b);
          await this.out.write(b);
          return;
        }
        let view = b;
        if (!(b.buffer instanceof SharedArrayBuffer)) {
          if (!staging || staging.length < b.length) staging = new Uint8Array(new SharedArrayBuffer(Math.max(b.length, WRITE_BUFFER)));
          view = staging.subarray(0, b.length);
          view.set(b);
        }
        await writeWhileHashing(job, view, () => this.out.write(b));
      },
      digest: () => job.digest(),
      abandon: () => job.abandon(),
    };
  }

  /** Writes directory and footer, flushes, and returns the file size and the file checksum. */
  async finish(): Promise<{ bytes: number; checksum: string }> {
    this.checkAbort();
    const directoryOffset = this.out.position;
    const sums = await Promise.all(this.entries.map((e) => e.digest));
    const dir = encodeDirectory(this.entries.map((e, i) => ({ ...e.entry, sha256: sums[i] })));
    const sha = createHash('sha256').update(dir).digest();
    await this.out.write(dir);
    await this.out.write(encodeFooter(directoryOffset, dir.length, sha));
    await this.out.flush();
    return { bytes: this.out.position, checksum: sha.toString('hex') };
  }

  private checkAbort(): void {
    throwIfAborted(this.ctl.signal, 'the save was aborted; nothing was published and the previous file is intact');
  }
}
