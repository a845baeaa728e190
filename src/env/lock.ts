/**
 * One writer per directory: a `LOCK` file created with exclusive create, naming its holder (pid,
 * hostname, start time, a random token). A second writer, in this process or another, gets LOCKED; a
 * lock whose process is dead on this host is taken over (temp file + rename, then re-read to confirm).
 * Read-only opens take no lock.
 */
import { currentBootId, isRecordedProcessAlive, processIdentity } from './process-alive.js';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { QuiverError, ioError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { ensureDirDurable } from './durable-dir.js';
import type { FileSystem } from './fs.js';

/** Name of the lock file inside a locked directory. */
export const LOCK_FILE = 'LOCK';

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** When the lock was taken (ISO 8601). */
  startedAt: string;
  /** When the holding process started (ISO 8601), to tell a reused pid from the holder. */
  processStartedAt: string;
  /** Random per-acquisition token: tells this process's own locks from leftovers of an earlier one. */
  token: string;
  /** The kernel's boot id when the lock was taken (Linux): a lock of an earlier boot is stale whatever runs under its pid. */
  bootId?: string;
  /** The holder's start time in clock ticks since boot (Linux): a live pid that started at another time is not the holder. */
  processStartTicks?: string;
}

/** A held (or, for read-only opens, a nominal) directory lock. */
export interface DirLock {
  readonly dir: string;
  readonly readOnly: boolean;
  /** The lock file's content; undefined for read-only opens. */
  readonly holder: LockHolder | undefined;
  /** Removes the lock file if it is still ours. Idempotent; a no-op for read-only opens. */
  release(): Promise<void>;
  /**
   * False when the lock file is gone (its directory removed) or names another holder (taken over): a
   * writer must stop, since what it writes no longer lands where its readers look. True for read-only
   * opens, and when the file cannot be read for another reason (that says nothing about the holder).
   */
  stillHeld(): Promise<boolean>;
}

/** Options of {@link acquireLock}. */
export interface AcquireLockOptions {
  /** Do not lock (a reader that never writes). */
  readOnly?: boolean;
  /** How long an unreadable lock file (a writer between create and write) is waited for, in ms (default 2000). */
  unreadableGraceMs?: number;
}

/** Name of the file that serializes takeovers of a stale lock. */
export const TAKEOVER_FILE = 'LOCK.takeover';

/** Tokens of this process's locks and lock attempts in progress (an attempt's takeover file is not stale). */
const liveTokens = new Set<string>();
const PROCESS_STARTED_AT = new Date(Date.now() - process.uptime() * 1000).toISOString();
const OWN_IDENTITY = processIdentity(process.pid);

export { isProcessAlive } from './process-alive.js';

function parseHolder(bytes: Uint8Array): LockHolder | undefined {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<LockHolder> | null;
    if (!v || !Number.isSafeInteger(v.pid) || (v.pid as number) <= 0 || typeof v.hostname !== 'string' || typeof v.token !== 'string') return undefined;
    const h: LockHolder = { pid: v.pid as number, hostname: v.hostname, startedAt: String(v.startedAt ?? ''), processStartedAt: String(v.processStartedAt ?? ''), token: v.token };
    if (typeof v.bootId === 'string') h.bootId = v.bootId;
    if (typeof v.processStartTicks === 'string') h.processStartTicks = v.processStartTicks;
    return h;
  } catch {
    return undefined;
  }
}

function encodeHolder(h: LockHolder): Uint8Array {
  return Buffer.from(`${JSON.stringify(h)}\n`, 'utf8');
}

function lockedError(dir: string, path: string, h: LockHolder): QuiverError {
  const details = { dir, lockFile: path, pid: h.pid, hostname: h.hostname, startedAt: h.startedAt };
  if (h.pid === process.pid && h.hostname === osHostname()) {
    return new QuiverError('LOCKED', `${dir} is already open for writing in this process (pid ${h.pid}); close the other store first, or open read-only`, details);
  }
  const where = h.hostname === osHostname() ? '' : ` on host ${h.hostname} (liveness cannot be checked from here; if that process is gone, delete ${path})`;
  return new QuiverError('LOCKED', `${dir} is locked by process ${h.pid}${where}, since ${h.startedAt}; close that store first, or open read-only`, details);
}

/**
 * True when the lock described by `h` is held by nobody (same host only): its process is gone, its boot
 * is over, or its pid now names a process that started at another time (a reused pid).
 */
function isStale(h: LockHolder): boolean {
  if (h.hostname !== osHostname()) return false;
  // Our own pid with a token we do not know is a leftover of an earlier process that had our pid.
  if (h.pid === process.pid) return !liveTokens.has(h.token);
  return !isRecordedProcessAlive(h.pid, { bootId: h.bootId, startTicks: h.processStartTicks });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function readLock(fs: FileSystem, path: string): Promise<Uint8Array | undefined> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw ioError(err, 'read lock file', path);
  }
}

async function tryCreate(fs: FileSystem, dir: string, path: string, bytes: Uint8Array): Promise<boolean> {
  let created = false;
  try {
    const h = await fs.open(path, 'wx');
    created = true;
    try {
      await h.write(bytes, 0);
      await h.sync();
    } finally {
      await h.close();
    }
    await fs.syncDir(dir);
    return true;
  } catch (err) {
    if (!created && (err as { code?: unknown }).code === 'EEXIST') return false;
    if (created) await fs.unlink(path).catch(() => undefined);
    throw ioError(err, 'create lock file', path);
  }
}

/** Age of a file in ms, or undefined when it is gone. */
async function ageOf(fs: FileSystem, path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await fs.stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Locks `dir` for writing (creating the directory durably if needed), or with `readOnly` returns a
 * nominal lock without touching the disk. Throws QuiverError LOCKED, naming the holder's pid, when
 * another writer (in this process or another live one) holds it.
 */
export async function acquireLock(fs: FileSystem, dir: string, options: AcquireLockOptions = {}): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  if (options.readOnly) return { dir, readOnly: true, holder: undefined, release: async () => undefined, stillHeld: async () => true };
  await ensureDirDurable(fs, dir);
  const holder: LockHolder = {
    pid: process.pid,
    hostname: osHostname(),
    startedAt: new Date().toISOString(),
    processStartedAt: PROCESS_STARTED_AT,
    token: randomBytes(12).toString('hex'),
  };
  const bootId = currentBootId();
  if (bootId !== undefined && OWN_IDENTITY !== undefined) {
    holder.bootId = bootId;
    holder.processStartTicks = OWN_IDENTITY.startTicks;
  }
  const bytes = encodeHolder(holder);
  const grace = options.unreadableGraceMs ?? 2000;
  const giveUp = Date.now() + grace + 10_000;
  liveTokens.add(holder.token);
  try {
    for (;;) {
      if (Date.now() > giveUp) throw new QuiverError('LOCKED', `could not lock ${dir}: other processes kept changing ${path}; retry`, { dir, lockFile: path });
      if (await tryCreate(fs, dir, path, bytes)) return held(fs, dir, path, holder);
      const seen = await readLock(fs, path);
      if (!seen) continue; // released meanwhile: try to create it again
      const other = parseHolder(seen);
      if (other && !isStale(other)) throw lockedError(dir, path, other);
      if (!other) {
        // Either a writer between create and write, or one that crashed there: wait, then take over.
        const age = await ageOf(fs, path);
        if (age === undefined) continue;
        if (age < grace) {
          await sleep(20);
          continue;
        }
      }
      if (await takeOver(fs, dir, path, seen, bytes, holder.token, grace)) return held(fs, dir, path, holder);
    }
  } catch (err) {
    liveTokens.delete(holder.token);
    throw err;
  }
}

/**
 * Replaces the stale lock `seen` with ours; false when someone else changed it first. Takeovers are
 * serialized by the exclusively created TAKEOVER_FILE: the LOCK file is only ever replaced under it
 * (a fresh lock is only created where none exists), so "still the stale content" checked under it
 * stays true until our rename, and two processes finding the same dead lock cannot both win.
 */
async function takeOver(fs: FileSystem, dir: string, path: string, seen: Uint8Array, ours: Uint8Array, token: string, grace: number): Promise<boolean> {
  const mutex = join(dir, TAKEOVER_FILE);
  if (!(await tryCreate(fs, dir, mutex, ours))) {
    const m = await readLock(fs, mutex);
    const mh = m && parseHolder(m);
    // A takeover whose process died midway would block every later one.
    const dead = m !== undefined && (mh ? isStale(mh) : ((await ageOf(fs, mutex)) ?? 0) >= grace);
    if (dead) await fs.unlink(mutex).catch(() => undefined);
    else await sleep(10);
    return false;
  }
  try {
    const now = await readLock(fs, path);
    if (!now || !Buffer.from(now).equals(Buffer.from(seen))) return false;
    await writeFileAtomic(fs, path, ours);
    const after = await readLock(fs, path);
    return after !== undefined && parseHolder(after)?.token === token;
  } finally {
    await fs.unlink(mutex).catch(() => undefined);
  }
}

function held(fs: FileSystem, dir: string, path: string, holder: LockHolder): DirLock {
  let released = false;
  return {
    dir,
    readOnly: false,
    holder,
    async stillHeld(): Promise<boolean> {
      const now = await readLock(fs, path).catch(() => null);
      if (now === null) return true;
      return now !== undefined && parseHolder(now)?.token === holder.token;
    },
    async release(): Promise<void> {
      if (released) return;
      released = true;
      // The token stays live until the file is gone: an open in this process meanwhile must see a held
      // lock (LOCKED), not a stale one to take over, whose new LOCK this unlink would then remove.
      try {
        const now = await readLock(fs, path);
        // Only remove our own lock: after a takeover the file may name someone else.
        if (!now || parseHolder(now)?.token !== holder.token) return;
        try {
          await fs.unlink(path);
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'ENOENT') throw ioError(err, 'remove lock file', path);
        }
      } finally {
        liveTokens.delete(holder.token);
      }
    },
  };
}
