/**
 * The kill -9 harness shared by the crash tests: runs a compiled fixture as a child process, hands every
 * stdout line to the caller, and SIGKILLs the child `delayMs` after it prints its ready line.
 */
import { spawn } from 'node:child_process';

/** How a killed (or exited) child ended. */
export interface KillOutcome {
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/**
 * Runs `script args...`, calls `onLine` for every stdout line, kills the child with SIGKILL `delayMs`
 * after the line `readyLine`. Resolves on 'close' (not 'exit'), so every line the child wrote before
 * it died has been delivered.
 */
export function runUntilKilled(script: string, args: string[], readyLine: string, delayMs: number, onLine: (line: string) => void): Promise<KillOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === readyLine) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
        onLine(line);
      }
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}
