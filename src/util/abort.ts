/** The one check of an AbortSignal: every long operation calls it between its steps. */
import { QuiverError, type ErrorDetails } from '../errors.js';

/** Throws QuiverError `ABORTED` when `signal` has fired; `message` says what stopped and what is unchanged. */
export function throwIfAborted(signal: AbortSignal | undefined, message: string, details?: ErrorDetails): void {
  if (signal?.aborted) throw new QuiverError('ABORTED', message, details);
}
