/**
 * `npm run bench [-- --quick] [--json [file]] [--n N] [--only persistence,snapshot,store,interchange] [--markdown file]`: runs every benchmark suite and prints a table of
 * figures next to the raw-I/O baseline measured in the same run. `--quick` runs a small size once so CI
 * keeps every suite working; `--json` writes machine-readable results (to stdout or a file). Rows of
 * suite `machine`, at the start and the end, probe the machine's state (see machine.ts).
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

const args = process.argv.slice(2);
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? args[onlyIdx + 1].split(',') : undefined;
const run = (name: string) => !only || only.includes(name);
const quick = args.includes('--quick');
const jsonIdx = args.indexOf('--json');
const jsonOut = jsonIdx >= 0 ? (args[jsonIdx + 1] && !args[jsonIdx + 1].startsWith('--') ? args[jsonIdx + 1] : '-') : undefined;
const mdIdx = args.indexOf('--markdown');
const mdOut = mdIdx >= 0 ? args[mdIdx + 1] : undefined;
const nIdx = args.indexOf('--n');
const n = nIdx >= 0 ? Number(args[nIdx + 1]) : quick ? 5000 : 100_000;

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
