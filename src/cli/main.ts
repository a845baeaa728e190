#!/usr/bin/env node
/**
 * `quiver`: the command line of QuiverDB. `quiver verify <file>`, `quiver info <file>` and
 * `quiver convert <from> <to>`; exit code 0 on success, 1 when the data is bad (the error's code and
 * message on stderr), 2 for a usage mistake.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { QuiverError } from '../errors.js';
import { nodeFs } from '../env/node-fs.js';
import { removeLiveTempsSync } from '../env/temp-files.js';
import { UsageError, convert, inspect } from './commands.js';

const USAGE = `usage: quiver <command> [options]

  verify <file> [--format F]        read the whole file and check every checksum it carries
  info <file> [--format F]          the same without checksums (structure is still checked)
  convert <from> <to> [--format F] [--from F] [--compression none|gzip|brotli] [--metric M]
                                    write <from> as <to>; the format comes from --format or <to>'s name;
                                    --metric (cosine, euclidean, dot, manhattan) is needed when <from>
                                    records none (npy, foreign JSONL/Parquet, reference-004) and <to> does
  --help, --version

Files are recognised by their bytes, not their names. Formats: binary, json, sqlite, msgpack, jsonl,
parquet, npy (read and write), reference-000, reference-004 (read).`;

/** The package's version: its package.json is two levels up from dist/cli (three from a build of the tests). */
function version(): string {
  for (const up of ['../../', '../../../']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'quiverdb' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

async function run(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        from: { type: 'string' },
        compression: { type: 'string' },
        metric: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const out = (line: string): void => {
    // After the reader of a pipe went away (see watchStdout) the rest of the output has nowhere to go.
    if (!process.stdout.destroyed) process.stdout.write(`${line}\n`);
  };
  if (values.help) return out(USAGE);
  if (values.version) return out(version());
  const [command, ...args] = positionals;
  const want = (n: number): void => {
    if (args.length !== n) throw new UsageError(`${command} takes ${n} path${n === 1 ? '' : 's'}, got ${args.length}`);
    if (args.some((a) => a === '')) throw new UsageError(`${command} got an empty path`);
  };
  switch (command) {
    case 'verify':
    case 'info':
      want(1);
      // Options of convert only: accepting them here would let a mistyped command pass silently.
      for (const flag of ['from', 'compression', 'metric'] as const) if (values[flag] !== undefined) throw new UsageError(`--${flag} is an option of convert, not of ${command}`);
      return inspect(nodeFs, args[0], { format: values.format, verify: command === 'verify' }, out);
    case 'convert':
      want(2);
      return convert(nodeFs, args[0], args[1], { format: values.format, fromFormat: values.from, compression: values.compression, metric: values.metric }, out);
    case undefined:
      throw new UsageError('no command given');
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

/**
 * A reader that stops early (`quiver verify f | head -1`) closes the pipe: the rest of the output is
 * dropped, and the command's own result still decides the exit code (a conversion that was published
 * is not a failure). Any other failure to write it (a full disk) is reported, with exit code 1.
 */
function watchStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') return;
    process.stderr.write(`quiver: the output could not be written (${err.code ?? err.message})\n`);
    process.exitCode = 1;
  });
}

/**
 * Ctrl-C (or a TERM) in the middle of a conversion: nothing was published, and the temp files it was
 * writing are removed before exiting with the shell's code for the signal (130, 143), instead of being
 * left for the next save into that directory to find.
 */
function cleanUpOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      removeLiveTempsSync();
      process.stderr.write(`quiver: interrupted (${signal}); nothing was published\n`);
      process.exit(code);
    });
  }
}

watchStdout();
cleanUpOnSignals();
run(process.argv.slice(2)).then(
  () => undefined,
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`quiver: ${err.message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof QuiverError) {
      process.stderr.write(`quiver: ${err.code}: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      throw err;
    }
  },
);
