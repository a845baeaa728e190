/**
 * Whether a process id still names the process that wrote it (the lock's and the temp-file cleanup's
 * checks). A pid alone is ambiguous: after a reboot, or in a busy container, it is reused by an
 * unrelated process, and a lock naming it would then never be taken over. On Linux the kernel's boot id
 * and the process's start time (clock ticks since boot) tell them apart; both ignore wall-clock changes.
 * These are queries of the OS, not data I/O, so they do not go through the FileSystem seam.
 */
import { readFileSync } from 'node:fs';

/** Largest pid any OS hands out (kill(2) takes a signed 32-bit pid; Linux's own limit is 2^22). */
const MAX_PID = 0x7fffffff;

/**
 * True unless `process.kill(pid, 0)` says ESRCH (no such process); EPERM means alive, another user's.
 * A pid no process can have (not a whole number in 1..2^31-1, which process.kill refuses to send to)
 * is not alive: a lock naming one is taken over.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid < 1 || pid > MAX_PID) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code !== 'ESRCH';
  }
}

/** Which boot of the kernel, and when in it a process started: unique per process on one host. */
export interface ProcessIdentity {
  /** `/proc/sys/kernel/random/boot_id`: changes at every boot. */
  bootId: string;
  /** Field 22 of `/proc/<pid>/stat`: the process's start time in clock ticks since boot, as decimal text. */
  startTicks: string;
}

let ownBootId: string | null | undefined;

/** This boot's id, or undefined where the OS does not expose one (not Linux, no /proc). */
export function currentBootId(): string | undefined {
  if (ownBootId === undefined) {
    try {
      const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      ownBootId = /^[0-9a-f-]{8,64}$/.test(id) ? id : null;
    } catch {
      ownBootId = null;
    }
  }
  return ownBootId ?? undefined;
}

/** The identity of a running process, or undefined when it is gone or the OS does not say. */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const bootId = currentBootId();
  if (bootId === undefined || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTicks = fields[19]; // field 22; fields[0] is field 3
  return startTicks !== undefined && /^\d+$/.test(startTicks) ? { bootId, startTicks } : undefined;
}

/**
 * Whether the process that recorded `pid` (and, when it recorded them, its boot id and start ticks) is
 * still running on this host: false when the pid is free, when the recorded boot is over, or when the
 * pid now belongs to a process that started at another time. Without a recorded identity, or where
 * the OS gives none, a live pid counts as the recorder (the safe side for a lock).
 */
export function isRecordedProcessAlive(pid: number, recorded?: { bootId?: string | undefined; startTicks?: string | undefined }): boolean {
  if (!isProcessAlive(pid)) return false;
  const bootId = currentBootId();
  if (recorded?.bootId === undefined || bootId === undefined) return true;
  if (recorded.bootId !== bootId) return false;
  if (recorded.startTicks === undefined) return true;
  const now = processIdentity(pid);
  return now === undefined || now.startTicks === recorded.startTicks;
}

let bootMs: number | null | undefined;

/** Wall-clock time (ms) this boot began (`btime` of /proc/stat), or undefined where the OS does not say. */
function bootTimeMs(): number | undefined {
  if (bootMs === undefined) {
    try {
      const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
      bootMs = m ? Number(m[1]) * 1000 : null;
    } catch {
      bootMs = null;
    }
  }
  return bootMs ?? undefined;
}

/** Linux reports process start times in USER_HZ ticks, 100 per second on every architecture (a fixed ABI). */
const TICKS_PER_SECOND = 100;
/** Slack for clock granularity when comparing a file's time with a process's start. */
const START_SLACK_MS = 10_000;

/**
 * For a file that names only its writer's pid (no start ticks, so only file times can tell): whether
 * the live process under `pid` can have written it, last modified at `mtimeMs`: not when the file is
 * older than this boot or than that process. Where /proc says nothing, it can (the safe side). A stepped
 * wall clock can mislead this; names with start ticks do not need it.
 */
export function mayHaveWritten(pid: number, mtimeMs: number): boolean {
  const boot = bootTimeMs();
  if (boot === undefined) return true;
  if (mtimeMs < boot - START_SLACK_MS) return false;
  const id = processIdentity(pid);
  if (id === undefined) return true;
  return boot + (Number(id.startTicks) * 1000) / TICKS_PER_SECOND <= mtimeMs + START_SLACK_MS;
}
