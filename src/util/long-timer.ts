/**
 * Timers longer than Node's: setTimeout and setInterval take at most 2^31 - 1 ms (~24.8 days) and
 * turn any longer delay into 1 ms (with a TimeoutOverflowWarning), so a monthly schedule would fire
 * back to back. A long delay is waited out in pieces instead.
 */

/** The longest delay Node's own timers honour, in ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A pending {@link setLongTimeout}. */
export interface LongTimer {
  /** Cancels it (nothing runs afterwards). */
  clear(): void;
  /** Whether it keeps the process alive: never (false), as Node's `Timeout#hasRef` tells. */
  hasRef(): boolean;
}

/**
 * Runs `fn` once after `ms` (any finite delay), on an unref'd timer, so that it never keeps the
 * process alive. A delay over MAX_TIMER_MS is waited out in pieces of at most that.
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  let timer: NodeJS.Timeout | undefined;
  // Pieces are counted, not compared with a clock: a stepped wall clock changes nothing.
  const wait = (left: number): void => {
    const piece = Math.max(0, Math.min(left, MAX_TIMER_MS));
    timer = setTimeout(() => {
      if (left > MAX_TIMER_MS) wait(left - MAX_TIMER_MS);
      else fn();
    }, piece);
    timer.unref();
  };
  wait(ms);
  return {
    clear: () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    hasRef: () => timer?.hasRef() ?? false,
  };
}
