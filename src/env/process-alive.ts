/** Whether a process id names a running process on this host (the lock's and the temp-file cleanup's one check). */

/** True unless `process.kill(pid, 0)` says ESRCH (no such process); EPERM means alive, another user's. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code !== 'ESRCH';
  }
}
