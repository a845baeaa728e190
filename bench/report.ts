/**
 * Benchmark results: one row per measured figure, printed as a table and optionally as JSON.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dropSpares } from '../src/env/spares.js';
import { settleRetired } from '../src/env/temp-files.js';
import { commitJournal, fsyncTree } from './raw.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** One measured figure. */
export interface Row {
  suite: string;
  name: string;
  value: number;
  unit: string;
  /** The raw-I/O (or other) baseline measured in the same run, in the same unit. */
  baseline?: number;
  baselineName?: string;
  /** value / baseline. */
  ratio?: number;
  /** Target the ratio (or value, when there is no baseline) must stay within. */
  target?: string;
  pass?: boolean;
  extra?: Record<string, number | string>;
}

/** Collects rows and prints them. */
export class Report {
  readonly rows: Row[] = [];

  constructor(readonly meta: Record<string, unknown>) {}

  add(row: Row): Row {
    if (row.baseline !== undefined && row.ratio === undefined && row.baseline > 0) row.ratio = row.value / row.baseline;
    this.rows.push(row);
    return row;
  }

  /** A row for "value / baseline ≤ max". */
  ratio(suite: string, name: string, value: number, unit: string, baseline: number, baselineName: string, max?: number, extra?: Row['extra']): Row {
    const ratio = baseline > 0 ? value / baseline : Infinity;
    return this.add({ suite, name, value, unit, baseline, baselineName, ratio, target: max === undefined ? undefined : `≤ ${max}×`, pass: max === undefined ? undefined : ratio <= max, extra });
  }

  print(out: (s: string) => void = (s) => process.stdout.write(s + '\n')): void {
    const fmt = (v: number | undefined, digits = 1) => (v === undefined ? '' : Number.isInteger(v) && Math.abs(v) >= 100 ? String(v) : v.toFixed(digits));
    const head = ['suite', 'figure', 'value', 'unit', 'baseline', 'ratio', 'target', 'ok'];
    const lines = this.rows.map((r) => [
      r.suite,
      r.name,
      fmt(r.value),
      r.unit,
      r.baseline === undefined ? '' : `${fmt(r.baseline)} (${r.baselineName ?? 'raw'})`,
      r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
      r.target ?? '',
      r.pass === undefined ? '' : r.pass ? 'yes' : 'NO',
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
    out(row(head));
    out(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const l of lines) out(row(l));
  }

  /** The rows as a Markdown table (for README). */
  toMarkdown(): string {
    const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
    const out = ['| suite | figure | value | baseline | ratio | target | met |', '|---|---|---|---|---|---|---|'];
    for (const r of this.rows) {
      out.push(
        `| ${r.suite} | ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit} (${r.baselineName ?? 'raw'})`} | ${r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`} | ${r.target ?? ''} | ${r.pass === undefined ? '' : r.pass ? 'yes' : '**no**'} |`,
      );
    }
    return out.join('\n');
  }

  toJSON(): unknown {
    return { ...this.meta, rows: this.rows };
  }
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

let journalDir: string | undefined;

/** Where {@link settleFs} commits the journal: a directory on the file system the benchmarks write to. */
export function settleIn(dir: string): void {
  journalDir = dir;
}

/**
 * Lets the file system finish what earlier steps left pending, outside every timing: the background
 * unlink of a file a save replaced, the data of `flushDir` written without fsync, and the freeing of
 * removed files' blocks, which ext4 (mounted with discard here) does at the next journal commit, i.e.
 * inside whichever fsync comes next. Without this the step after a removal pays for it (~50 ms for
 * 160 MB), whoever made the removal.
 *
 * It also turns the event loop once. V8 runs the scavenge that a step's allocations made due as a task
 * of the event loop, and a step of awaited calls that never waits for I/O (1,000 `await db.insert`)
 * does not turn it, so that scavenge ran at the first I/O wait of whatever was timed next: 1.2-4.9 ms
 * inside 34 of 35 incremental saves after such inserts, none of it the save's own allocation (traced
 * with a `gc` PerformanceObserver; with the turn, 3 of 35 saves still had one).
 */
export async function settleFs(flushDir?: string): Promise<void> {
  await settleRetired();
  if (flushDir) fsyncTree(flushDir);
  if (journalDir) commitJournal(journalDir);
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Collects garbage and waits until the memory it freed is back with the OS (resident size steady for
 * 25 ms, at most 1 s), so that a timed run does not pay for freeing the memory of the runs before it.
 * A process that restarts or loads once has no such garbage; several rounds in one process do. Before
 * this, each of the five timed opens of a log replay allocated a 153.6 MB slab while up to ten earlier
 * ones (and the rounds' raw-read buffers) were still waiting to be collected, and the collection and
 * unmapping of those landed inside the later opens: 562-667 ms against 420-538 ms for the first open
 * of the same runs (which started with nothing to free); with this, 14 of 15 opens took 426-511 ms.
 */
export async function settleMemory(): Promise<void> {
  collectGarbage();
  // V8 frees array buffers on a background thread after the collection: wait for the resident size to stop moving.
  let last = process.memoryUsage.rss();
  for (let waited = 0; waited < 1000; waited += 25) {
    await new Promise<void>((resolve) => setTimeout(resolve, 25));
    const now = process.memoryUsage.rss();
    if (waited >= 50 && Math.abs(now - last) < 1 << 20) return;
    last = now;
  }
}

/**
 * Ends a step that will not write its files again: their spares (the previous versions a save keeps to
 * write over next time) are unlinked now, and the file system settled, instead of a spare's unlink
 * landing, 60 s later, inside some other step's timing.
 */
export async function endStep(): Promise<void> {
  await dropSpares();
  await settleFs();
}

/** Runs `fn` `times` times (after `setup` each time) and returns the median wall time in ms. */
export async function timeMedian(times: number, fn: () => Promise<unknown> | unknown, setup?: () => Promise<unknown> | unknown): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < times; i++) {
    if (setup) await setup();
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
    await settleFs();
  }
  return median(t);
}

/**
 * Runs `raw` then `fn`, `times` times, and returns both medians: the baseline is measured next to the
 * work in every round, so drift of the disk or of other load on the machine hits both alike. With more
 * than one round, one more pair runs first and is not counted (steady state for both sides): the
 * first save into a directory took its page-cache pages from free memory, which this VM faults in at
 * ~10 µs per 4 KiB page (552 and 284 ms for the first two binary saves of the run of 2026-12-07 23:13,
 * 158-222 ms for the next three), while the baseline's first write already had the pages its
 * unpaired rounds just freed.
 */
export async function timePaired(times: number, raw: () => number, fn: () => Promise<unknown> | unknown): Promise<Paired> {
  const t: number[] = [];
  const r: number[] = [];
  const warmup = times > 1 ? 1 : 0;
  for (let i = 0; i < warmup + times; i++) {
    await settleMemory();
    r.push(raw());
    await settleFs();
    await settleMemory();
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
    await settleFs();
  }
  const rounds = t.slice(warmup);
  const rawRounds = r.slice(warmup);
  return { ms: median(rounds), rawMs: median(rawRounds), rounds, rawRounds, warmup: t.slice(0, warmup), rawWarmup: r.slice(0, warmup) };
}

/** What {@link timePaired} measured: both medians and every round's time, in round order. */
export interface Paired {
  ms: number;
  rawMs: number;
  rounds: number[];
  rawRounds: number[];
  /** The uncounted first pair, when there was one. */
  warmup: number[];
  rawWarmup: number[];
}

/**
 * A paired figure's rounds for a row's `extra` (the JSON output): every round's time and its baseline's,
 * in round order, so that a run's spread, and which side of a pair moved, can be read back later.
 */
export function pairedExtra(t: Paired, extra: Record<string, number | string> = {}): Record<string, number | string> {
  const ms = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(' ');
  const out: Record<string, number | string> = { ...extra, rounds: ms(t.rounds), rawRounds: ms(t.rawRounds) };
  if (t.warmup.length > 0) Object.assign(out, { warmup: ms(t.warmup), rawWarmup: ms(t.rawWarmup) });
  return out;
}
