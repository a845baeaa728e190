// Installs the locked dependencies when they are missing, so `npm test` and `npm run demo` work on a
// fresh clone as the first command. Does nothing when node_modules is already in place.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

if (!existsSync('node_modules/.package-lock.json')) {
  console.log('quiverdb: installing dependencies (npm ci)...');
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
