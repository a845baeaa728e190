// Runs every compiled test file under build/test with Node's own test runner.
// Node 20's runner takes no globs, so the list is gathered here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = collect('build/test');
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
const reporter = process.env.QUIVER_TEST_REPORTER ?? 'spec';
const r = spawnSync(process.execPath, ['--test', `--test-reporter=${reporter}`, '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
