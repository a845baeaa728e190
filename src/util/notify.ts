/**
 * Event delivery for work that is already done. A listener that throws must not make a finished save
 * look failed, stop a schedule from re-arming, or escape as an unhandled rejection: its error becomes a
 * process warning (`QuiverListenerWarning`) and the caller carries on, as a progress callback's error
 * after the work is done does (util/progress.ts).
 */
import type { EventEmitter } from 'node:events';

/** Emits `event` with `payload`; true when someone listened. A throwing listener becomes a warning. */
export function notify(emitter: EventEmitter, event: string, payload: unknown, source: string): boolean {
  try {
    return emitter.emit(event, payload);
  } catch (err) {
    process.emitWarning(`a '${event}' listener of ${source} threw (the work it reports on is done): ${err instanceof Error ? err.message : String(err)}`, 'QuiverListenerWarning');
    return true;
  }
}
