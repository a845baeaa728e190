/**
 * The commands of the `quiver` CLI, over the interchange registry: each reads or writes through the
 * same code as the library (every checksum verified unless told otherwise) and writes its report to
 * `out`. They throw QuiverError for bad data and UsageError for a bad command line; main.ts maps each to its exit code.
 */
import { dirname, join, resolve } from 'node:path';
import type { FileSystem } from '../env/fs.js';
import type { ExchangeCompression, ExchangeFormat } from '../format/exchange.js';
import { EXCHANGE_COMPRESSIONS } from '../format/stream/exchange-io.js';
import { codecFor, columnsImage, detectExchangeFormat, exchangeFormats, exportImage, formatForPath } from '../interchange/index.js';
import { nameDenial, nameFor } from '../interchange/registry.js';
import { QuiverError } from '../errors.js';
import type { Metric } from '../engine/types.js';
import { METRICS } from '../engine/validate.js';
import { importSaved } from '../persistence/saved-state.js';
import { cleanLeftoverTemps } from '../persistence/delta-chain.js';

/** Where a command writes its report, a line at a time. */
export type Out = (line: string) => void;

/** A mistake in the command line itself (exit code 2), as opposed to data QuiverDB refuses (1). */
export class UsageError extends Error {}

function checkFormat(value: string | undefined, what: string): ExchangeFormat | undefined {
  if (value === undefined) return undefined;
  const known = exchangeFormats();
  if (!known.includes(value as ExchangeFormat)) throw new UsageError(`${what} '${value}' is not a format QuiverDB knows; use one of ${known.join(', ')}`);
  return value as ExchangeFormat;
}

/**
 * A failure to read `path` as a forced `--format` when its bytes say another format: the same error,
 * told that the file may be fine (a corruption message alone says to restore it).
 */
async function forcedFormatHint(fs: FileSystem, path: string, forced: ExchangeFormat | undefined, err: unknown, flag = '--format'): Promise<unknown> {
  if (forced === undefined || !(err instanceof QuiverError)) return err;
  const actual = await detectExchangeFormat(fs, path).then((d) => d.codec.format, () => undefined);
  if (actual === undefined || actual === forced) return err;
  // The same error (its class, code and details kept for callers), its message told.
  err.message = `${err.message} (read as ${flag} ${forced}, but its bytes look like ${actual}: without ${flag} it is read as what it is)`;
  return err;
}

/**
 * The source's user map for its converted copy: what a QuiverDB save recorded of its own file
 * (`persistence: { format, compression }`) is made to describe the new file, and a delta chain's link
 * (the copy is a full file) is dropped; the rest is carried over as it is.
 */
function retarget(user: Record<string, unknown>, format: ExchangeFormat, compression: ExchangeCompression): Record<string, unknown> {
  const { chain: _chain, ...rest } = user;
  const p = rest.persistence;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return rest;
  return { ...rest, persistence: { ...(p as Record<string, unknown>), format, compression } };
}

/** `n thing` or `n things`. */
function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Reads a file whole, detected by its bytes (or as `format`), and reports what it holds. With
 * `verify` (the default) every checksum the format carries is checked: a damaged file throws.
 */
export async function inspect(fs: FileSystem, path: string, opts: { format?: string; verify?: boolean }, out: Out): Promise<void> {
  const forced = checkFormat(opts.format, '--format');
  let read;
  try {
    read = await importSaved(fs, path, { format: forced, verifyChecksum: opts.verify ?? true });
  } catch (err) {
    throw await forcedFormatHint(fs, path, forced, err);
  }
  const c = read.columns;
  const withMeta = c.metadata.reduce((n, m) => (m === undefined ? n : n + 1), 0);
  out(`${path}: ${read.format}, ${plural(c.ids.length, 'entry', 'entries')} of dimension ${c.dimension}, metric ${read.metricKnown ? c.metric : 'not recorded'}, ${withMeta} with metadata`);
  if (read.deltas + read.journalRecords > 0) out(`with the changes of ${plural(read.deltas, 'delta file')} and ${plural(read.journalRecords, 'save-journal record')} beside it (read like the file; counted above)`);
  if (opts.verify === false) out('structure read (checksums not checked)');
  // The format's own file checksum (docs/FORMAT.md; for .qvdb the SHA-256 of its section directory), of
  // the file itself: not what sha256sum prints, and not covering the deltas beside it.
  else if (read.checksum !== undefined) out(`verified: file checksum ${read.checksum} (recorded in ${path}; not the SHA-256 of its bytes)`);
  else out('verified: every checksum the format carries (it records no whole-file checksum)');
}

/** Converts `from` into `to`; the target format comes from `format` or `to`'s name (e.g. `.parquet`, `.jsonl.gz`). */
export async function convert(fs: FileSystem, from: string, to: string, opts: { format?: string; fromFormat?: string; compression?: string; metric?: string }, out: Out): Promise<void> {
  const named = formatForPath(to);
  const format = checkFormat(opts.format, '--format') ?? named?.format;
  const writable = exchangeFormats().filter((f) => codecFor(f).canWrite);
  if (format === undefined) throw new UsageError(nameDenial(to, 'pass --format') ?? `cannot tell the target format from the name ${to}; pass --format (${writable.join(', ')})`);
  if (!writable.includes(format)) throw new UsageError(`--format ${format} can be read but not written; convert to one of ${writable.join(', ')}`);
  const given = opts.compression as ExchangeCompression | undefined;
  if (given !== undefined && !EXCHANGE_COMPRESSIONS.includes(given)) throw new UsageError(`--compression must be one of ${EXCHANGE_COMPRESSIONS.join(', ')}, got '${given}'`);
  // A name that tells the compression (`.jsonl.gz`) must not be given another one.
  const renamed = given === undefined || given === named?.compression ? undefined : nameFor(to, format as ExchangeFormat, given);
  if (renamed !== undefined && renamed !== to) throw new UsageError(`--compression ${given} would write ${given === 'none' ? 'an uncompressed file' : given} under the name ${to}, which says ${named!.compression === 'none' ? 'uncompressed' : named!.compression}; name it ${renamed}`);
  const compression = given ?? (named?.format === format ? named.compression : 'none');
  const metric = opts.metric as Metric | undefined;
  if (metric !== undefined && !METRICS.includes(metric)) throw new UsageError(`--metric must be one of ${METRICS.join(', ')}, got '${metric}'`);
  const forced = checkFormat(opts.fromFormat, '--from');
  // A save file is converted with its deltas and journal folded in: the state it holds, not an older one.
  let input;
  try {
    input = await importSaved(fs, from, { format: forced });
  } catch (err) {
    throw await forcedFormatHint(fs, from, forced, err, '--from');
  }
  if (input.metricKnown) {
    if (metric !== undefined && metric !== input.columns.metric) throw new UsageError(`${from} records the ${input.columns.metric} metric; --metric ${metric} would mislabel its vectors (leave it out)`);
  } else if (metric !== undefined) {
    input.columns.metric = metric;
  } else if (format !== 'npy') {
    // Stamping the reader's default would state as a fact what the source never said.
    throw new UsageError(`${from} (${input.format}) records no metric, and a ${format} file does: pass --metric (${METRICS.join(', ')}) to say which its vectors are for`);
  }
  // What an interrupted convert (or save) into that directory left behind goes first; never the file
  // being converted (a dead writer's complete temp file can be the very thing being rescued).
  const targetDir = dirname(resolve(to));
  await cleanLeftoverTemps(fs, targetDir, (name) => join(targetDir, name) === resolve(from));
  const written = await exportImage(fs, to, columnsImage(input.columns), { format, compression, user: retarget(input.user, format, compression) });
  out(`${from} (${input.format}) -> ${to} (${format}${compression === 'none' ? '' : `, ${compression}`}): ${plural(written.count, 'entry', 'entries')}, ${written.bytes} bytes`);
}
