/**
 * `npm run bench [-- --quick] [--json [file]] [--n N] [--only persistence,snapshot,store,interchange] [--markdown file] [--help]`: runs every benchmark suite and prints a table of
 * figures next to the raw-I/O baseline measured in the same run. `--quick` runs a small size once so CI
 * keeps every suite working; `--json` writes machine-readable results (to stdout or a file). Rows of
 * suite `machine`, at the start and the end, probe the machine's state (see machine.ts). An unknown
 * flag or suite is a usage error (exit 2) rather than a full run.
 */
import { writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, cpus } from 'node:os';
import { Report, settleIn } from './report.js';
import { benchPersistence, type BenchSettings } from './persistence.js';
import { benchSnapshots } from './snapshot.js';
import { benchStore } from './store.js';
import { benchInterchange } from './interchange.js';
import { probeMachine } from './machine.js';
import { parseArgs } from 'node:util';

const SUITES = ['persistence', 'snapshot', 'store', 'interchange'];

const USAGE = `usage: npm run bench [-- [--quick] [--json [file]] [--markdown file] [--n N] [--only ${SUITES.join(',')}]]

  --quick          small data, one round (CI's smoke run; not figures to quote)
  --json [file]    machine-readable results to file (to stdout without one; the table goes to stderr)
  --markdown file  the table as Markdown (README's benchmark table)
  --n N            entries per suite (default 100000; 5000 with --quick)
  --only a,b       run only these suites
  --help           this text`;

/** The command line, checked: a mistyped flag is a usage error, not a silent full run. */
function parseCommandLine(argv: string[]): { quick: boolean; jsonOut?: string; mdOut?: string; n?: number; only?: string[] } {
  // `--json` takes an optional file; util.parseArgs has no optional values, so a bare one means stdout.
  const args = argv.map((a, i) => (a === '--json' && (i + 1 >= argv.length || argv[i + 1].startsWith('--')) ? '--json=-' : a));
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { quick: { type: 'boolean' }, json: { type: 'string' }, markdown: { type: 'string' }, n: { type: 'string' }, only: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usageError((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const n = values.n === undefined ? undefined : Number(values.n);
  if (n !== undefined && !(Number.isSafeInteger(n) && n >= 100)) usageError(`--n must be an integer of at least 100 (got ${values.n})`);
  const only = values.only?.split(',');
  const unknown = only?.filter((name) => !SUITES.includes(name));
  if (unknown?.length) usageError(`unknown suite ${unknown.join(', ')} (the suites are ${SUITES.join(', ')})`);
  return { quick: values.quick ?? false, jsonOut: values.json, mdOut: values.markdown, n, only };
}

function usageError(message: string): never {
  console.error(`bench: ${message}\n\n${USAGE}`);
  process.exit(2);
}

const { quick, jsonOut, mdOut, n: nArg, only } = parseCommandLine(process.argv.slice(2));
const run = (name: string) => !only || only.includes(name);
const n = nArg ?? (quick ? 5000 : 100_000);

const dir = join(process.env.QUIVER_BENCH_DIR ?? tmpdir(), `quiver-bench-${process.pid}`);
mkdirSync(dir, { recursive: true });
settleIn(dir);
const settings: BenchSettings = { n, dim: 384, rounds: quick ? 1 : 3, pairedRounds: quick ? 1 : 5, queries: quick ? 20 : 200, dir };
const report = new Report({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, quick, n, dim: settings.dim });
const slabBytes = n * settings.dim * 4;
try {
  probeMachine(report, 'start', slabBytes);
  if (run('persistence')) await benchPersistence(report, settings);
  if (run('snapshot')) await benchSnapshots(report, settings);
  if (run('store')) await benchStore(report, settings);
  if (run('interchange')) await benchInterchange(report, settings);
  probeMachine(report, 'end', slabBytes);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const log = jsonOut === '-' ? (s: string) => process.stderr.write(s + '\n') : undefined;
report.print(log);
if (quick) (log ?? console.log)('(quick mode: small data, one round; a smoke run, not figures to quote)');
if (jsonOut === '-') process.stdout.write(JSON.stringify(report.toJSON(), null, 2) + '\n');
else if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report.toJSON(), null, 2) + '\n');
if (mdOut) writeFileSync(mdOut, report.toMarkdown() + '\n');
