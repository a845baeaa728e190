/**
 * Faulting in fresh memory on a second thread. On some virtual machines the first write to each 4 KiB
 * page of a new buffer costs ~10 µs (a fault served by the host), which made filling a 153.6 MB slab
 * cost ~440 ms, more than the work of filling it. Faults on two threads proceed in parallel, so the
 * helper thread touches the pages just ahead of the thread that fills the buffer.
 */

/** Int32 words per 4 KiB page. */
const PAGE_WORDS = 1024;

/** Slots of the shared control array. */
export const PREFAULT_FRONT = 0;
export const PREFAULT_STOP = 1;

/**
 * Touches one word per page of `memory`, in order, skipping to the filler's front
 * (`control[PREFAULT_FRONT]`, a word index it publishes) when the filler is ahead, until the end or
 * until `control[PREFAULT_STOP]` is set. A compare-exchange of 0 with 0 faults the page in for writing
 * without ever changing a value the filler may have stored meanwhile.
 */
export function prefaultPages(memory: Int32Array, control: Int32Array): void {
  let i = 0;
  while (i < memory.length) {
    if (Atomics.load(control, PREFAULT_STOP) !== 0) return;
    const front = Atomics.load(control, PREFAULT_FRONT);
    if (i < front) i = front + PAGE_WORDS;
    if (i >= memory.length) return;
    Atomics.compareExchange(memory, i, 0, 0);
    i += PAGE_WORDS;
  }
}
