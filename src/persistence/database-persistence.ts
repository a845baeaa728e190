/**
 * DatabasePersistence: the reference-000 save/load face over a VectorDB. Full saves write one file
 * atomically; incremental saves write deltas beside it; load applies base + deltas all-or-nothing.
 * Every operation goes through one serial queue, so saves never overlap.
 */
import { EventEmitter } from 'node:events';
import { dirname, join, resolve } from 'node:path';
import { CorruptionError, QuiverError, ioError } from '../errors.js';
import type { FileStat, FileSystem } from '../env/fs.js';
import { nodeFs } from '../env/node-fs.js';
import { removeIfStill } from '../env/links.js';
import { prepareSpare, SPARE_KEEP_MS } from '../env/spares.js';
import { settleRetired } from '../env/temp-files.js';
import { ensureDirDurable } from '../env/durable-dir.js';
import { markOf, statIfExists } from '../env/stat-if-exists.js';
import type { VectorDB } from '../engine/vector-db.js';
import type { ChangeImage, Columns, DeltaColumns } from '../engine/types.js';
import { ProgressReporter, type ProgressCallback } from '../util/progress.js';
import { throwIfAborted } from '../util/abort.js';
import { SerialQueue } from '../util/serial.js';
import { checkOptions, checkCallOptions, isSaveFormat, type Resolved } from './options.js';
import { extensionFor, readState, updateSqliteState, writeState, type WriteSpec } from './codec.js';
import { cleanLeftoverTemps, deltaPath, MAX_DELTA_INDEX, removeDeltas } from './delta-chain.js';
import { JOURNAL_MIN_CHECKPOINT_BYTES, SaveJournal, journalBytes, journalDir, journalHasRecords, readJournalHead, refusedIncremental, removeJournal } from './journal.js';
import { SnapshotManager } from '../snapshot/manager.js';
import { notify } from '../util/notify.js';
import { checkNotReplaced, importSaved, readChainExtension, readUnlessReplaced } from './saved-state.js';
import { codecFor, exportImage, formatForPath } from '../interchange/index.js';
import { nameDenial } from '../interchange/registry.js';
import type { ExchangeFormat } from '../format/exchange.js';
import type { DependentsPolicy, SnapshotInfo } from '../snapshot/types.js';
import type { SnapshotStore } from '../storage/store.js';
import type {
  CompressionType,
  ExportOptions,
  ImportOptions,
  IncrementalSaveOptions,
  LoadOptions,
  PersistenceFormat,
  PersistenceOptions,
  SaveEvent,
  SaveOptions,
  SnapshotMetadata,
  SnapshotRestoreOptions,
} from './types.js';

/** Saves at most this far apart (a full or delta file, then a delta) get the next delta's file prepared. */
const PREPARE_WITHIN_MS = SPARE_KEEP_MS / 2;

/** The chain incremental saves extend: the last full file and the deltas written after it. */
interface ChainState {
  basePath: string;
  baseChecksum: string;
  lastChecksum: string;
  nextIndex: number;
  format: PersistenceFormat;
  compression: CompressionType;
  /** Size of the base file (the journal is folded into a full save once it passes a quarter of this). */
  baseBytes: number;
  /** When (Date.now()) the last full or delta file of the chain was written by this instance. */
  savedAt?: number;
  /** The base file's size and mtime when this instance wrote or loaded it (see checkChainUnchanged; undefined: unknown). */
  baseMark: string | undefined;
  /** Leftover deltas of an older base found by the load (path → mark): a delta may be written over them. */
  staleMarks?: Map<string, string>;
  /** Bytes of another writer's save journal this instance loaded without journaling itself (see checkLoadedJournal). */
  loadedJournalBytes?: number;
}

/**
 * Instances whose auto-save runs, with their final save. Their timers never keep the process alive, so
 * when the event loop runs empty ('beforeExit': not on process.exit() or a signal) each is shut down,
 * which saves what changed since its last save, instead of the process ending with those changes lost.
 */
const exitSavers = new Map<DatabasePersistence, () => void>();
let exitHookInstalled = false;

function saveAllOnExit(): void {
  const due = [...exitSavers.values()];
  exitSavers.clear();
  for (const save of due) save();
}

/**
 * Saves and loads a VectorDB: `save`, `saveIncremental`, `load`, `export`, `import`, auto-save and
 * `shutdown`. Emits `save` (SaveEvent) after every successful save and `error` when an automatic save
 * fails (when nobody listens for `error`, the failure is written to stderr instead of crashing).
 */
export class DatabasePersistence extends EventEmitter {
  readonly options: Resolved;
  private readonly fs: FileSystem;
  private readonly queue = new SerialQueue();
  private chain: ChainState | undefined;
  private savedSeq = -1;
  private needFullSave = true;
  private timer: NodeJS.Timeout | undefined;
  /** Directories whose leftover temp files this instance removed (once each, at its first write there). */
  private readonly tempsCleaned = new Set<string>();
  private closed = false;
  private snapshotManager: SnapshotManager | undefined;
  private readonly snapshotStore: SnapshotStore | undefined;
  private journal: SaveJournal | undefined;
  /** Set once shutdown() closed the journal: this instance never journals (nor takes its lock) again. */
  private journalReleased = false;

  constructor(
    readonly db: VectorDB,
    options: PersistenceOptions = {},
  ) {
    super();
    if (!db || typeof db.openImage !== 'function') throw new TypeError('DatabasePersistence needs a VectorDB as its first argument');
    this.options = checkOptions(options);
    this.fs = options.fs ?? nodeFs;
    const store = options.snapshotStore;
    if (store !== undefined && (store === null || typeof store !== 'object' || typeof store.put !== 'function' || typeof store.list !== 'function')) {
      throw new TypeError('DatabasePersistence option snapshotStore must be a SnapshotStore (e.g. new S3SnapshotStore({ bucket }))');
    }
    this.snapshotStore = store;
    if (this.options.autoSaveInterval > 0) this.startAutoSave();
  }

  /** The path a full save goes to when no path is given (absolute, as `save()` returns it). */
  defaultPath(format: PersistenceFormat = this.options.format, compression: CompressionType = this.options.compression): string {
    return resolve(this.options.baseDir, `database${extensionFor(format, compression)}`);
  }

  /** True when the database changed since the last save or load through this instance. */
  get hasUnsavedChanges(): boolean {
    return this.db.seq !== this.savedSeq;
  }

  /** Saves the whole database atomically; returns the file path. */
  save(options: SaveOptions = {}): Promise<string> {
    checkCallOptions('save', options, false, ['compress']);
    return this.queue.run(() => this.untilFailure(this.doSave(options)));
  }

  /**
   * Writes only what changed since the last save and returns where: a delta file beside the last full
   * file, or the save journal directory when auto-saving incrementally; null when nothing changed.
   * Without a base yet (or after an import), it writes a full save and returns that file.
   */
  saveIncremental(options: IncrementalSaveOptions = {}): Promise<string | null> {
    checkCallOptions('saveIncremental', options, false);
    return this.queue.run(() => this.untilFailure(this.doSaveIncremental(options)));
  }

  /** Replaces the database's contents with a saved file plus its deltas; all-or-nothing. */
  load(options: LoadOptions = {}): Promise<void> {
    checkCallOptions('load', options, false, ['verifyChecksum', 'repair']);
    return this.queue.run(() => this.doLoad(options));
  }

  /**
   * Writes a full copy of the database to `path` in any writable interchange format (default: this
   * instance's format) without changing what incremental saves extend.
   */
  export(options: ExportOptions): Promise<void> {
    checkCallOptions('export', options, true, ['compress', 'includeIndex']);
    return this.queue.run(async () => {
      const { format, compression } = this.targetFor(options, true);
      const path = resolve(options.path);
      if (format === 'binary' || format === 'json' || format === 'sqlite') {
        await this.writeFull(path, format, compression, 'export', options.onProgress, options.signal);
        return;
      }
      // Formats without per-section compression take the file-level kind only when they support it.
      const codec = codecFor(format);
      const c = options.compress === undefined && !codec.compressions.includes(compression) ? 'none' : compression;
      await this.prepareDir(path);
      const image = this.db.openWriterImage();
      try {
        const reporter = this.writeReporter('export', options.onProgress, image.count);
        await exportImage(this.fs, path, image, {
          format,
          compression: c,
          level: this.options.compressionLevel,
          user: { persistence: { format, compression: c, savedBy: 'quiverdb' } },
          signal: options.signal,
          onProgress: reporter?.child(0, 1),
        });
        reporter?.finish(`exported ${image.count} vectors`);
      } finally {
        image.release();
      }
    });
  }

  /**
   * Reads a file in any supported format (detected from its bytes, or `format`) into the database:
   * merge by default (file entries win), replace with `clear: true`. All-or-nothing.
   */
  import(options: ImportOptions): Promise<void> {
    checkCallOptions('import', options, true, ['clear', 'verifyChecksum']);
    return this.queue.run(async () => {
      const path = resolve(options.path);
      // Out of 100 until a reader declares the file's entry count (JSONL and reference files never do).
      const reporter = new ProgressReporter('import', 100, options.onProgress);
      // A save file's deltas and journal are part of the state it holds: folded in.
      const read = await importSaved(this.fs, path, {
        format: options.format,
        verifyChecksum: options.verifyChecksum,
        maxDecompressedBytes: options.maxDecompressedBytes,
        signal: options.signal,
        onProgress: reporter.child(0, 100),
      });
      throwIfAborted(options.signal, `the import of ${path} was aborted; the database is unchanged`);
      const cols = read.columns;
      // A file that does not record its metric takes the database's.
      if (!read.metricKnown) cols.metric = this.db.metric;
      this.checkShape(path, cols);
      if (options.clear) this.db.replaceAll(cols);
      else this.db.applyDelta({ ...cols, cleared: false, deletedIds: [] });
      this.needFullSave = true;
      reporter.finish(`imported ${cols.ids.length} vectors`);
    });
  }

  /**
   * The SnapshotManager behind the snapshot methods: the `snapshotStore` option, else `<baseDir>/snapshots`;
   * gzip unless compression is 'none'. Use it directly for verify, retention, scheduling and chains.
   */
  get snapshots(): SnapshotManager {
    const store = this.snapshotStore;
    this.snapshotManager ??= new SnapshotManager({
      ...(store ? { store } : { snapshotDir: join(this.options.baseDir, 'snapshots'), fs: this.fs }),
      compression: this.options.compression === 'none' ? 'none' : 'gzip',
      compressionLevel: this.options.compression === 'gzip' ? this.options.compressionLevel : undefined,
    });
    return this.snapshotManager;
  }

  /**
   * Takes a named snapshot of the current state (incremental on the newest snapshot when the
   * `incremental` option is set), then keeps the newest `maxSnapshots` and the pinned ones, folding an
   * incremental whose base is removed into a full snapshot.
   */
  createSnapshot(name: string, metadata?: Record<string, unknown>): Promise<SnapshotMetadata> {
    return this.queue.run(async () => {
      const manager = this.snapshots;
      let info: SnapshotInfo;
      const newest = this.options.incremental ? (await manager.listSnapshots())[0] : undefined;
      if (newest && newest.dimension === this.db.dimension && newest.metric === this.db.metric) info = await manager.createIncrementalSnapshot(this.db, name, newest.id, { metadata });
      else info = await manager.createSnapshot(this.db, name, metadata);
      // Keep the newest maxSnapshots and every pinned one: the oldest others go first, and an incremental
      // that needed a removed base is folded into a full snapshot so it still restores. The snapshot just
      // taken is never among them (snapshots of another process whose clock was ahead may list as newer),
      // and a failure here cannot undo it: it is committed, so the call resolves and warns.
      try {
        const all = (await manager.listSnapshots()).filter((s) => s.id !== info.id);
        for (const old of all.slice(Math.max(0, this.options.maxSnapshots - 1)).reverse()) if (!old.pinned) await manager.deleteSnapshot(old.id, { dependents: 'fold' });
      } catch (err) {
        process.emitWarning(`snapshot ${info.id} was taken, but removing older snapshots beyond maxSnapshots failed (the next snapshot tries again): ${err instanceof Error ? err.message : String(err)}`, 'QuiverCleanupWarning');
      }
      return toSnapshotMetadata((await manager.getSnapshot(info.id).catch(() => undefined)) ?? info);
    });
  }

  /** Snapshots, newest first. */
  listSnapshots(): Promise<SnapshotMetadata[]> {
    return this.queue.run(async () => (await this.snapshots.listSnapshots()).map(toSnapshotMetadata));
  }

  /** Replaces the database with a snapshot (its whole chain verified first); all-or-nothing. */
  restoreSnapshot(id: string, options: SnapshotRestoreOptions = {}): Promise<void> {
    return this.queue.run(async () => {
      await this.snapshots.restoreSnapshotInto(id, this.db, options);
      this.needFullSave = true;
    });
  }

  /**
   * Deletes a snapshot, as the reference does. Incremental snapshots taken on top of it (with
   * `incremental: true`) are first rewritten as full ones, so every other snapshot still restores;
   * `{ dependents: 'refuse' }` fails with BUSY instead, `'cascade'` deletes them too.
   */
  deleteSnapshot(id: string, options: { dependents?: DependentsPolicy } = {}): Promise<void> {
    return this.queue.run(async () => {
      await this.snapshots.deleteSnapshot(id, { dependents: options.dependents ?? 'fold' });
    });
  }

  /** Starts periodic saves (incremental when `incremental` is set). Timers never keep the process alive; when the event loop runs empty, a final save is made (see shutdown). */
  startAutoSave(): void {
    if (this.closed) throw new QuiverError('CLOSED', 'This DatabasePersistence was shut down; create a new one.');
    if (this.timer || this.options.autoSaveInterval <= 0) return;
    this.timer = setInterval(() => this.autoSaveTick(), this.options.autoSaveInterval);
    this.timer.unref();
    exitSavers.set(this, () => {
      this.shutdown().catch((err: unknown) => this.reportAutoSaveError(err));
    });
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('beforeExit', saveAllOnExit);
    }
  }

  /** Stops periodic saves (and the save at a natural process exit); a save already running finishes. */
  stopAutoSave(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    exitSavers.delete(this);
  }

  /**
   * Stops auto-save, waits for running work, saves once more if anything changed, and waits until the
   * files its saves replaced are removed (a signal handler may `process.exit()` right after).
   */
  async shutdown(): Promise<void> {
    this.stopAutoSave();
    this.closed = true;
    await this.queue.idle();
    // A failed final save is reported once the journal is closed: left open, its lock would stay held
    // (and its segment open) for the life of the process, a retry of the save being all a second
    // shutdown() does.
    let saved: { failure: unknown } | undefined;
    if (this.hasUnsavedChanges && (this.db.len() > 0 || this.savedSeq >= 0)) {
      await this.queue.run(() => this.untilFailure(this.options.incremental ? this.doSaveIncremental({}) : this.doSave({})).then(() => undefined)).catch((failure: unknown) => {
        saved = { failure };
      });
    }
    await this.queue.run(async () => {
      const j = this.journal;
      this.journal = undefined;
      this.journalReleased = true;
      await j?.close();
      // Saves after shutdown() (a second shutdown, say) find the journal closed: it is this instance's,
      // not another writer's, as long as it still has the size it was left with; the next save is a
      // full one (checkLoadedJournal checks that size first).
      if (j && this.chain) {
        this.chain.loadedJournalBytes = await journalBytes(this.fs, this.chain.basePath);
        this.needFullSave = true;
      }
    });
    await settleRetired();
    if (saved) throw saved.failure;
  }

  private autoSaveTick(): void {
    if (this.queue.busy || !this.hasUnsavedChanges) return;
    const run = this.options.incremental ? this.saveIncremental() : this.save();
    run.catch((err: unknown) => this.reportAutoSaveError(err));
  }

  /** An automatic save's failure: an `error` event, or a line on stderr when nobody listens. */
  private reportAutoSaveError(err: unknown): void {
    if (!notify(this, 'error', err, 'DatabasePersistence')) process.stderr.write(`quiverdb: automatic save failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }

  /**
   * The format and compression of a save or export: `format` when given; else what the path's name
   * says (`backup.json.gz`: JSON, gzip; `db.sqlite`; `out.parquet` for exports), as the CLI reads
   * names, so that a file is never written in a format its name denies; else the instance's. A name
   * that tells the compression (`.json`, `.json.gz`, `.jsonl.br`, ...) sets it unless `compress` is
   * given; `.qvdb` (compressed per section) does not.
   */
  private targetFor(options: { path?: string; format?: ExchangeFormat; compress?: boolean; chainCompression?: CompressionType }, anyFormat: boolean): { format: ExchangeFormat; compression: CompressionType } {
    // A fallback full save over a chain's file keeps exactly the compression that file has.
    if (options.format !== undefined && options.chainCompression !== undefined) return { format: options.format, compression: options.chainCompression };
    const named = options.format === undefined && typeof options.path === 'string' ? formatForPath(options.path) : undefined;
    const denial = options.format === undefined && named === undefined && typeof options.path === 'string' ? nameDenial(options.path, 'give the format explicitly (the format option)') : undefined;
    if (denial !== undefined) throw new QuiverError('UNSUPPORTED_FORMAT', `${denial}.`, { path: options.path });
    const usable = named !== undefined && (anyFormat || isSaveFormat(named.format));
    const format = options.format ?? (usable ? named.format : this.options.format);
    if (usable && options.compress === undefined) {
      const codec = codecFor(named.format);
      const tells = codec.compressions.some((c) => c !== 'none' && codec.extension(c) !== codec.extension('none'));
      if (tells) return { format, compression: named.compression };
    }
    return { format, compression: this.compressionFor(options.compress, format) };
  }

  /**
   * The compression of a save or export in `format`: the instance's unless `compress` says otherwise.
   * SQLite files are never compressed: the instance's compression (which binary and JSON files and
   * snapshots take) does not apply to them, and asking for it with `compress: true` is refused.
   */
  private compressionFor(compress: boolean | undefined, format: string): CompressionType {
    const c = compress === undefined ? this.options.compression : !compress ? 'none' : this.options.compression === 'none' ? 'gzip' : this.options.compression;
    if (format !== 'sqlite' || c === 'none') return c;
    if (compress) throw new QuiverError('UNSUPPORTED_FORMAT', `SQLite files cannot be compressed (asked for ${c} with compress: true); save or export them with compress: false, or compress the file yourself.`, { format, compression: c });
    return 'none';
  }

  private async prepareDir(path: string): Promise<void> {
    const dir = dirname(path);
    await ensureDirDurable(this.fs, dir);
    if (!this.tempsCleaned.has(dir)) {
      this.tempsCleaned.add(dir);
      // Delta temp files stay: after a power loss one may hold an acknowledged delta (removeDeltas).
      await cleanLeftoverTemps(this.fs, dir);
    }
  }

  private spec(format: PersistenceFormat, compression: CompressionType, user: Record<string, unknown>, onProgress: ProgressCallback | undefined, signal?: AbortSignal): WriteSpec {
    return { format, compression, level: this.options.compressionLevel, user, signal, onProgress };
  }

  /**
   * Runs the write of an incremental save (a delta file, a journal record, a SQLite update), giving it
   * the progress callback of a reporter that counts the changed and deleted entries, and finishes it.
   */
  private async writeChanges<T>(changes: ChangeImage, onProgress: ProgressCallback | undefined, verb: string, write: (onProgress: ProgressCallback | undefined) => Promise<T>): Promise<T> {
    const reporter = this.writeReporter('save', onProgress, changes.count + changes.deletedIds.length);
    const result = await write(reporter?.child(0, 1));
    reporter?.finish(`${verb} ${changes.count} changed and ${changes.deletedIds.length} deleted vectors`);
    return result;
  }

  /** The reporter of a save or export of `items` entries (undefined without a callback). */
  private writeReporter(op: string, onProgress: SaveOptions['onProgress'], items: number): ProgressReporter | undefined {
    if (!onProgress) return undefined;
    const reporter = new ProgressReporter(op, 1, onProgress);
    reporter.countItems(items);
    return reporter;
  }

  private async writeFull(path: string, format: PersistenceFormat, compression: CompressionType, op: string, onProgress: SaveOptions['onProgress'], signal?: AbortSignal) {
    await this.prepareDir(path);
    const image = this.db.openWriterImage();
    try {
      const user = { persistence: { format, compression, savedBy: 'quiverdb' } };
      const reporter = this.writeReporter(op, onProgress, image.count);
      let sealed: FileStat | undefined;
      const onSealed = (st: FileStat): void => {
        sealed = st;
      };
      const written = await writeState(this.fs, path, image, { ...this.spec(format, compression, user, reporter?.child(0, 1), signal), onSealed });
      reporter?.finish(`${op === 'export' ? 'exported' : 'saved'} ${written.count} vectors`);
      return { written, seq: image.seq, mark: sealed && markOf(sealed), sealedMtime: sealed?.mtimeMs };
    } finally {
      image.release();
    }
  }

  /**
   * A save that failed may have published some of its files (a rename done, then its directory fsync
   * failed), which this instance's chain does not know: extending the chain would then find "another
   * writer's" file and refuse. So after any failure but BUSY (another writer's files, which only load()
   * or save() may take over) the next save is a full one.
   */
  private async untilFailure<T>(save: Promise<T>): Promise<T> {
    try {
      return await save;
    } catch (err) {
      if (!(err instanceof QuiverError && err.code === 'BUSY')) this.needFullSave = true;
      throw err;
    }
  }

  private async doSave(options: SaveOptions & { chainCompression?: CompressionType }): Promise<string> {
    const started = performance.now();
    // Only binary, JSON and SQLite names are taken for a save (see targetFor), so this is a save format.
    const { format, compression } = this.targetFor(options, false) as { format: PersistenceFormat; compression: CompressionType };
    const path = resolve(options.path ?? this.defaultPath(format, compression));
    const { written, seq, mark, sealedMtime } = await this.writeFull(path, format, compression, 'save', options.onProgress, options.signal);
    // The new base is durable, so the save has succeeded; what follows is cleanup that cannot undo it.
    this.markSaved(seq);
    this.needFullSave = false;
    try {
      // Deltas and the journal of the previous base at this path are now obsolete, unless another
      // writer's save has replaced this one's file meanwhile: they may then be that writer's, on its file.
      const stillOurs = async (): Promise<boolean> => mark === undefined || (await this.fs.stat(path).then(markOf, () => undefined)) === mark;
      if (await stillOurs()) {
        await removeDeltas(this.fs, path, stillOurs, sealedMtime === undefined ? undefined : { checksum: written.checksum, mtimeMs: sealedMtime });
        await this.dropJournal(path);
      }
    } catch (err) {
      // What is left names the previous base, so loads ignore it; but the next delta must not be written
      // where an old one still is: the next save is a full one again, and tries the cleanup again.
      this.needFullSave = true;
      process.emitWarning(`${path} was saved, but removing the previous file's deltas or journal failed (the next save is a full one and tries again): ${err instanceof Error ? err.message : String(err)}`, 'QuiverCleanupWarning');
    }
    // The mark of the file this save published, taken before its rename (a stat of the name now may see
    // another writer's file that replaced it since). SQLite files, which say nothing, are stat'ed: their
    // in-place updates check the file's own checksum. A failing stat must not fail the published save; the
    // chain then only checks delta names.
    const baseMark = mark ?? (await this.fs.stat(path).then(markOf, () => undefined));
    this.chain = { basePath: path, baseChecksum: written.checksum, lastChecksum: written.checksum, nextIndex: 1, format, compression, baseBytes: written.bytes, savedAt: Date.now(), baseMark };
    this.emitSave({ path, kind: 'full', bytes: written.bytes, count: written.count, checksum: written.checksum, durationMs: performance.now() - started });
    return path;
  }

  /**
   * The full save an incremental save falls back to: over the chain's file, in its format and
   * compression (so that file is the one brought up to date), or to the default path without a chain.
   */
  private fullSave(options: IncrementalSaveOptions): Promise<string> {
    const c = this.chain;
    const where = c ? { path: c.basePath, format: c.format, chainCompression: c.compression } : {};
    return this.doSave({ ...where, onProgress: options.onProgress, signal: options.signal });
  }

  private async doSaveIncremental(options: IncrementalSaveOptions): Promise<string | null> {
    const chain = this.chain;
    if (!chain || this.needFullSave) {
      if (chain?.loadedJournalBytes !== undefined) await this.checkLoadedJournal(chain);
      return this.fullSave(options);
    }
    if (this.db.seq === this.savedSeq) return null;
    // Past the last six-digit delta number the chain starts over with a full save.
    if (chain.nextIndex > MAX_DELTA_INDEX && !this.journaled && chain.format !== 'sqlite') return this.fullSave(options);
    let changes;
    try {
      changes = this.db.openChanges(this.savedSeq);
    } catch (err) {
      if (err instanceof QuiverError && err.code === 'INVALID_ARGUMENT') return this.fullSave(options);
      throw err;
    }
    const started = performance.now();
    try {
      if (changes.count === 0 && changes.deletedIds.length === 0 && !changes.cleared) {
        this.markSaved(changes.seq);
        return null;
      }
      if (chain.format === 'sqlite') return await this.updateSqlite(chain, changes, started, options);
      if (this.journaled) return await this.appendJournal(chain, changes, started, options);
      const path = deltaPath(chain.basePath, chain.nextIndex);
      // The check's file-system round trips (~0.7 ms, a tenth of a small delta) run while the delta is
      // written; the publish waits for it before the file is made durable, and publishes nothing if it fails.
      const ready = this.checkChainUnchanged(chain, false).then(() => this.removeStale(chain, path));
      ready.catch(() => undefined);
      const user = { chain: { base: chain.baseChecksum, prev: chain.lastChecksum, index: chain.nextIndex } };
      const written = await this.writeChanges(changes, options.onProgress, 'saved', (cb) => writeState(this.fs, path, changes, { ...this.spec(chain.format, chain.compression, user, cb, options.signal), baseChecksum: chain.baseChecksum, noReplace: true, ready })).catch(async (err: unknown) => {
        // A write that failed before the publish waited for the check: the check ends before the next save
        // starts, and its BUSY is the answer (nothing was published either way). Any other failure makes the
        // next save a full one (untilFailure), which would remove the other writer's deltas.
        const busy = await ready.then(() => undefined, (e: unknown) => (e instanceof QuiverError && e.code === 'BUSY' ? e : undefined));
        throw busy ?? err;
      });
      chain.lastChecksum = written.checksum;
      chain.nextIndex++;
      // The next delta will be about this size: its file is written ahead, between saves, when saves come
      // often enough for it to be used (a spare is dropped after SPARE_KEEP_MS; written for nothing, it
      // would double the bytes an occasional incremental save writes).
      const now = Date.now();
      // Recoverable: readDeltaChain also finds a delta under the spare's name (see prepareSpare).
      if (chain.savedAt !== undefined && now - chain.savedAt < PREPARE_WITHIN_MS && chain.nextIndex <= MAX_DELTA_INDEX) prepareSpare(this.fs, deltaPath(chain.basePath, chain.nextIndex), written.bytes, true);
      chain.savedAt = now;
      this.markSaved(changes.seq);
      this.emitSave({ path, kind: 'delta', bytes: written.bytes, count: written.count, checksum: written.checksum, durationMs: performance.now() - started });
      return path;
    } finally {
      changes.release();
    }
  }

  /**
   * Removes a leftover of an older base at `path` (the next delta's name; set aside by the load, and
   * unchanged since, as checkChainUnchanged found): a delta is published only where no file is, so that
   * of two writers racing for one number one fails instead of replacing the other's.
   */
  private async removeStale(chain: ChainState, path: string): Promise<void> {
    const mark = chain.staleMarks?.get(path);
    if (mark === undefined) return;
    try {
      await removeIfStill(this.fs, path, mark);
    } catch (err) {
      throw ioError(err, 'remove the leftover delta', path);
    }
    chain.staleMarks?.delete(path);
  }

  /**
   * Refuses to extend the chain (with its next delta, or with a record of this instance's `journal`)
   * when another writer (another instance or process on the same files) has replaced or removed the base
   * file, written the next delta, or (for a delta) journaled on top of the chain's last state, since this
   * instance saved or loaded the chain: extending it would silently drop one writer's changes at the
   * next load.
   */
  private async checkChainUnchanged(chain: ChainState, journal: boolean): Promise<void> {
    const path = deltaPath(chain.basePath, chain.nextIndex);
    const base = await statIfExists(this.fs, chain.basePath);
    const replaced = base === undefined || (chain.baseMark !== undefined && markOf(base) !== chain.baseMark);
    let what = `the base file ${chain.basePath} was replaced or removed`;
    if (!replaced) {
      // The next delta: free, or a leftover of an older base that the load set aside (and nobody has
      // rewritten since). A journal record would be lost behind it as a delta would be behind a record.
      const there = await statIfExists(this.fs, path);
      const taken = there !== undefined && chain.staleMarks?.get(path) !== markOf(there);
      // A delta would be replayed before a journal on the chain's last state. A journal this instance has
      // not opened (its own is open from its first journaled save, or from the load that folded it in)
      // is another writer's, whose records the new journal would reset.
      const journaledOver = !journal
        ? (await readJournalHead(this.fs, chain.basePath).catch(() => undefined)) === chain.lastChecksum
        : this.journal === undefined && (await journalHasRecords(this.fs, chain.basePath, chain.lastChecksum));
      if (!taken && !journaledOver) return;
      what = taken ? `the delta ${path} was already written` : `the save journal ${journalDir(chain.basePath)} was extended`;
    }
    throw refusedIncremental(`${what} by another writer since this instance saved or loaded it`, chain.basePath);
  }

  /**
   * An instance that loaded a save journal without journaling itself writes its next incremental save
   * in full over the chain: BUSY (nothing written) when the journal's writer extended it since the load,
   * whose records that full save would otherwise delete unseen.
   */
  private async checkLoadedJournal(chain: ChainState): Promise<void> {
    const head = await readJournalHead(this.fs, chain.basePath).catch(() => undefined);
    if (head !== chain.lastChecksum || (await journalBytes(this.fs, chain.basePath)) !== chain.loadedJournalBytes) {
      throw refusedIncremental(`the save journal ${journalDir(chain.basePath)} was changed by another writer since this instance loaded it, and this save would write over its records`, chain.basePath);
    }
    chain.loadedJournalBytes = undefined;
  }

  /**
   * Incremental auto-save appends to the save journal instead of writing delta files; not after
   * shutdown(), which closed the journal and released its lock for good (a later load or save of this
   * instance must not take it again and hold it for the life of the process).
   */
  private get journaled(): boolean {
    return !this.journalReleased && this.options.incremental && this.options.autoSaveInterval > 0;
  }

  private async appendJournal(chain: ChainState, changes: ChangeImage, started: number, options: IncrementalSaveOptions): Promise<string> {
    // A long journal makes loads slow: past the limit, fold everything into a new full file instead.
    const limit = this.options.journalMaxBytes ?? Math.max(JOURNAL_MIN_CHECKPOINT_BYTES, chain.baseBytes / 4);
    const estimate = changes.count * (changes.dimension * 4 + 64) + changes.deletedIds.length * 32;
    if ((this.journal?.bytes ?? 0) + estimate > limit) {
      changes.release();
      return this.fullSave(options);
    }
    await this.checkChainUnchanged(chain, true);
    const journal = (this.journal ??= await SaveJournal.open(this.fs, chain.basePath, chain.lastChecksum));
    await journal.checkUnchanged();
    let bytes;
    try {
      bytes = await this.writeChanges(changes, options.onProgress, 'journaled', () => journal.append(changes));
    } catch (err) {
      // A failed append leaves the log's writer failed for good (and maybe a torn record at its end,
      // which a load treats as a save that never completed): the next save is a full one, which
      // writes every change again and starts the journal over.
      if (this.journal === journal) {
        this.journal = undefined;
        this.needFullSave = true;
        await journal.close().catch(() => undefined);
      }
      // Changes too big for one log record (large metadata, which the size estimate above leaves out):
      // nothing was appended, and a full save stores them (a shutdown's or the exit's last save too).
      if (err instanceof QuiverError && err.code === 'LIMIT_EXCEEDED') {
        changes.release();
        return this.fullSave(options);
      }
      throw err;
    }
    this.markSaved(changes.seq);
    this.emitSave({ path: this.journal.dir, kind: 'journal', bytes, count: changes.count, checksum: chain.lastChecksum, durationMs: performance.now() - started });
    return this.journal.dir;
  }

  /** SQLite save files take incremental saves in place, in one SQLite transaction. */
  private async updateSqlite(chain: ChainState, changes: ChangeImage, started: number, options: IncrementalSaveOptions): Promise<string> {
    let written;
    try {
      written = await this.writeChanges(changes, options.onProgress, 'saved', (cb) => updateSqliteState(this.fs, chain.basePath, changes, chain.lastChecksum, cb, options.signal));
    } catch (err) {
      // The file is another writer's now (its recorded checksum is not the one this instance last wrote,
      // it is gone, or holds another dimension): BUSY, as for a delta chain, instead of a full save that
      // would replace that writer's saved changes unseen.
      const othersFile = err instanceof QuiverError && !(err instanceof CorruptionError) && (err.code === 'CHECKSUM_MISMATCH' || err.code === 'DIMENSION_MISMATCH' || err.code === 'NOT_FOUND');
      if (othersFile) {
        throw refusedIncremental(`${chain.basePath} was changed, replaced or removed by another writer since this instance saved or loaded it`, chain.basePath, err);
      }
      // Still this instance's file (its checksum matched) but damaged where the update looked (a row, a
      // digest bucket, its id index): a full save of the database replaces it.
      if (err instanceof CorruptionError) {
        changes.release();
        return this.fullSave(options);
      }
      throw err;
    }
    chain.baseChecksum = written.checksum;
    chain.lastChecksum = written.checksum;
    this.markSaved(changes.seq);
    this.emitSave({ path: chain.basePath, kind: 'delta', bytes: written.bytes, count: changes.count, checksum: written.checksum, durationMs: performance.now() - started });
    return chain.basePath;
  }

  private async dropJournal(path: string): Promise<void> {
    if (this.journal) {
      const j = this.journal;
      this.journal = undefined;
      await j.close();
    }
    await removeJournal(this.fs, path);
  }

  private async readChecked(path: string, verifyChecksum: boolean | undefined, op: string, onProgress: LoadOptions['onProgress'], signal?: AbortSignal) {
    const reporter = new ProgressReporter(op, 100, onProgress);
    const st = await readState(this.fs, path, { verifyChecksum, signal, onProgress: reporter.child(0, 100) });
    const cols: Columns | DeltaColumns = st.kind === 'full' ? st.columns : st.delta;
    this.checkShape(path, cols);
    reporter.finish(`${op} complete`);
    return st;
  }

  private checkShape(path: string, cols: Columns): void {
    if (cols.dimension !== this.db.dimension) {
      throw new QuiverError('DIMENSION_MISMATCH', `${path} holds ${cols.dimension}-dimensional vectors but the database has dimension ${this.db.dimension}; create the VectorDB with dimension ${cols.dimension}.`, {
        path,
        expected: this.db.dimension,
        actual: cols.dimension,
      });
    }
    if (cols.metric !== this.db.metric) {
      throw new QuiverError('INVALID_ARGUMENT', `${path} was saved with metric '${cols.metric}' but the database uses '${this.db.metric}'; create the VectorDB with metric '${cols.metric}'.`, {
        path,
        expected: this.db.metric,
        actual: cols.metric,
      });
    }
  }

  private async doLoad(options: LoadOptions): Promise<void> {
    const path = resolve(options.path ?? this.chain?.basePath ?? this.defaultPath());
    const reporter = new ProgressReporter('load', 100, options.onProgress);
    const spec = { verifyChecksum: options.verifyChecksum, signal: options.signal, repairJournal: options.repair === true };
    // A repair takes the journal's lock, which this instance holds while its own journal is open.
    if (options.repair === true && this.journal) {
      const own = this.journal;
      this.journal = undefined;
      this.needFullSave = true;
      await own.close();
    }
    // Another process may save over these files while they are read (a reader takes no lock).
    return readUnlessReplaced(this.fs, path, (before) => {
      if (before === undefined) throw new QuiverError('NOT_FOUND', `No saved database at ${path}; save first or pass the path of an existing file.`, { path });
      return this.loadOnce(path, reporter, spec, before);
    });
  }

  private async loadOnce(path: string, reporter: ProgressReporter, spec: { verifyChecksum: boolean | undefined; signal: AbortSignal | undefined; repairJournal: boolean }, before: string): Promise<void> {
    // The base goes straight into replaceAll: its metadata may stay encoded until read.
    const base = await readState(this.fs, path, { ...spec, keepMetadataEncoded: true, onProgress: reporter.child(0, 80) });
    if (base.kind !== 'full') throw new QuiverError('INVALID_ARGUMENT', `${path} is a delta file; load its base file (the name without .delta-NNNNNN).`, { path });
    this.checkShape(path, base.columns);
    let n = 0;
    const { chain, journal, deltas, deltaNames } = await readChainExtension(this.fs, path, base.checksum, this.db, spec, () => reporter.child(80 + Math.min(n++, 19), 1));
    for (const d of chain.deltas) this.checkShape(d.path, d.delta);
    // Everything is decoded and verified; replaceAll validates all of it before it changes anything.
    const baseStat = await checkNotReplaced(this.fs, path, before);
    // An abort during the last reads (from a progress callback, say) still stops the load here.
    throwIfAborted(spec.signal, `the load of ${path} was aborted; the database is unchanged`);
    this.db.replaceAll(base.columns, { deltas, deltaNames });
    // Now, before any await: writes that land while the rest of the load runs are unsaved changes. And
    // until the chain below describes the file just loaded, the next save must be a full one of it.
    this.markSaved(this.db.seq);
    this.needFullSave = true;
    const format = base.format;
    const compression = (base.user.persistence as { compression?: CompressionType } | undefined)?.compression ?? 'none';
    // The loaded file's chain; the marks of stale deltas (what tells another writer's changes) are filled in below.
    const staleMarks = new Map<string, string>();
    const loaded: ChainState = { basePath: path, baseChecksum: base.checksum, lastChecksum: chain.lastChecksum, nextIndex: chain.deltas.length + 1, format, compression, baseBytes: baseStat.size, baseMark: markOf(baseStat), staleMarks };
    this.chain = loaded;
    const old = this.journal;
    this.journal = undefined;
    // The database is replaced: the load has succeeded, and a failure from here on only costs the
    // incremental chain (the next save is a full one), never the load's result.
    try {
      await old?.close();
      // Marks taken when each was found to be a leftover (a stat now might see another writer's new delta).
      for (const s of chain.stale) if (s.mark !== undefined) staleMarks.set(s.path, s.mark);
      // Opened now with the records just replayed: opened later without them, it would start the log over.
      // Another writer appending to it now (BUSY) keeps it: this instance does not append.
      if (journal && this.journaled) this.journal = await SaveJournal.open(this.fs, path, chain.lastChecksum, journal.bytes).catch((err: unknown) => (err instanceof QuiverError && err.code === 'BUSY' ? undefined : Promise.reject(err)));
      // A journal extends the chain only when this instance appends to it; otherwise the next save must
      // be a full one (a delta written now would be replayed before the journal it follows), checked
      // first against the journal as loaded (checkLoadedJournal: BUSY when its writer extended it).
      this.needFullSave = journal !== undefined && this.journal === undefined;
      if (this.needFullSave) loaded.loadedJournalBytes = journal?.bytes;
    } catch (err) {
      process.emitWarning(`${path} was loaded, but examining its files afterwards failed (the next save is a full one): ${err instanceof Error ? err.message : String(err)}`, 'QuiverCleanupWarning');
    }
    reporter.finish(`loaded ${this.db.len()} vectors`);
  }

  /** The database as of `seq` is saved (or loaded): changes before it are no longer needed here. */
  private markSaved(seq: number): void {
    this.savedSeq = seq;
    this.db.keepChangesSince(this, seq);
  }

  /** The save is published: a throwing listener cannot make it fail (see util/notify.ts). */
  private emitSave(ev: SaveEvent): void {
    notify(this, 'save', ev, 'DatabasePersistence');
  }
}

/** The reference-001 SnapshotMetadata view of a snapshot, with its type and base added. */
function toSnapshotMetadata(info: SnapshotInfo): SnapshotMetadata {
  return {
    id: info.id,
    name: info.name,
    timestamp: info.createdAt,
    vectorCount: info.vectorCount,
    dimension: info.dimension,
    format: 'binary',
    compressed: info.compression === 'gzip',
    fileSize: info.sizeBytes,
    checksum: info.checksum,
    metadata: info.metadata,
    type: info.type,
    baseId: info.baseId,
  };
}
