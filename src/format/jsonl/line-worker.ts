/**
 * Entry point of the JSONL parse helper thread (started by LinePool): parses each request with
 * parseLineRun and transfers the result back.
 */
import { parentPort } from 'node:worker_threads';
import { parseLineRun, type LineRunRequest } from './line-run.js';

if (parentPort) {
  const port = parentPort;
  port.on('message', (req: LineRunRequest) => {
    const reply = parseLineRun(req);
    port.postMessage(reply, [reply.vectors.buffer, reply.lineOf.buffer, reply.startOf.buffer] as ArrayBuffer[]);
  });
}
