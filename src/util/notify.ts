/**
 * Event delivery for work that is already done. A listener that throws must not make a finished save
 * look failed, stop a schedule from re-arming, or escape as an unhandled rejection: its error becomes a
 * process warning (`QuiverListenerWarning`) and the caller carries on, as a progress callback's error
 * after the work is done does (util/progress.ts).
 */
import type { EventEmitter } from 'node:events';

/**
 * Emits `event` with `payload` to each listener in turn; true when someone listened. A listener that
 * throws, or returns a promise that rejects, becomes a warning, and the listeners after it still hear.
 */
export function notify(emitter: EventEmitter, event: string, payload: unknown, source: string): boolean {
  const warn = (err: unknown): void => {
    process.emitWarning(`a '${event}' listener of ${source} threw (the work it reports on is done): ${err instanceof Error ? err.message : String(err)}`, 'QuiverListenerWarning');
  };
  // rawListeners: calling a `once` wrapper removes it, as emit would.
  const listeners = emitter.rawListeners(event) as ((this: EventEmitter, payload: unknown) => unknown)[];
  for (const listener of listeners) {
    try {
      const r = listener.call(emitter, payload);
      if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') (r as PromiseLike<unknown>).then(undefined, warn);
    } catch (err) {
      warn(err);
    }
  }
  return listeners.length > 0;
}
